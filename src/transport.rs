//! The transport: ureq's connector chain, kept lean on a pooled connection.
//!
//! Three pieces plug into ureq's `unversioned` API, which ureq may change in
//! any minor release (hence `ureq = "~3.5"` in `Cargo.toml`):
//!
//! - [`LazyResolver`]: ureq 3.5 resolves before it looks in its pool (on a new
//!   thread whenever a timeout is set); this resolver only marks the address
//!   as unresolved, and [`ClientConnector`] resolves when a connection is
//!   really made.
//! - [`ClientConnector`]: ureq's own chain (CONNECT proxy, TCP, then
//!   [`DeadlineCap`] and TLS), which runs only for a new connection; it wraps
//!   connections to the API host in [`OneWrite`].
//! - [`OneWrite`]: sends the request in one write (ureq writes the head and
//!   the body separately), probes a pooled connection once instead of twice.
//!
//! Each piece records how far the attempt got, on the calling thread, as it
//! takes each step (`attempt.rs`): that decides whether a failed attempt is
//! retried and which limit a timeout names, never an error's kind or text.
//!
//! # Upgrading ureq
//!
//! Supported: ureq 3.5.x (tested with 3.5.2). Move the pin to a new minor
//! version only after this checklist; each item names what proves it.
//!
//! 1. The traits still compile as used, and `Box<dyn Transport>` still
//!    forwards `await_input`, `transmit_output`, `is_open` and `buffers`
//!    (build).
//! 2. [`ClientConnector`] chains ureq's connectors by hand as ureq's
//!    `DefaultConnector` does, less its SOCKS warning and its
//!    missing-TLS-provider checks: compare with the new `DefaultConnector`
//!    and copy any link it gained (`tests/proxy.rs`, `tests/tls.rs`, and CI's
//!    native-tls run).
//! 3. ureq still calls the resolver before its pool lookup and the connector
//!    only for a new connection (`benches/strace_roundtrip.sh`: no resolver
//!    thread per call; `tests/tls.rs`: one handshake for three calls).
//! 4. A request is still written as head then body, with a `Content-Length`
//!    header, on the calling thread (the strace count of `sendto`, 1 per
//!    call; the unit tests below check the crate's side only: one write,
//!    held bytes always sent, never twice; `tests/faults.rs` keep-alive
//!    tests: the stage is recorded on the calling thread).
//! 5. ureq still probes a pooled connection with `is_open` before reuse and
//!    when it returns it to the pool (`one_probe_per_reuse`, and the strace
//!    count of `ioctl`s).
//! 6. Request-level `max_idle_age(0)` still keeps ureq from reusing a pooled
//!    connection (in 3.5 `Pool::get` drops every idle one to the host rather
//!    than skipping it: correct, at the cost of reconnecting; no test isolates
//!    this, as the keep-alive tests have one pooled connection at a time).
//!    ureq's CONNECT connector still looks the proxy up with the resolver
//!    it is given and passes the connect's `now` and budget on unchanged
//!    ([`ClientConnector`] takes the lookup's time off the budget).
//! 7. `NextTimeout` still carries the remaining budget, `TcpTransport` still
//!    sets a socket timeout only when its value changes, and a timed-out
//!    read still consumes nothing (the strace count of `setsockopt`, about 0
//!    per call; `deadline.rs`'s unit tests check the crate's slicing only).
//! 8. `NextTimeout::reason` at connect time is still the limit that comes
//!    first (`tests/faults.rs`: a connect cut by the deadline, a connect
//!    timeout), and `TcpConnector` still registers each socket's shutdown
//!    handle straight after connecting.
//! 9. The mapping of ureq's errors to `TransportKind`
//!    (`Client::transport_error`) still covers its `Error` enum
//!    (`tests/faults.rs`, `tests/tls.rs`).
//!
//! Then run `bash .ci/run` and the round-trip bench (`benches/README.md`),
//! and widen the pin.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, Weak};

use ureq::config::Config;
use ureq::http::uri::Authority;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::time::{Duration as UreqDuration, Instant as UreqInstant};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, ShutdownHandle,
    TcpConnector, Transport,
};
use ureq::{Error, Timeout};

use crate::attempt::record;
use crate::cancel::{self, Socket};
use crate::deadline::DeadlineCap;

/// 0.0.0.0:0, never a real destination: "not resolved yet".
const UNRESOLVED: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// Past this many held bytes, [`OneWrite`] sends without waiting.
const HOLD_AT_MOST: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Resolver and connector
// ---------------------------------------------------------------------------

/// The agent's resolver: ureq calls it on every request, before its pool
/// lookup, so it only marks the addresses as unresolved.
#[derive(Debug)]
pub(crate) struct LazyResolver;

impl Resolver for LazyResolver {
    fn resolve(&self, _: &Uri, _: &Config, _: NextTimeout) -> Result<ResolvedSocketAddrs, Error> {
        let mut addrs = self.empty();
        addrs.push(UNRESOLVED);
        Ok(addrs)
    }
}

/// The agent's connector, which only runs when a new connection is needed.
/// It resolves the host first (ureq's resolver, the resolve timeout), runs
/// ureq's own connectors (CONNECT proxy, TCP, TLS) with [`DeadlineCap`]
/// over the TCP connection, and wraps connections to `host` in [`OneWrite`].
/// It records that a connection is being set up, and which limit ends the
/// set-up first: the connect timeout or the call's deadline.
/// (ureq's default chain is the same, less the SOCKS warning this crate does
/// not need: it refuses SOCKS proxies.)
#[derive(Debug)]
pub(crate) struct ClientConnector {
    chain: Box<dyn Connector<(), Out = Box<dyn Transport>>>,
    host: Authority,
}

impl ClientConnector {
    pub(crate) fn new(uri: &Uri) -> ClientConnector {
        let chain =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(DeadlineCap::default());
        // With both TLS features on, native-tls is the provider configured.
        #[cfg(feature = "native-tls")]
        let chain = chain.chain(ureq::unversioned::transport::NativeTlsConnector::default());
        #[cfg(not(feature = "native-tls"))]
        let chain = chain.chain(ureq::unversioned::transport::RustlsConnector::default());
        ClientConnector {
            chain: Box::new(chain.chain(Boxed)),
            host: uri
                .authority()
                .expect("the client's URI has a host")
                .clone(),
        }
    }
}

/// The last link of the chain: the connection, boxed.
#[derive(Debug)]
struct Boxed;

impl<In: Transport> Connector<In> for Boxed {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        Ok(chained.map(|t| Box::new(t) as Box<dyn Transport>))
    }
}

impl Connector for ClientConnector {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, Error> {
        // ureq makes the connection to a CONNECT proxy through this connector
        // too, for the target's chain: only the target's records the
        // attempt's steps, keeps the socket and gets the one wrapper.
        let target = details.uri.authority() == Some(&self.host);
        if target {
            // ureq's reason is the limit that comes first.
            let connect_timeout_binds = details.timeout.reason == Timeout::Connect;
            record(|p| {
                p.connecting = true;
                p.connect_timeout_binds = connect_timeout_binds;
            });
        }
        let lookup = Lookup::default();
        let addrs = if details.addrs[..] == [UNRESOLVED] {
            lookup.resolve(details.uri, details.config, lookup_timeout(details))?
        } else {
            // A proxy's address (looked up by ureq's CONNECT connector with
            // `lookup`), or the target behind a proxy, left unresolved.
            details.addrs.clone()
        };
        // What is left of ureq's budget after the lookups since it set it.
        let now = (details.current_time)();
        let timeout = time_left(details.timeout, details.now, now)?;
        if cancel::watched_call_cancelled() {
            return Err(cancel::cancelled());
        }
        let socket = Arc::new(Mutex::new(None));
        let register_shutdown = match target {
            true => keep_socket(details, &socket),
            false => details.register_shutdown.clone(),
        };
        let details = ConnectionDetails {
            uri: details.uri,
            addrs,
            config: details.config,
            request_level: details.request_level,
            resolver: &lookup,
            now,
            timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown,
        };
        let transport = self.chain.connect(&details, chained)?;
        if !target {
            return Ok(transport);
        }
        record(|p| p.connecting = false);
        let socket = socket.lock().ok().and_then(|mut s| s.take());
        Ok(transport.map(|inner| Box::new(OneWrite::new(inner, socket)) as Box<dyn Transport>))
    }
}

/// ureq's resolver, recording that a lookup is under way, and ending a call
/// cancelled while it ran (a lookup cannot be interrupted) before it
/// connects. It looks up the target and, in ureq's CONNECT connector, the
/// proxy.
#[derive(Debug, Default)]
struct Lookup(DefaultResolver);

impl Resolver for Lookup {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        record(|p| p.resolving = true);
        let addrs = self.0.resolve(uri, config, timeout)?;
        record(|p| p.resolving = false);
        if cancel::watched_call_cancelled() {
            return Err(cancel::cancelled());
        }
        Ok(addrs)
    }
}

/// The connect's timeout, cut to the resolve timeout for the lookup.
fn lookup_timeout(details: &ConnectionDetails) -> NextTimeout {
    let mut lookup = details.timeout;
    if let Some(limit) = details.config.timeouts().resolve {
        if UreqDuration::Exact(limit) < lookup.after {
            lookup.after = UreqDuration::Exact(limit);
            lookup.reason = Timeout::Resolve;
        }
    }
    lookup
}

/// What is left at `now` of `timeout`, set at `set_at`; a timeout error
/// when nothing is (ureq would read a zero budget as "1 s").
fn time_left(
    mut timeout: NextTimeout,
    set_at: UreqInstant,
    now: UreqInstant,
) -> Result<NextTimeout, Error> {
    let UreqDuration::Exact(after) = timeout.after else {
        return Ok(timeout);
    };
    let elapsed = match (set_at, now) {
        (UreqInstant::Exact(set_at), UreqInstant::Exact(now)) => {
            now.saturating_duration_since(set_at)
        }
        _ => std::time::Duration::ZERO,
    };
    let left = after.saturating_sub(elapsed);
    if left.is_zero() {
        return Err(Error::Timeout(timeout.reason));
    }
    timeout.after = UreqDuration::Exact(left);
    Ok(timeout)
}

/// What ureq's `ConnectionDetails::register_shutdown` holds.
type RegisterShutdown = dyn Fn(Weak<dyn ShutdownHandle>) -> Result<(), Error> + Send + Sync;

/// ureq's `register_shutdown`, which TCP calls with each new socket straight
/// after connecting, wrapped: the socket is also kept in `slot` for the
/// connection's wrapper, and owned by the call watched on this thread, so
/// that a cancel reaches the proxy's CONNECT and the TLS handshake too.
fn keep_socket(
    details: &ConnectionDetails,
    slot: &Arc<Mutex<Option<Arc<Socket>>>>,
) -> Arc<RegisterShutdown> {
    let (ureq_register, slot) = (details.register_shutdown.clone(), Arc::clone(slot));
    Arc::new(move |tcp: Weak<dyn ShutdownHandle>| {
        ureq_register(tcp.clone())?;
        let socket = Socket::new(tcp);
        if let Ok(mut kept) = slot.lock() {
            *kept = Some(Arc::clone(&socket));
        }
        socket.join_watched_call().map(drop)
    })
}

// ---------------------------------------------------------------------------
// One write per request
// ---------------------------------------------------------------------------

/// Holds what ureq transmits until the request is whole (its head and the
/// `Content-Length` bytes of body), then sends it in one write. Held bytes
/// are also sent before any wait for input and once 64 KiB are held, and a
/// connection still holding bytes is never pooled, so no path leaves a
/// request unsent or sends one twice.
///
/// It skips the probe ureq makes when it returns the connection to its pool
/// right after reading (the one before reuse still runs).
struct OneWrite {
    inner: Box<dyn Transport>,
    /// The TCP socket under it, as a cancel reaches it.
    socket: Option<Arc<Socket>>,
    /// A watched call owns the socket (from its request's first write until
    /// the connection is pooled).
    owned: bool,
    held: Vec<u8>,
    /// Bytes of the request under way have been sent: any more go out at once.
    flushed: bool,
    /// The length of the request under way, once its head is held.
    expected: Option<usize>,
    /// A request is being transmitted (its response not yet awaited).
    sending: bool,
    /// The connection has carried a request before this one.
    used: bool,
    skip_probe: bool,
}

impl OneWrite {
    fn new(inner: Box<dyn Transport>, socket: Option<Arc<Socket>>) -> OneWrite {
        OneWrite {
            inner,
            owned: false,
            socket,
            held: Vec::new(),
            flushed: false,
            expected: None,
            sending: false,
            used: false,
            skip_probe: false,
        }
    }

    fn send_held(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        if self.held.is_empty() {
            return Ok(());
        }
        // Taken first: whatever happens, these bytes are never sent again
        // (the buffer comes back empty, keeping its capacity).
        let mut held = std::mem::take(&mut self.held);
        self.flushed = true;
        record(|p| p.written = true);
        let mut done = 0;
        let mut result = Ok(());
        while done < held.len() {
            let output = self.inner.buffers().output();
            let n = output.len().min(held.len() - done);
            output[..n].copy_from_slice(&held[done..done + n]);
            if let Err(e) = self.inner.transmit_output(n, timeout) {
                record_failure(&e);
                result = Err(e);
                break;
            }
            done += n;
        }
        held.clear();
        self.held = held;
        result
    }
}

/// Records that the connection broke, unless `e` is a timeout.
fn record_failure(e: &Error) {
    if !matches!(e, Error::Timeout(_)) {
        record(|p| p.broke = true);
    }
}

/// The length of the request whose start `held` is, once its head is
/// complete: the head plus its `Content-Length` (0 when there is none).
fn request_len(held: &[u8]) -> Option<usize> {
    let head_end = held.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let body = held[..head_end]
        .split(|b| *b == b'\n')
        .find_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if !name.trim_ascii().eq_ignore_ascii_case(b"content-length") {
                return None;
            }
            std::str::from_utf8(value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    head_end.checked_add(body)
}

impl Transport for OneWrite {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        if !self.sending {
            // The first bytes of a new request: the call watched on this
            // thread, if any, owns the socket from now on.
            if let Some(socket) = &self.socket {
                self.owned |= socket.join_watched_call()?;
            }
            let reused = std::mem::replace(&mut self.used, true);
            record(|p| p.reused = reused);
            self.sending = true;
            self.flushed = false;
            self.expected = None;
        }
        let output = &self.inner.buffers().output()[..amount];
        self.held.extend_from_slice(output);
        let whole = if !self.flushed {
            if self.expected.is_none() {
                self.expected = request_len(&self.held);
            }
            self.expected.is_some_and(|len| self.held.len() >= len)
        } else {
            // Past the first write (a request over 64 KiB): no more holding.
            true
        };
        if whole || self.held.len() >= HOLD_AT_MOST {
            self.send_held(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.send_held(timeout)?;
        self.sending = false;
        self.skip_probe = true;
        let result = self.inner.await_input(timeout);
        match &result {
            Ok(true) => record(|p| p.answered = true),
            Ok(false) => record(|p| p.broke = true),
            Err(e) => record_failure(e),
        }
        result
    }

    fn is_open(&mut self) -> bool {
        // Asked when ureq pools the connection and before it reuses it:
        // between two requests, no call owns the socket.
        if let Some(socket) = &self.socket {
            if std::mem::take(&mut self.owned) {
                socket.release();
            }
            if socket.is_shut() {
                return false;
            }
        }
        if !self.held.is_empty() {
            // A request never sent whole: the connection is not reusable.
            return false;
        }
        std::mem::take(&mut self.skip_probe) || self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl fmt::Debug for OneWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneWrite")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::{progress, start as start_attempt, Progress, Stage};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    use ureq::unversioned::transport::LazyBuffers;

    /// What the scripted transport saw.
    #[derive(Debug, Default)]
    struct Log {
        writes: Vec<Vec<u8>>,
        probes: usize,
        timeouts: Vec<Duration>,
    }

    /// A scripted inner transport: records writes and probes, and answers
    /// each wait for input from `answers` (bytes, end of stream or an error).
    struct Scripted {
        buffers: LazyBuffers,
        log: Arc<Mutex<Log>>,
        answers: Vec<Result<&'static [u8], Error>>,
        fail_writes: bool,
    }

    impl fmt::Debug for Scripted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Scripted")
        }
    }

    impl Transport for Scripted {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            if self.fail_writes {
                return Err(Error::Io(std::io::ErrorKind::BrokenPipe.into()));
            }
            let bytes = self.buffers.output()[..amount].to_vec();
            let mut log = self.log.lock().unwrap();
            log.writes.push(bytes);
            if let UreqDuration::Exact(d) = timeout.after {
                log.timeouts.push(d);
            }
            Ok(())
        }
        fn await_input(&mut self, _: NextTimeout) -> Result<bool, Error> {
            if self.answers.is_empty() {
                return Ok(false);
            }
            match self.answers.remove(0) {
                Ok(bytes) => {
                    let buf = self.buffers.input_append_buf();
                    buf[..bytes.len()].copy_from_slice(bytes);
                    self.buffers.input_appended(bytes.len());
                    Ok(!bytes.is_empty())
                }
                Err(e) => Err(e),
            }
        }
        fn is_open(&mut self) -> bool {
            self.log.lock().unwrap().probes += 1;
            true
        }
    }

    fn scripted(answers: Vec<Result<&'static [u8], Error>>) -> (OneWrite, Arc<Mutex<Log>>) {
        scripted_with(answers, false)
    }

    fn scripted_with(
        answers: Vec<Result<&'static [u8], Error>>,
        fail_writes: bool,
    ) -> (OneWrite, Arc<Mutex<Log>>) {
        let log = Arc::new(Mutex::new(Log::default()));
        let inner = Scripted {
            buffers: LazyBuffers::new(1024, 1024),
            log: Arc::clone(&log),
            answers,
            fail_writes,
        };
        (OneWrite::new(Box::new(inner), None), log)
    }

    fn timeout(ms: u64) -> NextTimeout {
        NextTimeout {
            after: UreqDuration::Exact(Duration::from_millis(ms)),
            reason: Timeout::Global,
            per_read: None,
            per_write: None,
        }
    }

    const HEAD: &[u8] = b"POST /api/pubsub/tokens HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\n";
    const BODY: &[u8] = b"{\"a\":1}";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";

    /// Writes `bytes` the way ureq does: into the output buffer, then transmit.
    fn transmit(t: &mut OneWrite, bytes: &[u8]) -> Result<(), Error> {
        t.buffers().output()[..bytes.len()].copy_from_slice(bytes);
        t.transmit_output(bytes.len(), timeout(1000))
    }

    /// One exchange: head, body, one wait for the response; the progress.
    fn exchange(t: &mut OneWrite) -> (Result<bool, Error>, Progress) {
        start_attempt(Instant::now() + Duration::from_secs(60));
        let result = transmit(t, HEAD)
            .and_then(|()| transmit(t, BODY))
            .and_then(|()| t.await_input(timeout(1000)));
        let consumed = t.buffers().input().len();
        t.buffers().input_consume(consumed);
        (result, progress())
    }

    #[test]
    fn the_request_goes_out_in_one_write_without_waiting_for_input() {
        let (mut t, log) = scripted(vec![]);
        start_attempt(Instant::now() + Duration::from_secs(60));
        transmit(&mut t, HEAD).unwrap();
        assert!(
            log.lock().unwrap().writes.is_empty(),
            "the head alone is held"
        );
        transmit(&mut t, BODY).unwrap();
        // Sent as soon as it is whole, whether ureq waits for input or not.
        assert_eq!(log.lock().unwrap().writes, [[HEAD, BODY].concat()]);
        assert!(progress().written);
    }

    #[test]
    fn held_bytes_are_sent_before_any_wait_and_never_twice() {
        let (mut t, log) = scripted(vec![Ok(RESPONSE)]);
        start_attempt(Instant::now() + Duration::from_secs(60));
        // A head that announces more body than ureq wrote: held until the wait.
        transmit(&mut t, b"POST / HTTP/1.1\r\ncontent-length: 99\r\n\r\nab").unwrap();
        assert!(log.lock().unwrap().writes.is_empty());
        assert!(t.await_input(timeout(1000)).unwrap());
        assert_eq!(log.lock().unwrap().writes.len(), 1);
        // Nothing left to send: another wait writes nothing.
        let _ = t.await_input(timeout(1000));
        assert_eq!(log.lock().unwrap().writes.len(), 1);
    }

    #[test]
    fn a_failed_write_is_never_repeated_and_the_connection_not_pooled() {
        let (mut t, log) = scripted(vec![]);
        start_attempt(Instant::now() + Duration::from_secs(60));
        transmit(&mut t, b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nab").unwrap();
        t.held.extend_from_slice(b"cde");
        // A connection that still holds bytes is never handed back for reuse.
        assert!(!t.is_open());
        assert!(log.lock().unwrap().writes.is_empty());

        let (mut broken, log) = scripted_with(vec![], true);
        start_attempt(Instant::now() + Duration::from_secs(60));
        assert!(transmit(&mut broken, &[HEAD, BODY].concat()).is_err());
        assert!(progress().written && progress().broke);
        assert!(broken.held.is_empty(), "failed bytes are dropped, not kept");
        // A later wait sends nothing again.
        let _ = broken.await_input(timeout(10));
        assert!(log.lock().unwrap().writes.is_empty());
    }

    #[test]
    fn one_probe_per_reuse() {
        let (mut t, log) = scripted(vec![Ok(RESPONSE), Ok(RESPONSE)]);
        exchange(&mut t).0.unwrap();
        // ureq probes when it pools the connection right after reading...
        assert!(t.is_open());
        assert_eq!(log.lock().unwrap().probes, 0);
        // ...and again before reusing it: only that one reaches the socket.
        assert!(t.is_open());
        assert_eq!(log.lock().unwrap().probes, 1);
        exchange(&mut t).0.unwrap();
        assert_eq!(log.lock().unwrap().writes.len(), 2);
    }

    #[test]
    fn stages_follow_where_the_attempt_failed() {
        // The head held, not yet written: nothing was sent, whatever fails
        // next.
        let (mut t, log) = scripted(vec![]);
        start_attempt(Instant::now() + Duration::from_secs(60));
        transmit(&mut t, HEAD).unwrap();
        assert!(log.lock().unwrap().writes.is_empty());
        assert_eq!(progress().stage(), Stage::NotSent);

        // A pooled connection closed by the server before it answered.
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Ok(b"")]);
        assert!(!exchange(&mut t).1.reused, "a new connection");
        let (result, progress) = exchange(&mut t);
        assert!(result.is_ok() && !result.unwrap());
        assert!(progress.reused && progress.broke);
        assert_eq!(progress.stage(), Stage::StalePooled);

        // Reset on a pooled connection: stale as well.
        let reset = || Error::Io(std::io::ErrorKind::ConnectionReset.into());
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Err(reset())]);
        exchange(&mut t).0.unwrap();
        assert_eq!(exchange(&mut t).1.stage(), Stage::StalePooled);

        // A fresh connection that breaks after the request: sent.
        let (mut t, _) = scripted(vec![Err(reset())]);
        assert_eq!(exchange(&mut t).1.stage(), Stage::Sent);

        // A route error after sending (host or network unreachable on the
        // read): sent, not retried, whatever its kind.
        let unreachable = Error::Io(std::io::ErrorKind::HostUnreachable.into());
        let (mut t, _) = scripted(vec![Err(unreachable)]);
        assert_eq!(exchange(&mut t).1.stage(), Stage::Sent);

        // A pooled connection that times out waiting: the server may be
        // working on it.
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Err(Error::Timeout(Timeout::Global))]);
        exchange(&mut t).0.unwrap();
        assert_eq!(exchange(&mut t).1.stage(), Stage::Sent);

        // A pooled connection that answered part of a response, then broke.
        let (mut t, _) = scripted(vec![Ok(RESPONSE), Ok(b"HTTP/1.1 2")]);
        exchange(&mut t).0.unwrap();
        let (_, progress) = exchange(&mut t);
        assert!(progress.answered);
        assert_eq!(progress.stage(), Stage::Sent);
    }

    #[test]
    fn a_connect_gets_what_is_left_after_the_lookups() {
        // ureq set the budget 2 s ago, before a slow lookup (a proxy's, in
        // its CONNECT connector): the TCP connect gets the rest, not all.
        let set_at = UreqInstant::Exact(Instant::now() - Duration::from_secs(2));
        let now = UreqInstant::now();
        let left = time_left(timeout(3_000), set_at, now).unwrap();
        let UreqDuration::Exact(left) = left.after else {
            panic!("stays exact")
        };
        assert!(
            left <= Duration::from_secs(1) && left > Duration::from_millis(900),
            "{left:?}"
        );
        assert!(matches!(
            time_left(timeout(1_500), set_at, now),
            Err(Error::Timeout(Timeout::Global))
        ));
    }

    #[test]
    fn a_lookup_that_returns_after_a_cancel_ends_the_call() {
        let config = ureq::Agent::config_builder().build();
        let uri: Uri = "http://127.0.0.1:9/".parse().unwrap();
        let cancel = crate::Cancel::new();
        let watch = crate::cancel::Watch::start(Some(&cancel));
        start_attempt(Instant::now() + Duration::from_secs(60));
        assert!(Lookup::default()
            .resolve(&uri, &config, timeout(1_000))
            .is_ok());
        cancel.cancel();
        let err = Lookup::default()
            .resolve(&uri, &config, timeout(1_000))
            .unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        assert!(!progress().resolving, "the lookup itself succeeded");
        drop(watch);
    }

    #[test]
    fn request_len_reads_content_length() {
        assert_eq!(request_len(HEAD), Some(HEAD.len() + 7));
        assert_eq!(request_len(b"GET / HTTP/1.1\r\n\r\n"), Some(18));
        assert_eq!(request_len(b"POST / HTTP/1.1\r\nContent-Length: 3"), None);
    }
}
