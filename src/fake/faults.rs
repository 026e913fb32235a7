//! [`FaultServer`]: connection-level misbehaviour that tiny_http cannot
//! play, and a bare server for tests' own.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A connection-level misbehaviour, played by a [`FaultServer`] on every
/// connection after it has read a whole request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Close the connection without answering.
    CloseBeforeAnswer,
    /// Send the head of a 200 announcing 1,000 bytes, then 500 of them, then close.
    CloseMidBody,
    /// Say nothing for this long, then close.
    Stall(Duration),
    /// Send a valid 200 `{"token":"a.b.c"}` response one byte per interval.
    Trickle(Duration),
    /// A 200 whose body (`{"token":"xxx...`) is this many bytes long, streamed.
    HugeBody(u64),
    /// Send exactly these bytes as the response, then close.
    Raw(Vec<u8>),
    /// Answer a valid 200 token response that keeps the connection alive (no
    /// `Connection: close`), then close the connection this long after it
    /// (`Duration::ZERO`: at once), as a load balancer that drops kept-alive
    /// connections does. A request that arrives in between is read and
    /// counted, never answered.
    CloseAfterAnswer(Duration),
    /// Serve valid 200 token responses on kept-alive connections, closing a
    /// connection once it has been idle this long, as servers with an idle
    /// timeout do.
    IdleTimeout(Duration),
    /// Answer the first request of each connection (kept alive), then close
    /// the connection as soon as the next request on it has arrived (read
    /// and counted, never answered): an idle timeout that fires just as the
    /// client reuses the connection.
    CloseOnReuse,
}

/// A bare std server on `127.0.0.1:0`, one thread per connection, for
/// what tiny_http cannot play. Made with [`start`](Self::start), it reads
/// each request (head and `Content-Length` body), counts it, and plays its
/// [`Fault`] (closing early, stalling, trickling, streaming huge or
/// malformed responses, dropping kept-alive connections); made with
/// [`serve`](Self::serve), it hands each connection to your code (a proxy,
/// a TLS endpoint, anything else). Dropping it stops it: the listener
/// closes, every open connection is shut down, and every thread of it has
/// ended when `drop` returns.
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// The fault played, or `None` for a server of [`FaultServer::serve`].
    fault: Option<Fault>,
    requests: AtomicUsize,
    accepted: AtomicUsize,
    stop: AtomicBool,
    /// Each connection's thread and a handle to shut its socket down.
    connections: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
}

/// What a server does with each connection.
type Play = dyn Fn(&TcpStream, &Shared) + Send + Sync;

impl FaultServer {
    /// Starts the server; every connection gets `fault`.
    pub fn start(fault: Fault) -> io::Result<FaultServer> {
        FaultServer::spawn(Some(fault), |stream, shared| {
            if let Some(fault) = &shared.fault {
                play(fault, stream, &shared.requests);
            }
        })
    }

    /// Starts a server that runs `serve` for each connection, on a thread of
    /// its own; the server shuts the connection down when `serve` returns.
    /// Its [`request_count`](Self::request_count) stays 0: it reads no
    /// request itself.
    pub fn serve(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> io::Result<FaultServer> {
        FaultServer::spawn(None, move |stream, _| {
            if let Ok(stream) = stream.try_clone() {
                serve(stream);
            }
        })
    }

    fn spawn(
        fault: Option<Fault>,
        play: impl Fn(&TcpStream, &Shared) + Send + Sync + 'static,
    ) -> io::Result<FaultServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            fault,
            requests: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let (accepting, play) = (Arc::clone(&shared), Arc::new(play) as Arc<Play>);
        let thread = thread::Builder::new()
            .name("signalwire-pubsub-faults".into())
            .spawn(move || accept(listener, &accepting, &play))?;
        Ok(FaultServer {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many whole requests were read so far (answered or not).
    pub fn request_count(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many connections were accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

/// The accept loop: a thread for each connection, until the server stops.
fn accept(listener: TcpListener, shared: &Arc<Shared>, play: &Arc<Play>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let (serving, play) = (Arc::clone(shared), Arc::clone(play));
        let Ok(thread) = thread::Builder::new()
            .name("signalwire-pubsub-fault-conn".into())
            .spawn(move || {
                play(&stream, &serving);
                // The list holds a clone: close the socket itself.
                let _ = stream.shutdown(std::net::Shutdown::Both);
            })
        else {
            continue;
        };
        let mut connections = lock_connections(&shared.connections);
        // Forget the connections that have ended.
        connections.retain(|(_, t)| !t.is_finished());
        connections.push((handle, thread));
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Unblock every connection's reads and writes, then wait for it.
        let connections = std::mem::take(&mut *lock_connections(&self.shared.connections));
        for (stream, thread) in connections {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for FaultServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultServer")
            .field("url", &self.url())
            .field("fault", &self.shared.fault)
            .field("request_count", &self.request_count())
            .finish()
    }
}

/// The list of connections, poisoned or not.
fn lock_connections<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TOKEN_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"token\":\"a.b.c\"}";

/// One connection: reads requests and plays the fault, until it closes.
fn play(fault: &Fault, mut stream: &TcpStream, requests: &AtomicUsize) {
    let count = || requests.fetch_add(1, Ordering::SeqCst);
    let first_wait = Duration::from_secs(5);
    if read_request(&mut stream, first_wait).is_err() {
        return;
    }
    count();
    let _ = match fault {
        Fault::CloseBeforeAnswer => Ok(()),
        Fault::CloseMidBody => stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"token\":\"")
            .and_then(|()| stream.write_all(&[b'x'; 490])),
        // Waits on the socket, so that a drop of the server ends it.
        Fault::Stall(pause) => read_request(&mut stream, *pause),
        Fault::Trickle(interval) => TOKEN_RESPONSE.iter().try_for_each(|byte| {
            thread::sleep(*interval);
            stream.write_all(&[*byte])
        }),
        Fault::HugeBody(len) => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n{{\"token\":\"");
            let chunk = [b'x'; 64 * 1024];
            let mut left = len.saturating_sub(10);
            stream.write_all(head.as_bytes()).and_then(|()| {
                while left > 0 {
                    let n = left.min(chunk.len() as u64);
                    stream.write_all(&chunk[..n as usize])?;
                    left -= n;
                }
                Ok(())
            })
        }
        Fault::Raw(bytes) => stream.write_all(bytes),
        Fault::CloseAfterAnswer(after) => stream.write_all(TOKEN_RESPONSE).map(|()| {
            // What arrives before the close is read and counted, not answered.
            let until = Instant::now() + *after;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if left.is_zero() || read_request(&mut stream, left).is_err() {
                    break;
                }
                count();
            }
        }),
        Fault::CloseOnReuse => stream.write_all(TOKEN_RESPONSE).map(|()| {
            if read_request(&mut stream, first_wait).is_ok() {
                count();
            }
        }),
        Fault::IdleTimeout(idle) => (|| loop {
            stream.write_all(TOKEN_RESPONSE)?;
            read_request(&mut stream, *idle)?;
            count();
        })(),
    };
}

/// Reads one request head and its `Content-Length` body, waiting at most
/// `wait` for each read.
fn read_request(stream: &mut &TcpStream, wait: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    io::copy(&mut stream.take(length), &mut io::sink())?;
    Ok(())
}
