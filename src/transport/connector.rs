//! The resolver and the connector: a connection is looked up, made and
//! wrapped only when the pool has none, within the connect timeout and the
//! attempt's end, and its socket is handed to the call watched by a cancel.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use ureq::config::Config;
use ureq::http::uri::Authority;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::time::{Duration as UreqDuration, Instant as UreqInstant};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, ShutdownHandle, TcpConnector,
    Transport,
};
use ureq::{Error, Timeout};

use super::cancelled;
use super::deadline_cap::{capped, DeadlineCap};
use super::one_write::OneWrite;
use crate::cancel::Socket;
use crate::deadline::round_up_to_ms;
use crate::scope::{self, record};

/// 0.0.0.0:0, never a real destination: "not resolved yet".
const UNRESOLVED: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

/// The agent's resolver: ureq calls it on every request, before its pool
/// lookup, so it only marks the addresses as unresolved.
#[derive(Debug)]
pub(super) struct LazyResolver;

impl Resolver for LazyResolver {
    fn resolve(&self, _: &Uri, _: &Config, _: NextTimeout) -> Result<ResolvedSocketAddrs, Error> {
        let mut addrs = self.empty();
        addrs.push(UNRESOLVED);
        Ok(addrs)
    }
}

/// The agent's connector, which only runs when a new connection is needed.
/// It resolves the host first, runs ureq's own connectors (CONNECT proxy,
/// TCP, then [`DeadlineCap`] and TLS), and wraps connections to `host` in
/// [`OneWrite`]. It records that a connection is being set up, and which
/// limit ends the set-up first: the connect timeout or the attempt's end.
/// (ureq's default chain is the same, less the SOCKS warning this crate does
/// not need: it refuses SOCKS proxies.)
#[derive(Debug)]
pub(super) struct ClientConnector {
    chain: Box<dyn Connector<(), Out = Box<dyn Transport>>>,
    host: Authority,
}

impl ClientConnector {
    pub(super) fn new(uri: &Uri) -> ClientConnector {
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
        let set_up = SetUp::new(details);
        if target {
            let connect_timeout_binds = !set_up.deadline_binds;
            record(|p| {
                p.connecting = true;
                p.connect_timeout_binds = connect_timeout_binds;
            });
            // Every read and write of the set-up (a proxy's CONNECT, the TLS
            // handshake) ends by then too, however ureq times them.
            scope::set_setup_end(set_up.end.filter(|_| connect_timeout_binds));
        }
        let lookup = Lookup::default();
        let addrs = if details.addrs[..] == [UNRESOLVED] {
            lookup.resolve(details.uri, details.config, set_up.left(1)?)?
        } else {
            // A proxy's address (looked up by ureq's CONNECT connector with
            // `lookup`), or the target behind a proxy, left unresolved.
            details.addrs.clone()
        };
        // What is left after the lookups, shared among the addresses.
        let timeout = set_up.left(addrs.len())?;
        if scope::cancelled() {
            return Err(cancelled());
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
            now: (details.current_time)(),
            timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown,
        };
        let transport = self.chain.connect(&details, chained);
        if !target {
            return transport;
        }
        scope::set_setup_end(None);
        let transport = transport?;
        record(|p| p.connecting = false);
        let socket = socket.lock().ok().and_then(|mut s| s.take());
        Ok(transport.map(|inner| Box::new(OneWrite::new(inner, socket)) as Box<dyn Transport>))
    }
}

/// The time limit of a connection's set-up: ureq's connect budget from
/// when ureq set it, or the attempt's end if that comes first.
struct SetUp {
    end: Option<Instant>,
    reason: Timeout,
    deadline_binds: bool,
}

impl SetUp {
    fn new(details: &ConnectionDetails) -> SetUp {
        let set_at = match details.now {
            UreqInstant::Exact(at) => at,
            _ => Instant::now(),
        };
        let asked = match details.timeout.after {
            UreqDuration::Exact(after) => set_at.checked_add(after),
            UreqDuration::NotHappening => None,
        };
        let (end, deadline_binds) = capped(asked);
        SetUp {
            end,
            reason: match deadline_binds {
                true => Timeout::Global,
                false => details.timeout.reason,
            },
            deadline_binds,
        }
    }

    /// What is left of the set-up's time now, for `shares` addresses:
    /// rounded up to the millisecond, and a millisecond more for each
    /// address, as ureq's TCP connector truncates each address's share to
    /// whole milliseconds (through a float), which must not end the set-up
    /// early. A timeout error when nothing is left (ureq would read a zero
    /// budget as "1 s").
    fn left(&self, shares: usize) -> Result<NextTimeout, Error> {
        let after = match self.end {
            Some(end) => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    if self.deadline_binds {
                        record(|p| p.deadline_hit = true);
                    }
                    return Err(Error::Timeout(self.reason));
                }
                let shares = u64::try_from(shares).unwrap_or(u64::MAX);
                let truncated = std::time::Duration::from_millis(shares);
                UreqDuration::Exact(round_up_to_ms(left).saturating_add(truncated))
            }
            None => UreqDuration::NotHappening,
        };
        Ok(NextTimeout {
            after,
            reason: self.reason,
            per_read: None,
            per_write: None,
        })
    }
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
        let socket = Socket::new(move || {
            if let Some(tcp) = tcp.upgrade() {
                tcp.shutdown();
            }
        });
        if let Ok(mut kept) = slot.lock() {
            *kept = Some(Arc::clone(&socket));
        }
        scope::join(&socket).map(drop).map_err(|_| cancelled())
    })
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
        if scope::cancelled() {
            return Err(cancelled());
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::CallScope;
    use std::time::Duration;

    fn details_timeout(after: Duration) -> NextTimeout {
        NextTimeout {
            after: UreqDuration::Exact(after),
            reason: Timeout::Connect,
            per_read: None,
            per_write: None,
        }
    }

    fn set_up(set_at: Instant, after: Duration) -> SetUp {
        let asked = set_at.checked_add(after);
        let (end, deadline_binds) = capped(asked);
        SetUp {
            end,
            reason: match deadline_binds {
                true => Timeout::Global,
                false => Timeout::Connect,
            },
            deadline_binds,
        }
    }

    fn exact(timeout: NextTimeout) -> Duration {
        let UreqDuration::Exact(after) = timeout.after else {
            panic!("stays exact")
        };
        after
    }

    #[test]
    fn a_connect_gets_what_is_left_after_the_lookups_rounded_up() {
        let _scope = CallScope::enter(None);
        scope::start_attempt(Instant::now() + Duration::from_secs(60), 0);
        // ureq set the budget 2 s ago, before a slow lookup (a proxy's, in
        // its CONNECT connector): the TCP connect gets the rest, not all.
        let set_at = Instant::now() - Duration::from_secs(2);
        let left = exact(set_up(set_at, Duration::from_secs(3)).left(1).unwrap());
        assert!(
            left <= Duration::from_millis(1002) && left > Duration::from_millis(900),
            "{left:?}"
        );
        assert!(matches!(
            set_up(set_at, Duration::from_millis(1_500)).left(1),
            Err(Error::Timeout(Timeout::Connect))
        ));
        // Never less than what is left: 299.95 ms is 301 ms for ureq,
        // which truncates it.
        let set_at = Instant::now();
        let set_up = set_up(set_at, Duration::from_micros(299_950));
        assert_eq!(exact(set_up.left(1).unwrap()), Duration::from_millis(301));
        assert_eq!(exact(set_up.left(4).unwrap()), Duration::from_millis(304));
    }

    /// Each address's share as ureq 3.5's TCP connector computes it
    /// (`tcp.rs`: a geometric series, each share truncated to the ms).
    fn ureq_shares(budget: Duration, addresses: usize) -> Vec<Duration> {
        let total = 2.0 * (1.0 - 0.5_f64.powi(addresses as i32));
        (0..addresses)
            .map(|i| {
                let weight = 0.5_f64.powi(i as i32);
                let secs = budget.as_secs_f64() * weight / total;
                Duration::from_millis((secs * 1000.0) as u64).max(Duration::from_millis(10))
            })
            .collect()
    }

    #[test]
    fn the_shares_of_every_address_add_up_to_at_least_what_is_left() {
        let _scope = CallScope::enter(None);
        scope::start_attempt(Instant::now() + Duration::from_secs(60), 0);
        for micros in [10_000, 299_950, 1_000_000, 9_999_999] {
            for addresses in 1..=10 {
                let set_at = Instant::now();
                let left = Duration::from_micros(micros);
                let given = exact(set_up(set_at, left).left(addresses).unwrap());
                let shares: Duration = ureq_shares(given, addresses).into_iter().sum();
                assert!(
                    shares >= left,
                    "{addresses} addresses, {left:?}: {shares:?}"
                );
            }
        }
    }

    #[test]
    fn the_attempts_end_caps_the_set_up_and_says_so() {
        let _scope = CallScope::enter(None);
        scope::start_attempt(Instant::now() + Duration::from_millis(500), 0);
        let capped = set_up(Instant::now(), Duration::from_secs(10));
        assert!(capped.deadline_binds);
        assert!(exact(capped.left(1).unwrap()) <= Duration::from_millis(502));
        let connect = set_up(Instant::now(), Duration::from_millis(100));
        assert!(!connect.deadline_binds);
        scope::start_attempt(Instant::now(), 0);
        let over = set_up(Instant::now(), Duration::from_secs(10));
        assert!(matches!(over.left(1), Err(Error::Timeout(Timeout::Global))));
        assert!(scope::progress().deadline_hit);
    }

    #[test]
    fn a_lookup_that_returns_after_a_cancel_ends_the_call() {
        let config = ureq::Agent::config_builder().build();
        let uri: Uri = "http://127.0.0.1:9/".parse().unwrap();
        let cancel = crate::Cancel::new();
        let _scope = CallScope::enter(Some(&cancel));
        scope::start_attempt(Instant::now() + Duration::from_secs(60), 0);
        let timeout = details_timeout(Duration::from_secs(1));
        assert!(Lookup::default().resolve(&uri, &config, timeout).is_ok());
        cancel.cancel();
        let err = Lookup::default()
            .resolve(&uri, &config, timeout)
            .unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        assert!(!scope::progress().resolving, "the lookup itself succeeded");
    }
}
