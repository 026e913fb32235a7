//! The deadline: how the rule [`ClientBuilder::timeout`] states is kept
//! (a call that times out ran at least its limit, and ends a few
//! milliseconds after it).
//!
//! A call's [`Deadline`] is its start plus its timeout, and it is the one
//! limit on the call's time: ureq itself is given no overall timeout, only
//! the connect timeout. The code below ureq (`transport/`) keeps every step
//! of an attempt within the attempt's end, which is the deadline:
//!
//! - **Reads and writes** of the connection are cut at the end, a proxy's
//!   CONNECT and the TLS handshake included: the cap is a layer over the TCP
//!   connection, under TLS. While a connection is set up, the set-up's own
//!   end (the connect timeout) caps them too.
//! - **Waits for input are made in slices** of at most 250 ms, the clock
//!   checked between them: Linux runs a socket's receive timeout on its
//!   timer wheel, which lets a long timer fire up to an eighth late, and
//!   counts it in ticks from the tick under way, which lets any timer fire
//!   up to a tick early. A slice that times out before the end is waited
//!   again; the slice is constant, so the socket's timeout is set once.
//! - **Writes are not sliced** (std's `write_all` does not say how much it
//!   wrote before a timeout): a write gets all the time left, and one that
//!   times out early waits out the rest before it reports the timeout.
//! - **The name lookup and the TCP connect** get the set-up's time left,
//!   rounded up, plus a millisecond per address for ureq's truncating split
//!   among addresses; which limit binds, the connect timeout or the
//!   deadline, is recorded when the set-up starts, so a timeout names the
//!   limit that ran out.
//! - **Rounding goes up.** Every time handed to a wait goes through
//!   [`round_up_to_ms`], never down.
//! - **Retries.** No retry starts with less than 100 ms left, and no wait
//!   before one would cross the deadline ([`Deadline::has_room_for`]).
//!
//! [`ClientBuilder::timeout`]: crate::ClientBuilder::timeout

use std::time::{Duration, Instant};

use crate::error::Error;

/// Shortest timeout (overall or connect) a client or a call accepts.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Longest timeout (overall or connect) a client or a call accepts: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// No retry starts with less than this left.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(100);

/// When a call must have ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    end: Instant,
    timeout: Duration,
}

impl Deadline {
    /// The deadline of a call with `timeout`, starting now.
    pub(crate) fn start(timeout: Duration) -> Deadline {
        Deadline {
            end: Instant::now() + timeout,
            timeout,
        }
    }

    /// When the call must have ended.
    pub(crate) fn end(self) -> Instant {
        self.end
    }

    /// Whether the deadline has passed.
    pub(crate) fn has_passed(self) -> bool {
        Instant::now() >= self.end
    }

    /// The call's timeout, the limit a timeout error names.
    pub(crate) fn timeout(self) -> Duration {
        self.timeout
    }

    /// Whether waiting `delay` still leaves time for an attempt worth
    /// starting.
    pub(crate) fn has_room_for(self, delay: Duration) -> bool {
        Instant::now() + delay + MIN_ATTEMPT_TIME < self.end
    }
}

/// `timeout` if it is within [`MIN_TIMEOUT`] and [`MAX_TIMEOUT`]; an
/// `Error::Config` that names `what` otherwise.
pub(crate) fn check_timeout(what: &str, timeout: Duration) -> Result<Duration, Error> {
    match (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&timeout) {
        true => Ok(timeout),
        false => Err(Error::Config {
            message: format!(
                "{what} must be at least 10 ms and at most a day (86400 s), got {timeout:?}"
            ),
            source: None,
        }),
    }
}

/// `left` rounded up to the next whole millisecond: never shorter. Every
/// time the crate hands to a wait goes through it.
pub(crate) fn round_up_to_ms(left: Duration) -> Duration {
    let millis = left.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).map_or(Duration::MAX, Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_goes_up_never_down() {
        for nanos in [1, 999_999, 1_000_000, 1_000_001, 299_950_000] {
            let exact = Duration::from_nanos(nanos);
            let rounded = round_up_to_ms(exact);
            assert!(rounded >= exact && rounded - exact < Duration::from_millis(1));
            assert_eq!(rounded.subsec_nanos() % 1_000_000, 0);
        }
        assert_eq!(round_up_to_ms(Duration::ZERO), Duration::ZERO);
        assert_eq!(round_up_to_ms(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn retries_need_room() {
        let deadline = Deadline::start(Duration::from_secs(30));
        assert!(deadline.has_room_for(Duration::from_secs(29)));
        assert!(!deadline.has_room_for(Duration::from_millis(29_950)));
        assert!(!deadline.has_passed());
        assert!(Deadline::start(MIN_TIMEOUT).end() <= Instant::now() + MIN_TIMEOUT);
    }
}
