//! When a failed attempt is tried again, and after how long: the policy
//! that [`Error::is_retryable`] states, carried out by [`Retries::after`]
//! from the error and the stage the attempt reached. No wait is taken that
//! would leave less than an attempt's worth of the deadline
//! ([`Deadline::has_room_for`]).

use std::time::{Duration, SystemTime};

use crate::date;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::scope::Stage;

/// Backoff before the first retry is up to this long (full jitter), doubling
/// with each retry up to [`RETRY_BACKOFF_CAP`].
pub const RETRY_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest backoff between two attempts, when the server gives no `Retry-After`.
pub const RETRY_BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Longest wait a server's `Retry-After` can ask for and be retried: a longer
/// one (or one past the call's deadline) ends the call with the error, its
/// [`retry_after`](crate::Error::retry_after) set, for the caller to schedule.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

/// The retries of one call: how many are left, and what the next attempt is.
pub(crate) struct Retries {
    allowed: u32,
    left: u32,
    stale_retry_left: bool,
    /// The attempt under way, counted from 1.
    pub(crate) attempt: u32,
    /// The attempt under way must not reuse a pooled connection.
    pub(crate) fresh_connection: bool,
}

impl Retries {
    /// A call that may retry `allowed` times, about to make its first attempt.
    pub(crate) fn new(allowed: u32) -> Retries {
        Retries {
            allowed,
            left: allowed,
            stale_retry_left: true,
            attempt: 1,
            fresh_connection: false,
        }
    }

    /// After attempt failed with `err` at `stage`: how long to wait before
    /// the next one (which `self` now describes), or `None` to give up.
    pub(crate) fn after(
        &mut self,
        err: &Error,
        stage: Stage,
        deadline: Deadline,
    ) -> Option<Duration> {
        let (delay, fresh_connection) = if stage == Stage::StalePooled && self.stale_retry_left {
            self.stale_retry_left = false;
            (Duration::ZERO, true)
        } else if self.left > 0 && err.is_retryable() {
            self.left -= 1;
            let backoff = backoff(self.allowed - self.left);
            let delay = match err.retry_after() {
                // Never earlier than the server asked, nor than the backoff;
                // if the server asks too long, the caller gets the error and
                // its `retry_after` now.
                Some(wait) if wait > RETRY_AFTER_CAP => return None,
                Some(wait) => wait.max(backoff),
                None => backoff,
            };
            (delay, false)
        } else {
            return None;
        };
        if !deadline.has_room_for(delay) {
            return None;
        }
        self.attempt = self.attempt.saturating_add(1);
        self.fresh_connection = fresh_connection;
        Some(delay)
    }
}

/// Full-jitter exponential backoff before retry number `retry` (1-based):
/// a random wait up to `min(cap, base * 2^(retry - 1))`.
pub(crate) fn backoff(retry: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let ceiling = RETRY_BACKOFF_BASE
        .saturating_mul(1 << retry.saturating_sub(1).min(16))
        .min(RETRY_BACKOFF_CAP);
    // std's RandomState is randomly keyed per thread and per call: enough
    // randomness to spread clients apart, with no `rand` crate.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(retry);
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    ceiling.mul_f64(unit)
}

/// `Retry-After` as delta-seconds (`120`) or an HTTP date in any of
/// RFC 9110's three forms, as a wait from `now` (zero for a date in the
/// past).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly many seconds are still "longer than the cap".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = date::parse_http_date(value, now)?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use std::time::UNIX_EPOCH;

    fn api(status: u16) -> ApiError {
        ApiError {
            status,
            request_id: None,
            message: None,
            errors: Vec::new(),
            body_prefix: None,
            retry_after: None,
            attempts: 1,
        }
    }

    #[test]
    fn backoff_stays_within_its_doubling_ceiling() {
        for retry in [0, 1, 2, 3, 5, 6, 30, u32::MAX] {
            let ceiling = match retry {
                0 | 1 => RETRY_BACKOFF_BASE,
                r => (RETRY_BACKOFF_BASE * 2u32.pow((r - 1).min(16))).min(RETRY_BACKOFF_CAP),
            };
            let waits: Vec<Duration> = (0..200).map(|_| backoff(retry)).collect();
            assert!(waits.iter().all(|w| *w <= ceiling), "{retry}: {waits:?}");
            // Full jitter: spread over the whole range, not stuck at an end.
            let (low, high) = (ceiling / 4, ceiling * 3 / 4);
            assert!(waits.iter().any(|w| *w < low), "{retry}");
            assert!(waits.iter().any(|w| *w > high), "{retry}");
        }
        assert_eq!(
            RETRY_BACKOFF_BASE * 2u32.pow(5),
            Duration::from_millis(6_400)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let now = at - Duration::from_secs(90);
        let ninety = Some(Duration::from_secs(90));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            ninety
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), ninety);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let huge = parse_retry_after("99999999999999999999999", now);
        assert!(huge > Some(RETRY_AFTER_CAP));
        let past = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + Duration::from_secs(5));
        assert_eq!(past, Some(Duration::ZERO));
        for bad in ["", "-1", "1.5", "soon"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn a_stale_connection_is_retried_once_at_once_on_a_new_one() {
        let deadline = Deadline::start(Duration::from_secs(30));
        let timeout = |request_sent| Error::Timeout {
            connecting: false,
            limit: Duration::from_secs(30),
            attempts: 1,
            request_sent,
        };
        let broke = timeout(true);
        let mut retries = Retries::new(0);
        assert_eq!(
            retries.after(&broke, Stage::StalePooled, deadline),
            Some(Duration::ZERO)
        );
        assert_eq!((retries.attempt, retries.fresh_connection), (2, true));
        // Once only, and a sent request that timed out is not retried.
        assert_eq!(retries.after(&broke, Stage::StalePooled, deadline), None);
        let mut retries = Retries::new(5);
        assert_eq!(retries.after(&broke, Stage::Sent, deadline), None);
        // A timeout before sending is, after a backoff, on any connection.
        let unsent = timeout(false);
        let wait = retries.after(&unsent, Stage::NotSent, deadline).unwrap();
        assert!(wait <= RETRY_BACKOFF_BASE);
        assert_eq!((retries.attempt, retries.fresh_connection), (2, false));
        // No wait that the deadline cannot hold.
        let short = Deadline::start(Duration::from_millis(100));
        assert_eq!(Retries::new(5).after(&unsent, Stage::NotSent, short), None);
    }

    #[test]
    fn a_retry_after_shorter_than_the_backoff_does_not_shorten_it() {
        let deadline = Deadline::start(Duration::from_secs(30));
        let mut retries = Retries::new(u32::MAX);
        let now = Error::from_status(ApiError {
            retry_after: Some(Duration::ZERO),
            ..api(503)
        });
        let mut waits = Vec::new();
        for _ in 0..6 {
            waits.push(retries.after(&now, Stage::Sent, deadline).unwrap());
        }
        // Full jitter draws each wait up to a doubling ceiling: six draws
        // near zero would be a storm.
        assert!(
            waits.iter().sum::<Duration>() > Duration::from_millis(100),
            "{waits:?}"
        );
        let later = Error::from_status(ApiError {
            retry_after: Some(Duration::from_secs(3)),
            ..api(503)
        });
        let wait = Retries::new(1).after(&later, Stage::Sent, deadline);
        assert_eq!(
            wait,
            Some(Duration::from_secs(3)),
            "the server's, if longer"
        );
    }
}
