//! A prototype of the change proposed for `ClientBuilder::build` in
//! src/lib.rs, measured by the `roundtrip` bench (and the peers) as
//! "ureq tuned". It uses ureq's public, not-yet-semver `unversioned` API
//! (`Resolver`, `Connector`, `Transport`), which ureq only changes in minor
//! versions.
//!
//! What stock ureq 3.5 does on every call, even on a pooled connection:
//!
//! 1. Resolves the host before it looks in the pool, and with any timeout
//!    configured (the crate sets a global and a connect timeout) it resolves
//!    on a new thread: a thread spawn and join per call, plus a DNS lookup
//!    per call for a real host name.
//! 2. Sends the request head and the body in two writes (two segments with
//!    `TCP_NODELAY`, two TLS records over HTTPS): the server wakes up for
//!    the head and again for the body.
//! 3. Probes the connection twice (when it goes back to the pool, and when it
//!    comes out of it): non-blocking on, `recv`, non-blocking off, twice.
//!
//! The fix, in ~100 lines and without changing what the client sends:
//!
//! - [`ResolveOnConnect`] + [`LazyResolver`]: the agent's resolver returns a
//!   placeholder; the real lookup (ureq's own `DefaultResolver`, with the
//!   resolve timeout, reported as `Timeout::Resolve`) happens in the
//!   connector, that is only when a new connection is made.
//! - [`OneWrite`]: a transport wrapper that holds what ureq transmits until
//!   ureq first waits for input, then sends it in one write (like TCP_CORK).
//!   Optionally ([`Tuning::OneProbe`]) it also skips the probe when the
//!   connection goes back to the pool (the probe when it comes out still
//!   runs, so a connection the server closed while idle is still never
//!   reused). Only connections to the client's own host are wrapped, never
//!   the one to a CONNECT proxy (ureq makes it through the same connector):
//!   nested, the inner wrapper would skip the probe that matters.
//! - Optionally ([`Tuning::Full`]), [`OneWrite`] also rounds the remaining
//!   time it passes down up to a whole millisecond. ureq's TCP transport
//!   re-arms `SO_SNDTIMEO`/`SO_RCVTIMEO` whenever the value changes, which
//!   with a global deadline is every call; rounded, it stays the same from
//!   call to call and the two `setsockopt` per call go away. A timeout may
//!   fire up to 1 ms late.
#![allow(dead_code)]

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, SystemTime};

use signalwire_pubsub::{PubSubToken, TokenRequest};
use ureq::config::Config;
use ureq::http::uri::Authority;
use ureq::http::{HeaderValue, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};
use ureq::{Agent, Error, Timeout};

/// Port 0 on 0.0.0.0: never a real destination, so it marks "not resolved yet".
const PLACEHOLDER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// Resolves nothing: ureq calls it on every request, before its pool lookup.
#[derive(Debug, Default)]
pub struct LazyResolver;

impl Resolver for LazyResolver {
    fn resolve(&self, _: &Uri, _: &Config, _: NextTimeout) -> Result<ResolvedSocketAddrs, Error> {
        let mut addrs = self.empty();
        addrs.push(PLACEHOLDER);
        Ok(addrs)
    }
}

/// Resolves (with ureq's `DefaultResolver`) when a connection is made, then
/// runs the wrapped connector chain with the real addresses and a real
/// resolver (for CONNECT proxies).
#[derive(Debug)]
pub struct ResolveOnConnect<C>(pub C);

impl<C: Connector<Out = Box<dyn Transport>>> Connector for ResolveOnConnect<C> {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, Error> {
        let resolver = DefaultResolver::default();
        if details.addrs[..] != [PLACEHOLDER] {
            // A proxy target (left unresolved by ureq) or a proxy's own
            // connection, already resolved.
            return self.0.connect(details, chained);
        }
        // The lookup gets what ureq would have given it: the resolve timeout,
        // within the call's budget, and reports itself as `Timeout::Resolve`.
        let mut lookup = details.timeout;
        if let Some(limit) = details.config.timeouts().resolve {
            if UreqDuration::Exact(limit) < lookup.after {
                lookup.after = UreqDuration::Exact(limit);
                lookup.reason = Timeout::Resolve;
            }
        }
        let started = std::time::Instant::now();
        let addrs = resolver.resolve(details.uri, details.config, lookup)?;
        // What is left of the connect budget after the lookup.
        let mut timeout = details.timeout;
        if let UreqDuration::Exact(left) = timeout.after {
            timeout.after = UreqDuration::Exact(left.saturating_sub(started.elapsed()));
        }
        let resolved = ConnectionDetails {
            uri: details.uri,
            addrs,
            config: details.config,
            request_level: details.request_level,
            resolver: &resolver,
            now: (details.current_time)(),
            timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        self.0.connect(&resolved, chained)
    }
}

/// Wraps the connections to `host` (the client's own `host[:port]`) in
/// [`OneWrite`]. Not the connection to a CONNECT proxy, which ureq makes
/// through this same connector: the tunnel over it is wrapped once already.
#[derive(Debug)]
pub struct OneWriteConnector<C> {
    pub inner: C,
    pub host: Authority,
    pub probe_once: bool,
    pub round_timeouts: bool,
}

impl<C: Connector<Out = Box<dyn Transport>>> Connector for OneWriteConnector<C> {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, Error> {
        let transport = self.inner.connect(details, chained)?;
        if details.uri.authority() != Some(&self.host) {
            return Ok(transport);
        }
        Ok(transport.map(|inner| {
            Box::new(OneWrite {
                inner,
                pending: Vec::new(),
                skip_probe: false,
                probe_once: self.probe_once,
                round_timeouts: self.round_timeouts,
            }) as Box<dyn Transport>
        }))
    }
}

/// Holds transmitted bytes until the first wait for input, then sends them
/// in one write; with `probe_once`, probes a pooled connection once per call
/// instead of twice; with `round_timeouts`, passes timeouts down rounded up
/// to the millisecond.
pub struct OneWrite {
    inner: Box<dyn Transport>,
    pending: Vec<u8>,
    skip_probe: bool,
    probe_once: bool,
    round_timeouts: bool,
}

/// `timeout` with its remaining time rounded up to a whole millisecond.
fn round_up_to_ms(mut timeout: NextTimeout) -> NextTimeout {
    if let UreqDuration::Exact(left) = timeout.after {
        let ms = left.as_nanos().div_ceil(1_000_000);
        timeout.after = UreqDuration::Exact(Duration::from_millis(ms as u64));
    }
    timeout
}

/// Past this many held bytes, send without waiting (bounds the buffer).
const HOLD_AT_MOST: usize = 64 * 1024;

impl OneWrite {
    fn timeout(&self, timeout: NextTimeout) -> NextTimeout {
        if self.round_timeouts {
            round_up_to_ms(timeout)
        } else {
            timeout
        }
    }

    fn flush(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = self.timeout(timeout);
        let mut sent = 0;
        while sent < self.pending.len() {
            let output = self.inner.buffers().output();
            let n = output.len().min(self.pending.len() - sent);
            output[..n].copy_from_slice(&self.pending[sent..sent + n]);
            self.inner.transmit_output(n, timeout)?;
            sent += n;
        }
        self.pending.clear();
        Ok(())
    }
}

impl Transport for OneWrite {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let output = &self.inner.buffers().output()[..amount];
        self.pending.extend_from_slice(output);
        if self.pending.len() >= HOLD_AT_MOST {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush(timeout)?;
        // The next is_open() is ureq returning the connection to its pool,
        // right after this read: skip that probe, keep the one on reuse.
        self.skip_probe = self.probe_once;
        let timeout = self.timeout(timeout);
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        if std::mem::take(&mut self.skip_probe) {
            return true;
        }
        self.inner.is_open()
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

/// How far the prototype goes.
#[derive(Clone, Copy, Debug)]
pub enum Tuning {
    /// Stock ureq.
    None,
    /// Resolve only when connecting.
    ResolveOnConnect,
    /// Resolve only when connecting, one write per request.
    OneWrite,
    /// The above, and one probe per call.
    OneProbe,
    /// All of the above, and timeouts rounded up to the millisecond.
    Full,
}

/// An agent for `url` configured as `ClientBuilder::build` does (30 s
/// global, 10 s resolve and connect timeouts, as of commit 1d2262f; for a
/// loopback `http://` space, so no proxy and `https_only(false)`), with
/// `tuning`.
pub fn agent(tuning: Tuning, url: &str, user_agent: &str) -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .https_only(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .timeout_resolve(Some(Duration::from_secs(10)))
        .timeout_connect(Some(Duration::from_secs(10)))
        .user_agent(user_agent)
        .proxy(None)
        .build();
    match tuning {
        Tuning::None => Agent::new_with_config(config),
        Tuning::ResolveOnConnect => Agent::with_parts(
            config,
            ResolveOnConnect(DefaultConnector::new()),
            LazyResolver,
        ),
        Tuning::OneWrite | Tuning::OneProbe | Tuning::Full => {
            let uri: Uri = url.parse().unwrap();
            let connector = OneWriteConnector {
                inner: ResolveOnConnect(DefaultConnector::new()),
                host: uri.authority().unwrap().clone(),
                probe_once: matches!(tuning, Tuning::OneProbe | Tuning::Full),
                round_timeouts: matches!(tuning, Tuning::Full),
            };
            Agent::with_parts(config, connector, LazyResolver)
        }
    }
}

/// `create_token` as it would be with the change: the crate's own
/// `TokenRequest::to_json` and `PubSubToken::from_body` around a tuned agent.
pub struct TunedClient {
    agent: Agent,
    uri: Uri,
    authorization: HeaderValue,
}

impl TunedClient {
    pub fn new(tuning: Tuning, url: &str, authorization: &str, user_agent: &str) -> TunedClient {
        let mut authorization = HeaderValue::from_str(authorization).unwrap();
        authorization.set_sensitive(true);
        TunedClient {
            agent: agent(tuning, url, user_agent),
            uri: url.parse().unwrap(),
            authorization,
        }
    }

    pub fn create_token(&self, request: &TokenRequest) -> PubSubToken {
        let body = request.to_json().unwrap();
        let sent_at = SystemTime::now();
        let mut response = self
            .agent
            .post(self.uri.clone())
            .header("authorization", self.authorization.clone())
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .send(body.as_bytes())
            .expect("send");
        assert_eq!(response.status(), 200);
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .expect("body");
        PubSubToken::from_body(&body, request, sent_at).unwrap()
    }
}
