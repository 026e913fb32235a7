//! What an attempt reached: the facts the transport records, on the calling
//! thread, as each step happens, and from which the client decides whether
//! a failed attempt may be retried and which limit ran out. Nothing is
//! guessed afterwards from an error's kind or text.
//!
//! ureq runs a call on the calling thread from start to end (its resolver
//! thread aside, which records nothing), so the attempt under way on this
//! thread is the one to record.

use std::cell::Cell;
use std::time::Instant;

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

/// The attempt under way on this thread: how far it got, and when it must
/// have ended (see `deadline.rs`).
#[derive(Clone, Copy)]
struct Attempt {
    progress: Progress,
    end: Option<Instant>,
}

thread_local! {
    static ATTEMPT: Cell<Attempt> = const {
        Cell::new(Attempt {
            progress: Progress::NEW,
            end: None,
        })
    };
}

/// Starts recording a new attempt on this thread, which must end by `end`.
pub(crate) fn start(end: Instant) {
    ATTEMPT.with(|a| {
        a.set(Attempt {
            progress: Progress::NEW,
            end: Some(end),
        })
    });
}

/// How far the attempt under way on this thread got.
pub(crate) fn progress() -> Progress {
    ATTEMPT.with(|a| a.get().progress)
}

/// When the attempt under way on this thread must have ended, if one is.
pub(crate) fn end() -> Option<Instant> {
    ATTEMPT.with(|a| a.get().end)
}

/// Records a step of the attempt under way on this thread.
pub(crate) fn record(step: impl FnOnce(&mut Progress)) {
    ATTEMPT.with(|cell| {
        let mut attempt = cell.get();
        step(&mut attempt.progress);
        cell.set(attempt);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_limits_follow_the_record() {
        start(Instant::now());
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
        start(at);
        assert_eq!((progress(), end()), (Progress::NEW, Some(at)));

        record(|p| p.connecting = true);
        assert!(!progress().connect_timed_out(), "the deadline binds");
        record(|p| p.connect_timeout_binds = true);
        assert!(progress().connect_timed_out());
        record(|p| p.deadline_hit = true);
        assert!(!progress().connect_timed_out(), "the deadline cut it first");
    }
}
