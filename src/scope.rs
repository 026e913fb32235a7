//! The call in flight on this thread: everything the code below ureq knows
//! about the call under way, in one scope.
//!
//! ureq runs a call on the calling thread from start to end (its resolver
//! thread aside, which reads and records nothing), and its connector,
//! transport and resolver traits have no place for data of the call. So the
//! facts of the call under way ride on the calling thread, in one
//! thread-local: how far its attempt got ([`Progress`], recorded by the
//! transport as each step happens), when the attempt must end (read by the
//! deadline's cap), and the [`Cancel`] watching it (read by the connector and
//! the socket's owner). Nothing is guessed afterwards from an error's kind or
//! text.
//!
//! [`CallScope::enter`] installs a fresh set when a call starts, and dropping
//! the scope puts back exactly what was there before, whichever way the call
//! ends: a result, an early return, a panic unwinding out of a logger. A call
//! made inside another (by a logger that ureq calls mid-request, say) thus
//! records its own facts and leaves the outer call's as they were. No other
//! thread-local holds state of a call.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::{Cancel, Cancelled, Socket, Watch, Watcher};

/// What the server may have seen of a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// No byte of the request left the machine: name lookup, TCP connect,
    /// proxy CONNECT or TLS handshake failed (or ureq refused to start).
    NotSent,
    /// The attempt ran on a connection taken from the pool, which broke
    /// (reset, end of stream, broken pipe) before any byte of a response
    /// arrived: the server had closed it while it sat idle.
    StalePooled,
    /// The request may have reached the server.
    Sent,
}

/// The steps one attempt has reached, set by the code that takes each step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// A name lookup is under way (cleared when it succeeds).
    pub(crate) resolving: bool,
    /// A new connection is being set up (name lookup, TCP, proxy, TLS).
    pub(crate) connecting: bool,
    /// While connecting: the connect timeout, not the call's deadline, is
    /// the limit that ends the set-up first.
    pub(crate) connect_timeout_binds: bool,
    /// The call's deadline cut a wait short (whatever ureq's own reason).
    pub(crate) deadline_hit: bool,
    /// Bytes of the request were handed to the connection.
    pub(crate) written: bool,
    /// The connection had carried an earlier request (it came from the pool).
    pub(crate) reused: bool,
    /// At least one byte of a response arrived.
    pub(crate) answered: bool,
    /// The connection failed (an error other than a timeout, or the end of
    /// the stream) while sending or waiting for the response.
    pub(crate) broke: bool,
}

impl Progress {
    const NEW: Progress = Progress {
        resolving: false,
        connecting: false,
        connect_timeout_binds: false,
        deadline_hit: false,
        written: false,
        reused: false,
        answered: false,
        broke: false,
    };

    /// The stage of an attempt that failed with this progress.
    pub(crate) fn stage(self) -> Stage {
        if !self.written {
            Stage::NotSent
        } else if self.reused && self.broke && !self.answered {
            Stage::StalePooled
        } else {
            Stage::Sent
        }
    }

    /// Whether a timeout at this point is the connect timeout's (rather
    /// than the call's deadline).
    pub(crate) fn connect_timed_out(self) -> bool {
        self.connecting && self.connect_timeout_binds && !self.deadline_hit
    }
}

/// The call in flight on a thread.
struct InFlight {
    /// How far its attempt got.
    progress: Cell<Progress>,
    /// When its attempt must have ended.
    end: Cell<Option<Instant>>,
    /// The length of its request's body, in bytes.
    body_len: Cell<Option<usize>>,
    /// While a connection is set up and the connect timeout comes before the
    /// attempt's end: when the set-up must have ended.
    setup_end: Cell<Option<Instant>>,
    /// The [`Cancel`] watching it, if any.
    watch: RefCell<Option<Watch>>,
}

thread_local! {
    static IN_FLIGHT: InFlight = const {
        InFlight {
            progress: Cell::new(Progress::NEW),
            end: Cell::new(None),
            body_len: Cell::new(None),
            setup_end: Cell::new(None),
            watch: RefCell::new(None),
        }
    };
}

/// The call under way on this thread, from [`enter`](Self::enter) until
/// dropped, which restores the call it interrupted, if any. It stays on its
/// thread (it is neither `Send` nor `Sync`).
pub(crate) struct CallScope {
    /// What the call this one interrupted had in the thread-local.
    outer: Saved,
    _on_this_thread: PhantomData<*const ()>,
}

/// Everything [`InFlight`] holds, taken out of it.
struct Saved {
    progress: Progress,
    end: Option<Instant>,
    body_len: Option<usize>,
    setup_end: Option<Instant>,
    watch: Option<Watch>,
}

impl CallScope {
    /// Starts a call on this thread, watched by `cancel` if there is one.
    pub(crate) fn enter(cancel: Option<&Cancel>) -> CallScope {
        let fresh = Saved {
            progress: Progress::NEW,
            end: None,
            body_len: None,
            setup_end: None,
            watch: cancel.map(Watch::new),
        };
        CallScope {
            outer: swap(fresh),
            _on_this_thread: PhantomData,
        }
    }

    /// Whether the call's [`Cancel`], if any, was cancelled.
    pub(crate) fn is_cancelled(&self) -> bool {
        cancelled()
    }

    /// Waits `delay`, or less if the call is cancelled meanwhile.
    pub(crate) fn sleep(&self, delay: Duration) {
        match watcher() {
            Some(watcher) => watcher.sleep(delay),
            None => std::thread::sleep(delay),
        }
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        let outer = Saved {
            watch: self.outer.watch.take(),
            ..self.outer
        };
        // Dropped after the swap, outside any borrow: our watch forgets the
        // call's sockets.
        drop(swap(outer));
    }
}

/// Puts `new` in this thread's [`InFlight`] and hands back what was there.
/// The watch, the one field held in a `RefCell`, is swapped first: nothing
/// else changes if that fails (it cannot, as no borrow of it outlives a
/// function of this file).
fn swap(new: Saved) -> Saved {
    IN_FLIGHT.with(|call| {
        let watch = call.watch.replace(new.watch);
        Saved {
            watch,
            progress: call.progress.replace(new.progress),
            end: call.end.replace(new.end),
            body_len: call.body_len.replace(new.body_len),
            setup_end: call.setup_end.replace(new.setup_end),
        }
    })
}

/// The watch of the call under way on this thread, if any, cloned out: no
/// borrow is held while it is used (a shutdown logs, and a logger may make a
/// call).
fn watcher() -> Option<Watcher> {
    IN_FLIGHT.with(|call| call.watch.borrow().as_ref().map(Watch::watcher))
}

// What the code below ureq reads and records: the call in flight, whatever
// it is.

/// Starts recording a new attempt of the call under way on this thread,
/// which must end by `end` and sends a body of `body_len` bytes.
pub(crate) fn start_attempt(end: Instant, body_len: usize) {
    IN_FLIGHT.with(|call| {
        call.progress.set(Progress::NEW);
        call.end.set(Some(end));
        call.body_len.set(Some(body_len));
        call.setup_end.set(None);
    });
}

/// Records when the set-up of a connection under way must have ended
/// (`None` once it is over, or when the attempt's end comes first).
pub(crate) fn set_setup_end(end: Option<Instant>) {
    IN_FLIGHT.with(|call| call.setup_end.set(end));
}

/// The ends a wait of the attempt under way must keep to, read at once:
/// the set-up's (if a connection is being set up and the connect timeout
/// binds) and the attempt's.
pub(crate) fn ends() -> (Option<Instant>, Option<Instant>) {
    IN_FLIGHT.with(|call| (call.setup_end.get(), call.end.get()))
}

/// The length of the body the attempt under way on this thread sends.
pub(crate) fn body_len() -> Option<usize> {
    IN_FLIGHT.with(|call| call.body_len.get())
}

/// How far the attempt under way on this thread got.
pub(crate) fn progress() -> Progress {
    IN_FLIGHT.with(|call| call.progress.get())
}

/// Records a step of the attempt under way on this thread.
pub(crate) fn record(step: impl FnOnce(&mut Progress)) {
    IN_FLIGHT.with(|call| {
        let mut progress = call.progress.get();
        step(&mut progress);
        call.progress.set(progress);
    });
}

/// Whether the call under way on this thread is watched and cancelled.
pub(crate) fn cancelled() -> bool {
    watcher().is_some_and(|watcher| watcher.is_cancelled())
}

/// The call under way on this thread, if watched, now owns `socket`:
/// `Ok(true)`; `Ok(false)` if it is not watched. An error if it is
/// cancelled (the socket is then shut down).
pub(crate) fn join(socket: &Arc<Socket>) -> Result<bool, Cancelled> {
    match watcher() {
        Some(watcher) => watcher.join(socket).map(|()| true),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket() -> Arc<Socket> {
        Socket::new(|| {})
    }

    #[test]
    fn stages_and_limits_follow_the_record() {
        let _scope = CallScope::enter(None);
        start_attempt(Instant::now(), 0);
        // A fresh attempt: nothing sent, no limit to blame on connecting.
        assert_eq!(progress().stage(), Stage::NotSent);
        record(|p| p.reused = true);
        record(|p| p.broke = true);
        assert_eq!(progress().stage(), Stage::NotSent, "nothing written");
        record(|p| p.written = true);
        assert_eq!(progress().stage(), Stage::StalePooled);
        record(|p| p.answered = true);
        assert_eq!(progress().stage(), Stage::Sent);
        // A new attempt starts from nothing.
        let at = Instant::now();
        start_attempt(at, 0);
        assert_eq!((progress(), ends().1), (Progress::NEW, Some(at)));
        assert_eq!(body_len(), Some(0));

        record(|p| p.connecting = true);
        assert!(!progress().connect_timed_out(), "the deadline binds");
        record(|p| p.connect_timeout_binds = true);
        assert!(progress().connect_timed_out());
        record(|p| p.deadline_hit = true);
        assert!(!progress().connect_timed_out(), "the deadline cut it");
    }

    #[test]
    fn a_call_inside_another_leaves_the_outer_calls_facts_as_they_were() {
        let outer_cancel = Cancel::new();
        let outer = CallScope::enter(Some(&outer_cancel));
        let end = Instant::now() + Duration::from_secs(60);
        start_attempt(end, 42);
        record(|p| p.written = true);
        {
            // An unwatched call made meanwhile (from a logger, say) starts
            // from nothing and does not hand its socket to the outer call.
            let inner = CallScope::enter(None);
            assert_eq!(
                (progress(), ends().1, body_len()),
                (Progress::NEW, None, None)
            );
            start_attempt(Instant::now(), 7);
            record(|p| p.broke = true);
            assert!(!join(&socket()).unwrap());
            outer_cancel.cancel();
            assert!(!inner.is_cancelled(), "the outer call's cancel");
        }
        // The outer call's record, end, body and watch are back.
        assert!(progress().written && !progress().broke);
        assert_eq!((ends().1, body_len()), (Some(end), Some(42)));
        assert!(outer.is_cancelled());
        assert!(join(&socket()).is_err());
        drop(outer);
        assert!(!cancelled());
        assert_eq!(ends().1, None);
    }

    #[test]
    fn a_panic_unwinding_out_of_an_inner_call_restores_the_outer_one() {
        let outer = CallScope::enter(None);
        let end = Instant::now() + Duration::from_secs(60);
        start_attempt(end, 0);
        record(|p| p.reused = true);
        let caught = std::panic::catch_unwind(|| {
            let inner_cancel = Cancel::new();
            let _inner = CallScope::enter(Some(&inner_cancel));
            inner_cancel.cancel();
            record(|p| p.written = true);
            panic!("a logger panics");
        });
        assert!(caught.is_err());
        assert_eq!(progress().stage(), Stage::NotSent);
        assert!(progress().reused);
        assert_eq!(ends().1, Some(end));
        assert!(!outer.is_cancelled());
    }
}
