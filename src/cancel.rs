//! Cancellation that interrupts: [`Cancel`] shuts down the sockets of the
//! calls it guards, and wakes them from a wait before a retry.
//!
//! A call made with [`Call::cancel_on`](crate::Call::cancel_on) is *watched*
//! for as long as it runs: its [`Watch`] sits in the call's scope on the
//! calling thread (`scope.rs`). Every connection's TCP socket is a
//! [`Socket`], made when the socket is (straight after the TCP connect,
//! before a proxy's CONNECT or a TLS handshake). A watched call *owns* the
//! sockets it uses: the one it connects, and a pooled one from the moment it
//! starts a request on it. `cancel()` marks the handle cancelled, then shuts
//! down every socket that a call it guards still owns: a blocked read or
//! write on it returns at once. A socket's owner is changed under the
//! socket's lock, and ownership ends when ureq hands the connection back to
//! its pool, so a later `cancel()` never reaches a socket that another call
//! now uses; a socket shut down this way is never pooled again. What std
//! cannot interrupt (the name lookup, the TCP connect itself) ends the call
//! as soon as it returns.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

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
        // Taken out of the list first: shutting a socket down may log, and
        // a logger may make a call on this very handle.
        let sockets: Vec<(u64, Arc<Socket>)> = (lock(&shared.sockets).iter())
            .filter_map(|(call, socket)| Some((*call, socket.upgrade()?)))
            .collect();
        for (call, socket) in sockets {
            socket.shut_down_for(call);
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

/// One call watched by a [`Cancel`]: the handle and the call's id. Dropping
/// it forgets the sockets the call owned; its [`Watcher`]s do not.
pub(crate) struct Watch(Watcher);

/// What a call's [`Watch`] does, cloned out of the call's scope so that no
/// borrow of it is held while ureq (or a logger it calls) runs.
#[derive(Clone)]
pub(crate) struct Watcher {
    shared: Arc<Shared>,
    call: u64,
}

/// The call was cancelled: what [`Watch::join`] reports.
#[derive(Debug)]
pub(crate) struct Cancelled;

impl Watch {
    /// A new call watched by `cancel`.
    pub(crate) fn new(cancel: &Cancel) -> Watch {
        static NEXT_CALL: AtomicU64 = AtomicU64::new(1);
        Watch(Watcher {
            shared: Arc::clone(&cancel.shared),
            call: NEXT_CALL.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// What the watch does, to use without holding the watch.
    pub(crate) fn watcher(&self) -> Watcher {
        self.0.clone()
    }
}

impl Watcher {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    /// Waits `delay`, or less if the call is cancelled meanwhile.
    pub(crate) fn sleep(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut sockets = lock(&self.shared.sockets);
        while !self.is_cancelled() {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                return;
            };
            sockets = match self.shared.wake.wait_timeout(sockets, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// The call now owns `socket`. An error if the call is already
    /// cancelled (the socket is then shut down).
    pub(crate) fn join(&self, socket: &Arc<Socket>) -> Result<(), Cancelled> {
        // Listed first, then owned, then the flag checked: a cancel that
        // runs meanwhile either finds the socket owned or leaves the flag
        // set for this check (and the list's lock is never held with a
        // socket's, but in `cancel`, in that order).
        lock(&self.shared.sockets).push((self.call, Arc::downgrade(socket)));
        *lock(&socket.owner) = self.call;
        if self.is_cancelled() {
            socket.shut_down_for(self.call);
            return Err(Cancelled);
        }
        Ok(())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let call = self.0.call;
        lock(&self.0.shared.sockets).retain(|(owner, _)| *owner != call);
    }
}

/// A connection's TCP socket, as calls own it and `cancel()` shuts it down.
pub(crate) struct Socket {
    /// Shuts the socket down (both directions) if it is still open.
    shutdown: Box<dyn Fn() + Send + Sync>,
    /// The watched call that owns the socket now; 0 for none.
    owner: Mutex<u64>,
    /// Shut down by a cancel: the connection is never reused.
    shut: AtomicBool,
}

impl Socket {
    /// A socket that `shutdown` shuts down.
    pub(crate) fn new(shutdown: impl Fn() + Send + Sync + 'static) -> Arc<Socket> {
        Arc::new(Socket {
            shutdown: Box::new(shutdown),
            owner: Mutex::new(0),
            shut: AtomicBool::new(false),
        })
    }

    /// Whether a cancel shut the socket down.
    pub(crate) fn is_shut(&self) -> bool {
        self.shut.load(Ordering::SeqCst)
    }

    /// No call owns the socket any more: it goes back to the pool.
    pub(crate) fn release(&self) {
        *lock(&self.owner) = 0;
    }

    /// Shuts the socket down if `call` still owns it. Marked shut under the
    /// owner's lock (so it is never pooled again), shut down after it (the
    /// shutdown may log, and a logger may make a call).
    fn shut_down_for(&self, call: u64) {
        let owned = {
            let owner = lock(&self.owner);
            let owned = *owner == call;
            if owned {
                self.shut.store(true, Ordering::SeqCst);
            }
            owned
        };
        if owned {
            (self.shutdown)();
        }
    }
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
    use std::net::{Shutdown, TcpListener, TcpStream};

    /// A socket whose write blocks: the peer never reads, and the test
    /// writes more than any buffer holds.
    fn blocked_pair() -> (Arc<TcpStream>, Arc<Socket>, TcpListener, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = Arc::new(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let (peer, _) = listener.accept().unwrap();
        let tcp = Arc::downgrade(&client);
        let socket = Socket::new(move || {
            if let Some(tcp) = tcp.upgrade() {
                let _ = tcp.shutdown(Shutdown::Both);
            }
        });
        (client, socket, listener, peer)
    }

    #[test]
    fn a_blocked_write_ends_when_its_call_is_cancelled() {
        // Loopback takes a whole request into its buffers: a write that
        // blocks is played here, on the socket a cancel shuts down.
        let (stream, socket, _listener, _peer) = blocked_pair();
        let cancel = Cancel::new();
        let canceller = cancel.clone();
        let (cancelled_at, ended_at) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let watch = Watch::new(&cancel);
                watch.watcher().join(&socket).unwrap();
                let result = (&*stream).write_all(&vec![0u8; 64 * 1024 * 1024]);
                (result, Instant::now())
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
        let (stream, socket, _listener, _peer) = blocked_pair();
        let first = Cancel::new();
        // A call owns the socket, and the connection goes back to the pool
        // while the call still runs (ureq pools it as soon as the body is
        // read): from then on the call's cancel must not reach it, whoever
        // takes the connection next.
        let watch = Watch::new(&first);
        watch.watcher().join(&socket).unwrap();
        socket.release();
        first.cancel();
        assert!(!socket.is_shut());
        (&*stream).write_all(b"still open").unwrap();
        drop(watch);
        // A call started on a cancelled handle refuses a new socket at once.
        let watch = Watch::new(&first).watcher();
        assert!(watch.is_cancelled());
        assert!(watch.join(&socket).is_err());
        assert!(socket.is_shut());
    }

    #[test]
    fn a_wait_before_a_retry_ends_at_the_cancel() {
        let cancel = Cancel::new();
        let watch = Watch::new(&cancel).watcher();
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
