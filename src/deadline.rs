//! The deadline: how a call ends by its `timeout`.
//!
//! A call's [`Deadline`] is its start plus its timeout. Every attempt, every
//! wait before a retry and every read and write keeps to it:
//!
//! - **Attempts.** No retry starts with less than 100 ms left, and no wait
//!   before one would cross the deadline ([`Deadline::has_room_for`]). Each
//!   attempt gives ureq what is left, less a margin of 10 ms (a tenth of the
//!   timeout at most), as its own global timeout ([`Deadline::start_attempt`]).
//!   The margin absorbs what makes waits end a little late: ureq starts its
//!   clock a moment after the call's, socket timeouts are rounded up to the
//!   millisecond (below), and the kernel fires a socket timeout up to one
//!   tick of its timer wheel late (4 ms at HZ=250, 8 ms at HZ=1000 for a
//!   250 ms wait, 10 ms at HZ=100).
//! - **The attempt's end**, ureq's budget plus 2 ms, is handed to the
//!   transport (recorded on the calling thread, `attempt.rs`). [`DeadlineCap`],
//!   a layer over the TCP connection (so under TLS, and carrying a proxy's
//!   CONNECT), cuts every read and write at it. ureq itself gives a proxy's
//!   CONNECT the connect budget afresh, which after a slow TCP connect could
//!   run past the deadline; everything else ureq already keeps within its
//!   budget, so the cap never binds there.
//! - **Receive waits in slices.** Linux runs a socket's receive timeout on
//!   its timer wheel, which lets a long timer fire up to an eighth late (a
//!   30 s wait may end at 33 s). [`DeadlineCap`] waits at most 250 ms at a
//!   time, a timer that fires at most one tick late (4 ms at HZ=250, 8 ms at
//!   HZ=1000, 10 ms at HZ=100), and checks the
//!   clock between slices; a timed-out receive consumed nothing, so waiting
//!   again is safe. The slice is constant, so the socket's timeout is set
//!   once and not re-armed on every call (no extra system call on a
//!   kept-alive connection).
//! - **Writes are not sliced**: std's `write_all` does not say how much it
//!   wrote before a timeout, so a write gets all the time left (rounded up
//!   to the millisecond, so that the socket's timeout changes rarely). A
//!   write blocks only when the socket's send buffer is full, which a token
//!   request (a few KiB; about 135 KiB at the API's limits, more with
//!   escaped or non-ASCII names) rarely fills; if one does block,
//!   its timeout may fire up to an eighth late.
//! - **Connecting.** The TCP connect (`poll`) and the name lookup (ureq's
//!   resolver thread, a channel with a timeout) wait on precise timers.
//!   Which limit ends a connection's set-up, the connect timeout or the
//!   deadline, is recorded when the set-up starts (`transport.rs`), and
//!   [`DeadlineCap`] records when the deadline cut a wait, so a timeout names
//!   the limit that ran out.

use std::time::{Duration, Instant};

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};
use ureq::Error;

use crate::attempt;
use crate::error::Error as CallError;

/// Shortest timeout (overall or connect) a client or a call accepts.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Longest timeout (overall or connect) a client or a call accepts: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// ureq's budget for an attempt is this much short of the time left (a
/// tenth of the timeout at most).
const MARGIN: Duration = Duration::from_millis(10);
/// The attempt's end is this far past ureq's budget: ureq starts its clock
/// a little after the attempt's.
const SLACK: Duration = Duration::from_millis(2);
/// The longest single wait for input.
const SLICE: Duration = Duration::from_millis(250);
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

    /// How long the call has run.
    pub(crate) fn elapsed(self) -> Duration {
        let started = self.end.checked_sub(self.timeout).unwrap_or(self.end);
        started.elapsed()
    }

    /// The call's timeout, the limit a timeout error names.
    pub(crate) fn timeout(self) -> Duration {
        self.timeout
    }

    /// ureq's budget for a whole call of `timeout` on one attempt: the
    /// client's agent is configured with it.
    pub(crate) fn budget_for(timeout: Duration) -> Duration {
        timeout - margin(timeout)
    }

    /// Starts an attempt on this thread: its budget for ureq (what is left,
    /// less the margin), its end recorded for the transport.
    pub(crate) fn start_attempt(self) -> Duration {
        let now = Instant::now();
        let left = self.end.saturating_duration_since(now);
        let budget = left.saturating_sub(margin(self.timeout));
        attempt::start(now + budget + SLACK);
        budget
    }

    /// Whether waiting `delay` still leaves time for an attempt worth
    /// starting.
    pub(crate) fn has_room_for(self, delay: Duration) -> bool {
        Instant::now() + delay + MIN_ATTEMPT_TIME < self.end
    }
}

/// `timeout` if it is within [`MIN_TIMEOUT`] and [`MAX_TIMEOUT`]; an
/// `Error::Config` that names `what` otherwise.
pub(crate) fn check_timeout(what: &str, timeout: Duration) -> Result<Duration, CallError> {
    match (MIN_TIMEOUT..=MAX_TIMEOUT).contains(&timeout) {
        true => Ok(timeout),
        false => Err(CallError::Config {
            message: format!(
                "{what} must be at least 10 ms and at most a day (86400 s), got {timeout:?}"
            ),
            source: None,
        }),
    }
}

fn margin(timeout: Duration) -> Duration {
    MARGIN.min(timeout / 10)
}

/// The layer over the TCP connection that keeps reads and writes within
/// the attempt and waits for input in slices (see the module's docs). As a
/// [`Connector`] (`DeadlineCap<()>`), it wraps the connection made before it
/// in the chain.
#[derive(Debug, Default)]
pub(crate) struct DeadlineCap<T = ()>(T);

impl<In: Transport> Connector<In> for DeadlineCap {
    type Out = DeadlineCap<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        Ok(chained.map(DeadlineCap))
    }
}

/// When a wait that asks for `timeout` from `now` must end, and whether
/// that is the attempt's end (which comes before what ureq asked).
fn wait_end(timeout: &NextTimeout, now: Instant) -> (Option<Instant>, bool) {
    let asked = match timeout.after {
        UreqDuration::Exact(after) => now.checked_add(after),
        UreqDuration::NotHappening => None,
    };
    match (asked, attempt::end()) {
        (Some(asked), Some(end)) if end < asked => (Some(end), true),
        (None, Some(end)) => (Some(end), true),
        (asked, _) => (asked, false),
    }
}

/// `left` rounded up to the next whole millisecond: never shorter.
fn round_up_to_ms(left: Duration) -> Duration {
    Duration::from_millis(left.as_nanos().div_ceil(1_000_000) as u64)
}

/// The error of a wait that ran out; the deadline's, if `cut`.
fn ran_out(timeout: &NextTimeout, cut: bool) -> Error {
    if cut {
        attempt::record(|p| p.deadline_hit = true);
    }
    Error::Timeout(timeout.reason)
}

impl<T: Transport> Transport for DeadlineCap<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, mut timeout: NextTimeout) -> Result<(), Error> {
        let now = Instant::now();
        let (end, cut) = wait_end(&timeout, now);
        if let Some(end) = end {
            let left = end.saturating_duration_since(now);
            if left.is_zero() {
                return Err(ran_out(&timeout, cut));
            }
            timeout.after = UreqDuration::Exact(round_up_to_ms(left));
        }
        match self.0.transmit_output(amount, timeout) {
            Err(Error::Timeout(_)) => Err(ran_out(&timeout, cut)),
            result => result,
        }
    }

    fn await_input(&mut self, mut timeout: NextTimeout) -> Result<bool, Error> {
        let mut now = Instant::now();
        let (end, cut) = wait_end(&timeout, now);
        let Some(end) = end else {
            return self.0.await_input(timeout);
        };
        loop {
            let left = end.saturating_duration_since(now);
            if left.is_zero() {
                return Err(ran_out(&timeout, cut));
            }
            timeout.after = UreqDuration::Exact(round_up_to_ms(left).min(SLICE));
            match self.0.await_input(timeout) {
                Err(Error::Timeout(_)) => now = Instant::now(),
                result => return result,
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use ureq::unversioned::transport::LazyBuffers;
    use ureq::Timeout;

    /// An inner transport that never answers: each wait sleeps the time it
    /// was given and times out. It logs the timeouts it was given.
    #[derive(Debug)]
    struct Silent {
        buffers: LazyBuffers,
        waits: Arc<Mutex<Vec<Duration>>>,
    }

    impl Transport for Silent {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, _: usize, timeout: NextTimeout) -> Result<(), Error> {
            let UreqDuration::Exact(after) = timeout.after else {
                panic!("a write with no limit")
            };
            self.waits.lock().unwrap().push(after);
            Ok(())
        }
        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            let UreqDuration::Exact(after) = timeout.after else {
                panic!("a wait with no limit")
            };
            self.waits.lock().unwrap().push(after);
            std::thread::sleep(after);
            Err(Error::Timeout(timeout.reason))
        }
        fn is_open(&mut self) -> bool {
            true
        }
    }

    fn silent() -> (DeadlineCap<Silent>, Arc<Mutex<Vec<Duration>>>) {
        let waits = Arc::default();
        let inner = Silent {
            buffers: LazyBuffers::new(64, 64),
            waits: Arc::clone(&waits),
        };
        (DeadlineCap(inner), waits)
    }

    fn after(timeout: Duration) -> NextTimeout {
        NextTimeout {
            after: UreqDuration::Exact(timeout),
            reason: Timeout::Global,
            per_read: None,
            per_write: None,
        }
    }

    #[test]
    fn long_waits_go_in_constant_slices_until_the_end() {
        attempt::start(Instant::now() + Duration::from_secs(60));
        let (mut cap, waits) = silent();
        let started = Instant::now();
        assert!(matches!(
            cap.await_input(after(Duration::from_millis(600))),
            Err(Error::Timeout(Timeout::Global))
        ));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(600), "{took:?}");
        let waits = waits.lock().unwrap().clone();
        // 250 ms at a time, the same value each time (the socket's timeout
        // is not set again), then what is left (less, on a slow machine).
        let (last, slices) = waits.split_last().unwrap();
        assert!(!slices.is_empty(), "{waits:?}");
        assert!(slices.iter().all(|w| *w == SLICE), "{waits:?}");
        assert!(*last <= SLICE, "{waits:?}");
        assert!(!attempt::progress().deadline_hit, "ureq's own limit");
    }

    #[test]
    fn the_attempt_end_cuts_waits_and_writes() {
        let (mut cap, waits) = silent();
        attempt::start(Instant::now() + Duration::from_millis(40));
        // ureq asks for 10 s; the attempt ends first.
        assert!(cap.await_input(after(Duration::from_secs(10))).is_err());
        assert!(attempt::progress().deadline_hit);
        let first = waits.lock().unwrap()[0];
        assert!(first <= Duration::from_millis(40), "{first:?}");
        // Once the attempt is over, nothing more is read or written.
        let before = waits.lock().unwrap().len();
        assert!(cap.await_input(after(Duration::from_secs(10))).is_err());
        assert!(cap
            .transmit_output(0, after(Duration::from_secs(10)))
            .is_err());
        assert_eq!(waits.lock().unwrap().len(), before);
    }

    #[test]
    fn writes_get_the_time_left_rounded_up_to_the_millisecond() {
        let (mut cap, waits) = silent();
        attempt::start(Instant::now() + Duration::from_secs(60));
        let asked = Duration::from_nanos(29_999_000_001);
        cap.transmit_output(0, after(asked)).unwrap();
        let given = waits.lock().unwrap()[0];
        assert_eq!(
            given,
            Duration::from_millis(30_000),
            "not sliced, rounded up"
        );
        for nanos in [1, 999_999, 1_000_000, 1_000_001] {
            let exact = Duration::from_nanos(nanos);
            let rounded = round_up_to_ms(exact);
            assert!(rounded >= exact && rounded - exact < Duration::from_millis(1));
        }
    }

    #[test]
    fn budgets_leave_the_margin_and_retries_need_room() {
        let deadline = Deadline::start(Duration::from_secs(30));
        let budget = deadline.start_attempt();
        assert!(budget <= Duration::from_millis(29_990), "{budget:?}");
        assert!(budget > Duration::from_secs(29), "{budget:?}");
        // The attempt's end lies 2 ms past the budget, before the deadline.
        let end = attempt::end().unwrap();
        assert!(end <= deadline.end - MARGIN + SLACK);
        assert_eq!(
            Deadline::budget_for(Duration::from_secs(30)),
            Duration::from_millis(29_990)
        );
        // A short timeout keeps nine tenths of itself.
        assert_eq!(
            Deadline::budget_for(Duration::from_millis(20)),
            Duration::from_millis(18)
        );
        assert!(deadline.has_room_for(Duration::from_secs(29)));
        assert!(!deadline.has_room_for(Duration::from_millis(29_950)));
    }
}
