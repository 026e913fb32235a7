//! The deadline, enforced below ureq: no read or write of an attempt waits
//! past the attempt's end (or, while a connection is set up, the set-up's),
//! none ends before it, and waits for input are made in slices the kernel
//! keeps to time (how and why: `deadline.rs`).

use std::time::{Duration, Instant};

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};
use ureq::Error;

use crate::deadline::round_up_to_ms;
use crate::scope;

/// The longest single wait for input.
pub(super) const SLICE: Duration = Duration::from_millis(250);

/// The end of a wait that ureq wants to end at `asked` (`None`: no limit):
/// the first of that, the set-up's end while a connection is set up, and the
/// attempt's end; `true` if the attempt's end (the call's deadline) is the
/// one.
pub(super) fn capped(asked: Option<Instant>) -> (Option<Instant>, bool) {
    let first = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let (set_up_end, attempt_end) = scope::ends();
    let set_up = first(asked, set_up_end);
    match (set_up, attempt_end) {
        (Some(set_up), Some(end)) if end < set_up => (Some(end), true),
        (None, Some(end)) => (Some(end), true),
        (set_up, _) => (set_up, false),
    }
}

/// The end of a wait that ureq asks to last `timeout` from `now`, capped
/// at the attempt's end; `true` if that cut it.
fn wait_end(timeout: &NextTimeout, now: Instant) -> (Option<Instant>, bool) {
    capped(match timeout.after {
        UreqDuration::Exact(after) => now.checked_add(after),
        UreqDuration::NotHappening => None,
    })
}

/// The layer over the TCP connection that keeps reads and writes within
/// the attempt and waits for input in slices. As a [`Connector`]
/// (`DeadlineCap<()>`), it wraps the connection made before it in the chain.
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

/// The error of a wait that ran out; the deadline's, if `cut`.
fn ran_out(timeout: &NextTimeout, cut: bool) -> Error {
    if cut {
        scope::record(|p| p.deadline_hit = true);
    }
    Error::Timeout(timeout.reason)
}

impl<T: Transport> Transport for DeadlineCap<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    /// A write gets all the time left, rounded up to the millisecond (so
    /// that the socket's timeout rarely changes): std's `write_all` does
    /// not say how much it wrote before a timeout, so it cannot be sliced.
    /// The kernel counts a socket timeout in ticks from the tick under way,
    /// so it may fire up to a tick early: the rest is waited out before the
    /// timeout is reported (the connection is broken by then anyway).
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
            Err(Error::Timeout(_)) => {
                if let Some(early) = end.and_then(|end| end.checked_duration_since(Instant::now()))
                {
                    std::thread::sleep(early);
                }
                Err(ran_out(&timeout, cut))
            }
            result => result,
        }
    }

    /// Waits at most [`SLICE`] at a time, the clock checked between slices
    /// (a timed-out receive consumed nothing, so waiting again is safe), and
    /// ends once the end has passed, never before.
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
    use crate::scope::CallScope;
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
        let _scope = CallScope::enter(None);
        scope::start_attempt(Instant::now() + Duration::from_secs(60), 0);
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
        assert!(!scope::progress().deadline_hit, "ureq's own limit");
    }

    #[test]
    fn the_attempt_end_cuts_waits_and_writes_and_nothing_ends_early() {
        let _scope = CallScope::enter(None);
        let (mut cap, waits) = silent();
        let end = Instant::now() + Duration::from_millis(40);
        scope::start_attempt(end, 0);
        // A wait with no limit of ureq's, or a longer one: the attempt's
        // end ends it, not before.
        let no_limit = NextTimeout {
            after: UreqDuration::NotHappening,
            ..after(Duration::ZERO)
        };
        assert!(cap.await_input(no_limit).is_err());
        assert!(Instant::now() >= end, "ended early");
        assert!(scope::progress().deadline_hit);
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
    fn a_connections_set_up_ends_at_its_own_end_and_says_so() {
        let _scope = CallScope::enter(None);
        scope::start_attempt(Instant::now() + Duration::from_secs(60), 0);
        let set_up_end = Instant::now() + Duration::from_millis(50);
        scope::set_setup_end(Some(set_up_end));
        let (mut cap, _) = silent();
        // ureq asks for 10 s at a time (a proxy's CONNECT, a handshake).
        assert!(cap.await_input(after(Duration::from_secs(10))).is_err());
        assert!(Instant::now() >= set_up_end, "ended early");
        assert!(!scope::progress().deadline_hit, "the connect timeout's");
    }

    /// A transport whose write times out at once, as a kernel's socket
    /// timeout may, up to a tick early.
    #[derive(Debug)]
    struct EarlyTimeout(LazyBuffers);

    impl Transport for EarlyTimeout {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.0
        }
        fn transmit_output(&mut self, _: usize, timeout: NextTimeout) -> Result<(), Error> {
            Err(Error::Timeout(timeout.reason))
        }
        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            Err(Error::Timeout(timeout.reason))
        }
        fn is_open(&mut self) -> bool {
            true
        }
    }

    #[test]
    fn a_write_that_times_out_early_is_reported_at_the_end_not_before() {
        let _scope = CallScope::enter(None);
        let end = Instant::now() + Duration::from_millis(30);
        scope::start_attempt(end, 0);
        let mut cap = DeadlineCap(EarlyTimeout(LazyBuffers::new(64, 64)));
        assert!(cap
            .transmit_output(0, after(Duration::from_secs(10)))
            .is_err());
        assert!(Instant::now() >= end, "reported early");
        assert!(scope::progress().deadline_hit);
    }

    #[test]
    fn writes_get_the_time_left_rounded_up_to_the_millisecond() {
        let _scope = CallScope::enter(None);
        let (mut cap, waits) = silent();
        scope::start_attempt(Instant::now() + Duration::from_secs(60), 0);
        let asked = Duration::from_nanos(29_999_000_001);
        cap.transmit_output(0, after(asked)).unwrap();
        let given = waits.lock().unwrap()[0];
        assert_eq!(
            given,
            Duration::from_millis(30_000),
            "not sliced, rounded up"
        );
    }
}
