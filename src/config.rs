//! Settings: the [`ClientBuilder`], the `SIGNALWIRE_*` environment, where
//! requests go (the space), the CA file, and the ureq agent they make.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::http::HeaderValue;

use crate::deadline::check_timeout;
use crate::error::Error;
use crate::secrets::REDACTED;

/// Default overall timeout of one call, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default timeout for establishing the connection (DNS, TCP, TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default number of retries after a first failed attempt.
pub const DEFAULT_RETRIES: u32 = 2;

/// Settings for a [`Client`](crate::Client); made by
/// [`Client::builder`](crate::Client::builder) or
/// [`ClientBuilder::from_env`], finished by [`ClientBuilder::build`].
///
/// `space` may be:
/// - a space name: `example` (requests go to `https://example.signalwire.com`);
/// - a host name: `example.signalwire.com`;
/// - a URL with a scheme and optional port and path prefix:
///   `https://gateway.internal:8443/prefix`. Plain `http://` is accepted only
///   for loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`), for tests.
///
/// Anything that could send the request to another host than the one written
/// (`evil.com/`, `a@b`, `x#`, `x?y`, `%`, spaces, non-ASCII) is refused with
/// [`Error::Config`].
#[derive(Clone)]
pub struct ClientBuilder {
    space: String,
    project_id: String,
    api_token: String,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: Option<String>,
    proxy: Proxy,
    retries: u32,
    ca_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
enum Proxy {
    FromEnv,
    Off,
    Url(String),
}

impl ClientBuilder {
    /// A builder from `SIGNALWIRE_SPACE`, `SIGNALWIRE_PROJECT_ID` and
    /// `SIGNALWIRE_API_TOKEN`; [`Error::Config`] names the first one that is
    /// missing, empty or not Unicode. `SIGNALWIRE_REST_CA_FILE`, when set,
    /// is used as [`ca_file`](Self::ca_file), as SignalWire's Python SDK does.
    pub fn from_env() -> Result<ClientBuilder, Error> {
        let var = |name: &'static str| {
            let problem = match std::env::var(name) {
                Ok(value) if !value.is_empty() => return Ok(value),
                Ok(_) => "is empty",
                Err(std::env::VarError::NotPresent) => "is missing",
                Err(std::env::VarError::NotUnicode(_)) => "is not valid Unicode",
            };
            Err(Error::Config {
                message: format!("environment variable {name} {problem}"),
                source: None,
            })
        };
        let (space, project_id, api_token) = (
            var("SIGNALWIRE_SPACE")?,
            var("SIGNALWIRE_PROJECT_ID")?,
            var("SIGNALWIRE_API_TOKEN")?,
        );
        let builder = ClientBuilder::new(&space, &project_id, &api_token);
        Ok(match std::env::var_os("SIGNALWIRE_REST_CA_FILE") {
            Some(path) if !path.is_empty() => builder.ca_file(path),
            _ => builder,
        })
    }

    /// How many times a failed attempt may be retried; what is retried, and
    /// after how long, is [`Error::is_retryable`]. `0` turns retries off (but
    /// for the one immediate retry of a kept-alive connection the server had
    /// closed). Default: [`DEFAULT_RETRIES`] (2).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Trusts the root certificates in this PEM file instead of the built-in
    /// (Mozilla) roots, for a gateway or test server with its own CA; to
    /// trust both, put both in the file. A file that is unreadable, not a
    /// regular file, over 16 MiB or without a certificate is an
    /// [`Error::Config`] from [`build`](Self::build).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Limit on one whole call: connecting, sending, reading the body,
    /// every retry and every wait before one. Default: [`DEFAULT_TIMEOUT`]
    /// (30 s); [`MIN_TIMEOUT`](crate::MIN_TIMEOUT) to
    /// [`MAX_TIMEOUT`](crate::MAX_TIMEOUT), or [`build`](Self::build) is an
    /// [`Error::Config`].
    ///
    /// This is the deadline rule, for this timeout, a call's own
    /// ([`Call::timeout`](crate::Call::timeout)) and the
    /// [connect timeout](Self::connect_timeout):
    ///
    /// - **Never before.** A call that times out has run at least its limit:
    ///   every time handed to a wait is rounded up to the millisecond, never
    ///   down, and a wait that ends early is made again.
    /// - **Just after.** It ends a few milliseconds after the limit at
    ///   worst, however the server behaves (silent, trickling a byte at a
    ///   time, a slow proxy or TLS handshake): every read and write is cut
    ///   at the deadline, and the client waits for input in slices of at
    ///   most 250 ms, which the kernel keeps to time (a long socket timeout
    ///   may fire up to an eighth late). No attempt starts, and no wait
    ///   before a retry is taken, that would cross it.
    /// - **One exception** to "just after": a write blocked on a full socket
    ///   send buffer waits all the time left in one piece (the standard
    ///   library does not say how much of a timed-out write went out), and
    ///   may end up to an eighth late; a request of at most
    ///   [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES) rarely fills the
    ///   buffer.
    ///
    /// The [`Error::Timeout`] names the limit that ran out.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit on setting up a connection: name lookup, TCP, a proxy's
    /// CONNECT, TLS (what is left of the call's timeout, if that is
    /// shorter). Default: [`DEFAULT_CONNECT_TIMEOUT`] (10 s); the same
    /// limits and the same rule as [`timeout`](Self::timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header. Default: `signalwire-pubsub/VERSION`.
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = Some(user_agent.to_owned());
        self
    }

    /// Sends requests through this HTTP(S) CONNECT proxy (`http://host:port`,
    /// optionally with `user:password@`) instead of the one from the
    /// environment. SOCKS proxies are refused by [`build`](Self::build).
    /// Loopback hosts are always reached directly.
    pub fn proxy(mut self, proxy_url: &str) -> Self {
        self.proxy = Proxy::Url(proxy_url.to_owned());
        self
    }

    /// Connects directly, ignoring `HTTPS_PROXY`, `ALL_PROXY` and the like.
    ///
    /// By default the environment's proxy is used, except for loopback
    /// hosts, which are always reached directly.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = Proxy::Off;
        self
    }

    /// A builder with the default settings (see
    /// [`Client::builder`](crate::Client::builder)).
    pub(crate) fn new(space: &str, project_id: &str, api_token: &str) -> ClientBuilder {
        ClientBuilder {
            space: space.to_owned(),
            project_id: project_id.to_owned(),
            api_token: api_token.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: None,
            proxy: Proxy::FromEnv,
            retries: DEFAULT_RETRIES,
            ca_file: None,
        }
    }

    /// Every setting checked, in the form the client is made from (by
    /// `build`, which is in `client.rs`, with the `Client` it makes).
    pub(crate) fn settings(self) -> Result<Settings, Error> {
        let base = parse_space(&self.space)?;
        self.check_credentials_and_timeouts()?;
        let user_agent = (self.user_agent.clone())
            .unwrap_or_else(|| concat!("signalwire-pubsub/", env!("CARGO_PKG_VERSION")).into());
        let user_agent_header = HeaderValue::from_str(&user_agent)
            .ok()
            .filter(|_| !user_agent.is_empty() && user_agent.is_ascii())
            .ok_or_else(|| config("user_agent must be non-empty printable ASCII"))?;
        Ok(Settings {
            agent_config: self.agent_config(base.loopback, user_agent)?,
            base_url: base.url,
            user_agent: user_agent_header,
            project_id: self.project_id,
            api_token: self.api_token,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            retries: self.retries,
        })
    }

    fn check_credentials_and_timeouts(&self) -> Result<(), Error> {
        if self.project_id.is_empty() || self.project_id.contains(':') {
            return Err(config(
                "project_id must be non-empty and must not contain ':'",
            ));
        }
        if self.project_id.chars().any(char::is_control) {
            return Err(config("project_id must not contain control characters"));
        }
        if self.api_token.is_empty() || self.api_token.chars().any(char::is_control) {
            return Err(config(
                "api_token must be non-empty, without control characters",
            ));
        }
        check_timeout("timeout", self.timeout)?;
        check_timeout("connect_timeout", self.connect_timeout).map(drop)
    }

    /// The agent's settings: no redirects, statuses as responses, the
    /// connect timeout, the proxy, the user agent (for a proxy's CONNECT),
    /// the TLS roots.
    fn agent_config(
        &self,
        loopback: bool,
        user_agent: String,
    ) -> Result<ureq::config::Config, Error> {
        let mut tls = ureq::tls::TlsConfig::builder();
        #[cfg(feature = "native-tls")]
        {
            tls = tls.provider(ureq::tls::TlsProvider::NativeTls);
        }
        if let Some(path) = &self.ca_file {
            tls = tls.root_certs(load_roots(path)?);
        }
        Ok(ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(!loopback)
            // Servers often close idle connections after 5 s: leave them
            // before that (a connection closed under a call is retried once).
            .max_idle_age(Duration::from_secs(4))
            // The call's deadline is kept below ureq (the transport), which
            // is given only the connect timeout.
            .timeout_connect(Some(self.connect_timeout))
            .user_agent(user_agent)
            .proxy(self.proxy_for(loopback)?)
            .tls_config(tls.build())
            .build())
    }

    /// The proxy to use: none for loopback hosts or after
    /// [`no_proxy`](Self::no_proxy); an HTTP(S) CONNECT proxy only (ureq is
    /// built without SOCKS).
    fn proxy_for(&self, loopback: bool) -> Result<Option<ureq::Proxy>, Error> {
        let proxy = match (&self.proxy, loopback) {
            (Proxy::Off, _) | (_, true) => return Ok(None),
            (Proxy::FromEnv, false) => ureq::Proxy::try_from_env(),
            (Proxy::Url(url), false) => {
                Some(ureq::Proxy::new(url).map_err(|_| config("proxy is not a valid proxy URL"))?)
            }
        };
        use ureq::ProxyProtocol::{Http, Https};
        match &proxy {
            Some(p) if !matches!(p.protocol(), Http | Https) => Err(config(
                "proxy must be http:// or https:// (SOCKS is not built in); \
                 no_proxy() ignores the environment's",
            )),
            _ => Ok(proxy),
        }
    }
}

/// A [`ClientBuilder`]'s settings, checked: what `client.rs` makes the
/// [`Client`](crate::Client) from.
pub(crate) struct Settings {
    /// `scheme://host[:port][/prefix]`, no trailing slash.
    pub(crate) base_url: String,
    pub(crate) project_id: String,
    pub(crate) api_token: String,
    pub(crate) user_agent: HeaderValue,
    pub(crate) agent_config: ureq::config::Config,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) retries: u32,
}

/// An [`Error::Config`] saying `message`.
fn config(message: &str) -> Error {
    Error::Config {
        message: message.to_owned(),
        source: None,
    }
}

/// The certificates of a PEM file, as the roots to trust. Anything but a
/// regular file (a directory, a FIFO that would block, a device that never
/// ends) is refused before it is opened, and so is a file over 16 MiB (a
/// bundle of every public root is about 200 KiB).
fn load_roots(path: &Path) -> Result<ureq::tls::RootCerts, Error> {
    const MAX_CA_FILE: u64 = 16 * 1024 * 1024;
    let config = |why: &str, source: Option<std::io::Error>| Error::Config {
        message: format!("CA file {}: {why}", path.display()),
        source: source.map(|e| Box::new(e) as _),
    };
    let meta = std::fs::metadata(path).map_err(|e| config("cannot be read", Some(e)))?;
    if !meta.is_file() {
        return Err(config("is not a regular file", None));
    }
    if meta.len() > MAX_CA_FILE {
        return Err(config("is larger than 16 MiB", None));
    }
    let pem = std::fs::read(path).map_err(|e| config("cannot be read", Some(e)))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(cert) = item.map_err(|_| config("bad PEM", None))? {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(config("no certificate in it", None));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proxy = match self.proxy {
            Proxy::FromEnv => "from environment",
            Proxy::Off => "off",
            Proxy::Url(_) => "custom",
        };
        f.debug_struct("ClientBuilder")
            .field("space", &printable_space(&self.space))
            .field("project_id", &self.project_id)
            .field("api_token", &REDACTED)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("proxy", &proxy)
            .field("retries", &self.retries)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

// Space parsing: where requests go.

struct Base {
    /// `scheme://host[:port][/prefix]`, no trailing slash.
    url: String,
    loopback: bool,
}

fn parse_space(space: &str) -> Result<Base, Error> {
    let refuse = |why: &str| Error::Config {
        message: format!(
            "space {:?} is not a space name, host name or http(s) URL: {why}",
            printable_space(space)
        ),
        source: None,
    };
    if let Some(c) = space.chars().find(|c| !is_url_char(*c)) {
        return Err(refuse(&format!("character {c:?} is not allowed")));
    }
    let Some((scheme, rest)) = space.split_once("://") else {
        // A bare space name or host name: no port, no path.
        if !is_host_name(space) {
            return Err(refuse("expected a DNS label or host name"));
        }
        let host = space.to_ascii_lowercase();
        let host = if host.contains('.') {
            host
        } else {
            format!("{host}.signalwire.com")
        };
        return Ok(Base {
            url: format!("https://{host}"),
            loopback: false,
        });
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(refuse("the scheme must be https (or http for loopback)"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = split_port(authority).ok_or_else(|| refuse("bad host or port"))?;
    let loopback = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6
            .parse::<Ipv6Addr>()
            .map_err(|_| refuse("bad IPv6 address"))?
            .is_loopback(),
        None if !is_host_name(host) => return Err(refuse("bad host name")),
        None => {
            host.eq_ignore_ascii_case("localhost")
                || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        }
    };
    if scheme == "http" && !loopback {
        return Err(refuse("plain http is allowed only for loopback hosts"));
    }
    let path = path.trim_end_matches('/');
    if path
        .split('/')
        .skip(1)
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(refuse("bad path prefix"));
    }
    Ok(Base {
        url: format!("{scheme}://{}{port}{path}", host.to_ascii_lowercase()),
        loopback,
    })
}

/// The space as it may be printed: whatever precedes an `@` may be user info
/// (`https://user:secret@host`), so it is left out.
fn printable_space(space: &str) -> String {
    let shown = match space.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &space[at + 1..]),
        None => space.to_owned(),
    };
    shown.chars().take(100).collect()
}

/// Characters that may appear in a space at all: enough for host names, IPv6
/// literals, ports and simple paths; nothing that starts userinfo, a query,
/// a fragment or an escape.
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | ':' | '/' | '[' | ']')
}

/// A DNS host name: dot-separated labels of letters, digits and inner hyphens.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Splits `host[:port]` or `[v6][:port]`; the port comes back as `:N` or "".
fn split_port(authority: &str) -> Option<(&str, String)> {
    let colon = match authority.rfind(']') {
        Some(end) => authority[end..].find(':').map(|i| end + i),
        None => authority.find(':'),
    };
    let Some(colon) = colon else {
        return Some((authority, String::new()));
    };
    let port: u16 = authority[colon + 1..].parse().ok().filter(|p| *p != 0)?;
    if !authority[colon + 1..].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&authority[..colon], format!(":{port}")))
}
