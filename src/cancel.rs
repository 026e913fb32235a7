//! Cancellation that interrupts: [`Cancel`] shuts down the sockets of the
//! calls it guards, and wakes them from a wait before a retry.
//!
//! A call made with [`Call::cancel_on`](crate::Call::cancel_on) is *watched*
//! on its thread for as long as it runs ([`Watch`]). Every connection's TCP
//! socket is a [`Socket`], made when the socket is (straight after the TCP
//! connect, before a proxy's CONNECT or a TLS handshake). A watched call
//! *owns* the sockets it uses: the one it connects, and a pooled one from
//! the moment it starts a request on it. `cancel()` marks the handle
//! cancelled, then shuts down every socket that a call it guards still owns:
//! a blocked read or write on it returns at once. A socket's owner is
//! changed under the socket's lock, and ownership ends when ureq hands the
//! connection back to its pool, so a later `cancel()` never reaches a socket
//! that another call now uses; a socket shut down this way is never pooled
//! again. What std cannot interrupt (the name lookup, the TCP connect
//! itself) ends the call as soon as it returns.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::ShutdownHandle;

/// A handle that cancels calls, from any thread: `cancel()` ends every call
/// made with [`Call::cancel_on`](crate::Call::cancel_on) on it, and every
/// later one, with [`Error::Cancelled`](crate::Error::Cancelled).
///
/// Clone it to hand it around: the clones are the same handle. It may guard
/// many calls at once, on many threads, and stays cancelled.
///
/// A call ends within moments of `cancel()` wherever it is: in a proxy's
/// CONNECT or the TLS handshake, sending the request, waiting for the
/// response, reading its body, or waiting to retry. Two steps cannot be
/// interrupted, and the call ends as soon as they return: the name lookup
/// (bounded by the connect timeout) and the TCP connect itself (bounded by
/// the connect timeout, or the call's timeout if shorter). A call started
/// on a cancelled handle sends nothing. Nothing is retried after a cancel.
///
/// ```
/// use signalwire_pubsub::Cancel;
///
/// let cancel = Cancel::new();
/// let on_shutdown = cancel.clone();
/// assert!(!cancel.is_cancelled());
/// on_shutdown.cancel(); // from a signal handler's thread, say
/// assert!(cancel.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct Cancel {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    cancelled: AtomicBool,
    /// The sockets the calls in flight have owned, by call; a call removes
    /// its own when it ends.
    sockets: Mutex<Vec<(u64, Weak<Socket>)>>,
    /// Wakes the calls waiting before a retry.
    wake: Condvar,
}

impl Cancel {
    /// A handle not yet cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels every call this handle guards, now and from now on.
    pub fn cancel(&self) {
        let shared = &*self.shared;
        shared.cancelled.store(true, Ordering::SeqCst);
        let sockets = lock(&shared.sockets);
        for (call, socket) in sockets.iter() {
            if let Some(socket) = socket.upgrade() {
                socket.shut_down_for(*call);
            }
        }
        shared.wake.notify_all();
    }

    /// Whether [`cancel`](Self::cancel) was called on this handle or a clone.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

thread_local! {
    /// The call watched on this thread: its handle's state and its id.
    static WATCHED: RefCell<Option<(Arc<Shared>, u64)>> = const { RefCell::new(None) };
}

/// The call under way on this thread, watched by a [`Cancel`] or not;
/// dropping it ends the watch, forgets the call's sockets, and watches
/// again what was watched before (a call made inside another, from a
/// logger, say, neither hides the outer one's watch nor takes it over).
pub(crate) struct Watch {
    watched: Option<(Arc<Shared>, u64)>,
    outer: Option<(Arc<Shared>, u64)>,
}

impl Watch {
    /// Starts a call on this thread, watched by `cancel` if there is one.
    pub(crate) fn start(cancel: Option<&Cancel>) -> Watch {
        static NEXT_CALL: AtomicU64 = AtomicU64::new(1);
        let watched = cancel.map(|cancel| {
            let call = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
            (Arc::clone(&cancel.shared), call)
        });
        let outer = WATCHED.with(|w| w.replace(watched.clone()));
        Watch { watched, outer }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        (self.watched.as_ref()).is_some_and(|(shared, _)| shared.cancelled.load(Ordering::SeqCst))
    }

    /// Waits `delay`, or less if the call is cancelled meanwhile.
    pub(crate) fn sleep(&self, delay: Duration) {
        let Some((shared, _)) = &self.watched else {
            return std::thread::sleep(delay);
        };
        let until = Instant::now() + delay;
        let mut sockets = lock(&shared.sockets);
        while !self.is_cancelled() {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                return;
            };
            sockets = match shared.wake.wait_timeout(sockets, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        WATCHED.with(|w| *w.borrow_mut() = self.outer.take());
        if let Some((shared, call)) = &self.watched {
            lock(&shared.sockets).retain(|(owner, _)| owner != call);
        }
    }
}

/// A connection's TCP socket, as calls own it and `cancel()` shuts it down.
pub(crate) struct Socket {
    tcp: Weak<dyn ShutdownHandle>,
    /// The watched call that owns the socket now; 0 for none.
    owner: Mutex<u64>,
    /// Shut down by a cancel: the connection is never reused.
    shut: AtomicBool,
}

impl Socket {
    pub(crate) fn new(tcp: Weak<dyn ShutdownHandle>) -> Arc<Socket> {
        Arc::new(Socket {
            tcp,
            owner: Mutex::new(0),
            shut: AtomicBool::new(false),
        })
    }

    /// Whether a cancel shut the socket down.
    pub(crate) fn is_shut(&self) -> bool {
        self.shut.load(Ordering::SeqCst)
    }

    /// The call watched on this thread, if any, now owns the socket. `false`
    /// if none is watched. An error if that call is already cancelled (the
    /// socket is then shut down).
    pub(crate) fn join_watched_call(self: &Arc<Socket>) -> Result<bool, ureq::Error> {
        let Some((shared, call)) = WATCHED.with(|w| w.borrow().clone()) else {
            return Ok(false);
        };
        // Listed first, then owned, then the flag checked: a cancel that
        // runs meanwhile either finds the socket owned or leaves the flag
        // set for this check (and the list's lock is never held with a
        // socket's, but in `cancel`, in that order).
        lock(&shared.sockets).push((call, Arc::downgrade(self)));
        *lock(&self.owner) = call;
        if shared.cancelled.load(Ordering::SeqCst) {
            self.shut_down_for(call);
            return Err(cancelled());
        }
        Ok(true)
    }

    /// No call owns the socket any more: it goes back to the pool.
    pub(crate) fn release(&self) {
        *lock(&self.owner) = 0;
    }

    /// Shuts the socket down if `call` still owns it.
    fn shut_down_for(&self, call: u64) {
        let owner = lock(&self.owner);
        if *owner == call {
            self.shut.store(true, Ordering::SeqCst);
            if let Some(tcp) = self.tcp.upgrade() {
                tcp.shutdown();
            }
        }
    }
}

/// Whether the call watched on this thread, if any, is cancelled.
pub(crate) fn watched_call_cancelled() -> bool {
    WATCHED.with(|w| {
        (w.borrow().as_ref()).is_some_and(|(shared, _)| shared.cancelled.load(Ordering::SeqCst))
    })
}

/// The error a connector returns for a cancelled call (the client reports
/// `Error::Cancelled` whatever ureq makes of it).
pub(crate) fn cancelled() -> ureq::Error {
    ureq::Error::Io(std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "the call was cancelled",
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    /// A socket whose write blocks: the peer never reads, and the test
    /// writes more than any buffer holds.
    fn blocked_pair() -> (Arc<TcpStream>, TcpListener, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = Arc::new(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let (peer, _) = listener.accept().unwrap();
        (client, listener, peer)
    }

    #[test]
    fn a_blocked_write_ends_when_its_call_is_cancelled() {
        // Loopback takes a whole request into its buffers: a write that
        // blocks is played here, on the socket a cancel shuts down.
        let (stream, _listener, _peer) = blocked_pair();
        let tcp: Weak<dyn ShutdownHandle> = Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>;
        let socket = Socket::new(tcp);
        let cancel = Cancel::new();
        let canceller = cancel.clone();
        let (cancelled_at, ended_at) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let watch = Watch::start(Some(&cancel));
                assert!(socket.join_watched_call().unwrap());
                let result = (&*stream).write_all(&vec![0u8; 64 * 1024 * 1024]);
                let ended = Instant::now();
                drop(watch);
                (result, ended)
            });
            // The write fills the buffers and blocks (the pacing of the
            // scenario, not a wait for a server).
            std::thread::sleep(Duration::from_millis(200));
            let at = Instant::now();
            canceller.cancel();
            let (result, ended) = writer.join().unwrap();
            assert!(result.is_err(), "the write was cut short");
            (at, ended)
        });
        let took = ended_at.saturating_duration_since(cancelled_at);
        assert!(took < Duration::from_millis(50), "{took:?}");
        assert!(socket.is_shut());
    }

    #[test]
    fn a_cancel_reaches_only_what_its_calls_own() {
        let (stream, _listener, _peer) = blocked_pair();
        let socket = Socket::new(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>);
        let first = Cancel::new();
        // A call owns the socket, and the connection goes back to the pool
        // while the call still runs (ureq pools it as soon as the body is
        // read): from then on the call's cancel must not reach it, whoever
        // takes the connection next.
        let watch = Watch::start(Some(&first));
        assert!(socket.join_watched_call().unwrap());
        socket.release();
        first.cancel();
        assert!(!socket.is_shut());
        (&*stream).write_all(b"still open").unwrap();
        drop(watch);
        // A call started on a cancelled handle refuses a new socket at once.
        let _watch = Watch::start(Some(&first));
        assert!(watched_call_cancelled());
        assert!(socket.join_watched_call().is_err());
        assert!(socket.is_shut());
    }

    #[test]
    fn a_call_inside_another_neither_hides_nor_takes_its_watch() {
        let (stream, _listener, _peer) = blocked_pair();
        let socket = Socket::new(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>);
        let outer = Cancel::new();
        let watch = Watch::start(Some(&outer));
        {
            // An unwatched call made meanwhile (from a logger, say) does not
            // hand its socket to the outer call.
            let _inner = Watch::start(None);
            assert!(!socket.join_watched_call().unwrap());
        }
        outer.cancel();
        assert!(!socket.is_shut());
        // The outer call is watched again.
        assert!(watched_call_cancelled());
        drop(watch);
        assert!(!watched_call_cancelled());
    }

    #[test]
    fn a_wait_before_a_retry_ends_at_the_cancel() {
        let cancel = Cancel::new();
        let watch = Watch::start(Some(&cancel));
        let started = Instant::now();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                cancel.cancel();
            });
            watch.sleep(Duration::from_secs(10));
        });
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(watch.is_cancelled());
        // Once cancelled, a wait returns at once.
        let started = Instant::now();
        watch.sleep(Duration::from_secs(10));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
