//! A blocking, minimal-dependency client for SignalWire's
//! [Generate a new PubSub Token](https://signalwire.com/docs/apis/pubsub/tokens/create-token)
//! endpoint: `POST https://{space}.signalwire.com/api/pubsub/tokens`.
//!
//! A server program calls it to mint a short-lived token that it hands to a
//! browser or a device, scoped to named channels with read and/or write
//! rights, with a member id and a small JSON state.
//!
//! # Why blocking, why small
//!
//! Minting a token is one HTTPS request. A program that does it (a small
//! utility, a sync web handler, a vendored build) should not need an async
//! runtime for that, nor a hundred crates. This crate is one module on top of
//! [`ureq`] (HTTP and TLS), [`miniserde`] (JSON) and [`base64`] (Basic
//! auth), and nothing else.
//!
//! # Goals
//!
//! - Every rule of the API is checked before a byte is sent: a request that
//!   breaks one is an [`Error::InvalidRequest`] naming the field, the limit
//!   and the value's size.
//! - Every failure is a variant of one [`Error`] enum a caller can match on.
//! - No secret (API token, `Authorization` header, minted token) appears in
//!   any `Debug`, `Display` or error text.
//! - Retries done right: 429, 502, 503, 504 and connections that could not
//!   be made, nothing that may have minted a token the caller will need,
//!   full-jitter backoff or the server's `Retry-After`, and never past the
//!   call's overall timeout.
//! - A call on a kept-alive connection costs little more than the loopback
//!   round trip: no name lookup, one write, one pool probe (see the
//!   transport section of the source).
//! - A faithful fake server (module `fake`, feature `fake`) to test against offline.
//!
//! Non-goals: the rest of SignalWire's REST API, async, SOCKS proxies,
//! HTTP/2.
//!
//! # Example
//!
//! ```no_run
//! use signalwire_pubsub::{Client, TokenRequest};
//!
//! # fn main() -> Result<(), signalwire_pubsub::Error> {
//! // Reads SIGNALWIRE_SPACE, SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN.
//! let client = Client::from_env()?;
//! let request = TokenRequest::new(15).read("lobby").read_write("room-42").member_id("alice");
//! let token = client.create_token(&request)?;
//! println!("{}", token.token()); // hand this to the browser
//! # Ok(())
//! # }
//! ```
//!
//! The same against the built-in fake (feature `fake`), runnable offline:
//!
//! ```
//! # #[cfg(feature = "fake")] {
//! use signalwire_pubsub::{fake::FakeServer, Client, TokenRequest};
//!
//! let fake = FakeServer::start("project", "api-token").unwrap();
//! let client = Client::new(&fake.url(), "project", "api-token").unwrap();
//! let token = client.create_token(&TokenRequest::new(15).read("lobby")).unwrap();
//! assert_eq!(token.token().split('.').count(), 3);
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use miniserde::de::{Deserialize, Map, Visitor};
use miniserde::json;
use ureq::http::{header, HeaderValue, Uri};

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
compile_error!("enable feature `rustls` (the default) or `native-tls`");

#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;

// The README's Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Longest token lifetime the API accepts, in minutes (30 days).
pub const MAX_TTL_MINUTES: u32 = 43_200;
/// Most channels one token may name.
pub const MAX_CHANNELS: usize = 500;
/// Longest channel name, in characters.
pub const MAX_CHANNEL_NAME_CHARS: usize = 250;
/// Longest member id, in characters.
pub const MAX_MEMBER_ID_CHARS: usize = 250;
/// Longest `state`, in characters of its compact JSON serialization.
pub const MAX_STATE_CHARS: usize = 2_000;
/// Most bytes of a response body the client reads; a longer body is an error.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// Default overall timeout of one call, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default timeout for establishing the connection (DNS, TCP, TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default number of retries after a first failed attempt.
pub const DEFAULT_RETRIES: u32 = 2;
/// Backoff before the first retry is up to this long (full jitter), doubling
/// with each retry up to [`RETRY_BACKOFF_CAP`].
pub const RETRY_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest backoff between two attempts, when the server gives no `Retry-After`.
pub const RETRY_BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Longest wait a server's `Retry-After` can ask for; longer values are cut to this.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

/// No retry starts with less than this left of the overall timeout.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(100);

const PATH: &str = "/api/pubsub/tokens";
const REDACTED: &str = "[redacted]";
const BODY_PREFIX_CHARS: usize = 200;

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// A client for one SignalWire space and project.
///
/// Cheap to clone (it is an `Arc`), `Send + Sync`, and keeps connections
/// alive between calls. Its `Debug` output never shows the API token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    uri: Uri,
    url: String,
    project_id: String,
    api_token: String,
    authorization: HeaderValue,
    timeout: Duration,
    connect_timeout: Duration,
    retries: u32,
}

impl Client {
    /// A client with the default settings; see [`ClientBuilder`] for `space`.
    ///
    /// Fails with [`Error::Config`] when the space, project id or API token
    /// is malformed. Nothing is sent.
    pub fn new(space: &str, project_id: &str, api_token: &str) -> Result<Client, Error> {
        Client::builder(space, project_id, api_token).build()
    }

    /// A client configured from `SIGNALWIRE_SPACE`, `SIGNALWIRE_PROJECT_ID` and
    /// `SIGNALWIRE_API_TOKEN`, the variables SignalWire's own SDKs read.
    ///
    /// Fails with [`Error::Config`] naming the first variable that is missing
    /// or empty.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// A builder to set timeouts, user agent and proxy before connecting.
    pub fn builder(space: &str, project_id: &str, api_token: &str) -> ClientBuilder {
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

    /// The full endpoint URL requests go to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Mints a token: validates `request`, then `POST`s it, retrying what is
    /// safe to retry.
    ///
    /// A request that breaks a rule of the API is an
    /// [`Error::InvalidRequest`] and nothing is sent. Otherwise the call makes
    /// up to 1 + [`retries`](ClientBuilder::retries) attempts: 429, 502, 503,
    /// 504 and a connection that failed before the request was sent are
    /// retried after a backoff (or the server's `Retry-After`); nothing else is.
    /// No attempt starts past the overall timeout, so the call never takes
    /// longer than it. The error of the last attempt is returned, with the
    /// number of attempts made.
    pub fn create_token(&self, request: &TokenRequest) -> Result<PubSubToken, Error> {
        let body = request.to_json()?;
        let deadline = Instant::now() + self.inner.timeout;
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            // The first attempt has the whole timeout (the agent's); later
            // ones only what is left of it.
            let remaining =
                (attempts > 1).then(|| deadline.saturating_duration_since(Instant::now()));
            let err = match self.attempt(&body, request, remaining, attempts) {
                Ok(token) => return Ok(token),
                Err(err) => err,
            };
            if attempts > self.inner.retries || !err.is_retryable() {
                return Err(err);
            }
            let delay = match err.api().and_then(|api| api.retry_after) {
                Some(retry_after) => retry_after.min(RETRY_AFTER_CAP),
                None => backoff(attempts),
            };
            // The next attempt must start with time enough to be worth it.
            if Instant::now() + delay + MIN_ATTEMPT_TIME >= deadline {
                return Err(err);
            }
            std::thread::sleep(delay);
        }
    }

    /// One HTTP exchange, attempt number `attempts` of the call; `timeout`
    /// overrides the agent's overall timeout.
    fn attempt(
        &self,
        body: &str,
        request: &TokenRequest,
        timeout: Option<Duration>,
        attempts: u32,
    ) -> Result<PubSubToken, Error> {
        let inner = &*self.inner;
        let mut builder = inner.agent.post(inner.uri.clone());
        if let Some(timeout) = timeout {
            builder = builder.config().timeout_global(Some(timeout)).build();
        }
        let sent_at = SystemTime::now();
        let mut response = builder
            .header(header::AUTHORIZATION, inner.authorization.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .send(body.as_bytes())
            .map_err(|e| self.transport_error(e, attempts))?;

        let status = response.status().as_u16();
        let success = (200..300).contains(&status);
        let request_id = request_id(response.headers());
        let retry_after = match response.headers().get(header::RETRY_AFTER) {
            Some(value) if !success => {
                parse_retry_after(value.to_str().unwrap_or_default(), SystemTime::now())
            }
            _ => None,
        };
        let read = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec();
        let body = match read {
            Ok(body) => Some(body),
            Err(ureq::Error::BodyExceedsLimit(_)) => None,
            Err(e) => return Err(self.transport_error(e, attempts)),
        };

        if success {
            let token = match body {
                Some(body) => PubSubToken::from_body(&body, request, sent_at),
                None => Err("body is larger than 64 KiB"),
            };
            return match token {
                Ok(token) => Ok(PubSubToken { attempts, ..token }),
                Err(reason) => Err(Error::InvalidResponse {
                    status,
                    request_id,
                    reason: reason.to_owned(),
                    attempts,
                }),
            };
        }
        Err(self.api_error(
            ApiError {
                status,
                request_id,
                message: None,
                errors: Vec::new(),
                body_prefix: None,
                retry_after,
                attempts,
            },
            body.as_deref(),
        ))
    }

    /// Fills `api` from the error body (scrubbed) and picks the variant.
    fn api_error(&self, mut api: ApiError, body: Option<&[u8]>) -> Error {
        match body.map(decode_error_body) {
            Some(Some(decoded)) if decoded.error.is_some() || decoded.errors.is_some() => {
                api.message = decoded.error.map(|m| self.scrub(&m));
                api.errors = decoded.errors.unwrap_or_default();
                for item in &mut api.errors {
                    item.message = self.scrub(&item.message);
                    item.attribute = item.attribute.as_deref().map(|a| self.scrub(a));
                }
            }
            Some(_) if body.is_some_and(<[u8]>::is_empty) => {}
            Some(_) => {
                let text = String::from_utf8_lossy(body.unwrap_or_default());
                api.body_prefix = Some(self.scrub(&text));
            }
            None => api.body_prefix = Some("(body larger than 64 KiB, not read)".to_owned()),
        }
        let api = Box::new(api);
        match api.status {
            400 => Error::BadRequest(api),
            401 => Error::Unauthorized(api),
            403 => Error::Forbidden(api),
            404 => Error::NotFound(api),
            422 => Error::Unprocessable(api),
            429 => Error::RateLimited(api),
            500..=599 => Error::Server(api),
            _ => Error::UnexpectedStatus(api),
        }
    }

    /// Text from the server, made safe to print: the client's secrets (in
    /// case a proxy echoed the request) replaced, control characters
    /// blanked, cut to 200 characters.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        let authorization = auth_str(&self.inner.authorization);
        for secret in [
            self.inner.api_token.as_str(),
            authorization.trim_start_matches("Basic "),
        ] {
            if !secret.is_empty() {
                // Also as JSON may write it, with `/` escaped.
                text = text
                    .replace(secret, REDACTED)
                    .replace(&secret.replace('/', "\\/"), REDACTED);
            }
        }
        text.chars()
            .take(BODY_PREFIX_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    fn transport_error(&self, e: ureq::Error, attempts: u32) -> Error {
        let kind = match &e {
            ureq::Error::Timeout(t) => {
                let connecting = matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve);
                return Error::Timeout {
                    connecting,
                    limit: if connecting {
                        self.inner.connect_timeout
                    } else {
                        self.inner.timeout
                    },
                    attempts,
                };
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                return Error::Timeout {
                    connecting: false,
                    limit: self.inner.timeout,
                    attempts,
                };
            }
            ureq::Error::HostNotFound => TransportKind::Dns,
            // std's resolver failure (getaddrinfo) comes back as plain I/O.
            ureq::Error::Io(io) if io.to_string().contains("failed to lookup address") => {
                TransportKind::Dns
            }
            ureq::Error::ConnectionFailed => TransportKind::Connect,
            // Nothing was sent: the connection was never made.
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::HostUnreachable
                        | std::io::ErrorKind::NetworkUnreachable
                        | std::io::ErrorKind::NetworkDown
                        | std::io::ErrorKind::AddrNotAvailable
                ) =>
            {
                TransportKind::Connect
            }
            ureq::Error::Tls(_) | ureq::Error::TlsRequired => TransportKind::Tls,
            #[cfg(feature = "rustls")]
            ureq::Error::Rustls(_) => TransportKind::Tls,
            // rustls reports a failed handshake or a bad record (an unknown
            // issuer, say) through its stream as I/O of kind InvalidData.
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                TransportKind::Tls
            }
            #[cfg(feature = "native-tls")]
            ureq::Error::NativeTls(_) | ureq::Error::Der(_) => TransportKind::Tls,
            ureq::Error::Io(_) => TransportKind::Io,
            ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => {
                TransportKind::Protocol
            }
            _ => TransportKind::Other,
        };
        Error::Transport {
            kind,
            attempts,
            source: Box::new(e),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.url)
            .field("project_id", &self.inner.project_id)
            .field("api_token", &REDACTED)
            .field("timeout", &self.inner.timeout)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("retries", &self.inner.retries)
            .finish()
    }
}

fn auth_str(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or_default()
}

fn request_id(headers: &ureq::http::HeaderMap) -> Option<String> {
    ["x-request-id", "x-signalwire-request-id"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(|id| id.chars().take(BODY_PREFIX_CHARS).collect())
}

/// Settings for a [`Client`]; made by [`Client::builder`] or
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
            })
        };
        let (space, project_id, api_token) = (
            var("SIGNALWIRE_SPACE")?,
            var("SIGNALWIRE_PROJECT_ID")?,
            var("SIGNALWIRE_API_TOKEN")?,
        );
        let builder = Client::builder(&space, &project_id, &api_token);
        Ok(match std::env::var_os("SIGNALWIRE_REST_CA_FILE") {
            Some(path) if !path.is_empty() => builder.ca_file(path),
            _ => builder,
        })
    }

    /// How many times a failed attempt may be retried (429, 502, 503, 504, or
    /// a connection that failed before the request was sent); `0` turns
    /// retries off. Default: [`DEFAULT_RETRIES`] (2).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Trusts the root certificates in this PEM file instead of the built-in
    /// (Mozilla) roots, for a gateway or test server with its own CA; to
    /// trust both, put both in the file. An unreadable file, or one without
    /// a certificate, is an [`Error::Config`] from [`build`](Self::build).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Limit on one whole call, connecting and reading the body included.
    /// Default: [`DEFAULT_TIMEOUT`] (30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit on establishing the connection (DNS, TCP, TLS).
    /// Default: [`DEFAULT_CONNECT_TIMEOUT`] (10 s).
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

    /// Checks the settings and makes the [`Client`]. Nothing is sent.
    pub fn build(self) -> Result<Client, Error> {
        let config = |message: &str| Error::Config {
            message: message.to_owned(),
        };
        let base = parse_space(&self.space)?;
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
        let day = Duration::from_secs(86_400);
        if [self.timeout, self.connect_timeout]
            .iter()
            .any(|t| t.is_zero() || *t > day)
        {
            return Err(config(
                "timeouts must be longer than zero and at most a day",
            ));
        }

        let url = format!("{}{PATH}", base.url);
        let uri: Uri = url
            .parse()
            .map_err(|_| config("space does not make a valid URL"))?;

        let credentials = format!("{}:{}", self.project_id, self.api_token);
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut authorization = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| config("project_id and api_token make an invalid header"))?;
        authorization.set_sensitive(true);

        let proxy = match (&self.proxy, base.loopback) {
            (Proxy::Off, _) | (_, true) => None,
            (Proxy::FromEnv, false) => ureq::Proxy::try_from_env(),
            (Proxy::Url(url), false) => {
                Some(ureq::Proxy::new(url).map_err(|_| config("proxy is not a valid proxy URL"))?)
            }
        };
        // ureq is built without SOCKS support: only HTTP(S) CONNECT proxies work.
        if let Some(proxy) = &proxy {
            use ureq::ProxyProtocol::{Http, Https};
            if !matches!(proxy.protocol(), Http | Https) {
                return Err(config(
                    "proxy must be http:// or https:// (SOCKS is not built in); \
                     no_proxy() ignores the environment's",
                ));
            }
        }
        let user_agent = self
            .user_agent
            .unwrap_or_else(|| concat!("signalwire-pubsub/", env!("CARGO_PKG_VERSION")).into());
        if user_agent.is_empty()
            || !user_agent.is_ascii()
            || HeaderValue::from_str(&user_agent).is_err()
        {
            return Err(config("user_agent must be non-empty printable ASCII"));
        }
        let builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(!base.loopback)
            // Servers often close idle connections after 5 s; a POST on a
            // connection closed under it fails and is not retried.
            .max_idle_age(Duration::from_secs(4))
            .timeout_global(Some(self.timeout))
            .timeout_resolve(Some(self.connect_timeout))
            .timeout_connect(Some(self.connect_timeout))
            .user_agent(user_agent)
            .proxy(proxy);
        let mut tls = ureq::tls::TlsConfig::builder();
        #[cfg(feature = "native-tls")]
        {
            tls = tls.provider(ureq::tls::TlsProvider::NativeTls);
        }
        if let Some(path) = &self.ca_file {
            tls = tls.root_certs(load_roots(path)?);
        }
        let builder = builder.tls_config(tls.build());
        let agent = ureq::Agent::with_parts(
            builder.build(),
            transport::ClientConnector::new(&uri),
            transport::LazyResolver,
        );

        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                uri,
                url,
                project_id: self.project_id,
                api_token: self.api_token,
                authorization,
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                retries: self.retries,
            }),
        })
    }
}

/// The certificates of a PEM file, as the roots to trust.
fn load_roots(path: &Path) -> Result<ureq::tls::RootCerts, Error> {
    let config = |why: &str| Error::Config {
        message: format!("CA file {}: {why}", path.display()),
    };
    let pem = std::fs::read(path).map_err(|e| config(&e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(cert) = item.map_err(|_| config("bad PEM"))? {
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(config("no certificate in it"));
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

// ---------------------------------------------------------------------------
// Transport: ureq's connector chain, kept lean on a pooled connection
// ---------------------------------------------------------------------------

mod transport {
    //! ureq plumbing that keeps a call on a pooled connection down to what it
    //! needs: no name lookup (ureq 3.5 resolves before it looks in its pool, on a
    //! new thread whenever a timeout is set), the request sent in one write
    //! (ureq writes the head and the body separately), one probe of the pooled
    //! connection instead of two, and, on plain TCP, socket timeouts that stay
    //! the same from call to call (under TLS, ureq's adapter recomputes them
    //! below this wrapper). It relies on ureq calling `await_input` after
    //! sending a request, which it does whenever the connection's input
    //! buffer is empty, as it always is here (pooled connections are drained,
    //! TLS connections start fresh). Uses ureq's `unversioned` API, which
    //! ureq changes only in minor versions.

    use std::fmt;
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use std::time::{Duration, Instant};

    use ureq::config::Config;
    use ureq::http::uri::Authority;
    use ureq::http::Uri;
    use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
    use ureq::unversioned::transport::time::Duration as UreqDuration;
    use ureq::unversioned::transport::{
        Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
    };
    use ureq::{Error, Timeout};

    /// 0.0.0.0:0, never a real destination: "not resolved yet".
    const UNRESOLVED: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

    /// Past this many held bytes, [`OneWrite`] sends without waiting.
    const HOLD_AT_MOST: usize = 64 * 1024;

    /// The agent's resolver: ureq calls it on every request, before its pool
    /// lookup, so it only marks the addresses as unresolved.
    #[derive(Debug)]
    pub(crate) struct LazyResolver;

    impl Resolver for LazyResolver {
        fn resolve(
            &self,
            _: &Uri,
            _: &Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, Error> {
            let mut addrs = self.empty();
            addrs.push(UNRESOLVED);
            Ok(addrs)
        }
    }

    /// The agent's connector: ureq's own chain (TCP, CONNECT proxy, TLS), which
    /// only runs when a new connection is needed. It resolves the host first
    /// (ureq's resolver, the resolve timeout) and wraps connections to `host`
    /// in [`OneWrite`].
    #[derive(Debug)]
    pub(crate) struct ClientConnector {
        chain: DefaultConnector,
        host: Authority,
    }

    impl ClientConnector {
        pub(crate) fn new(uri: &Uri) -> ClientConnector {
            ClientConnector {
                chain: DefaultConnector::new(),
                host: uri
                    .authority()
                    .expect("the client's URI has a host")
                    .clone(),
            }
        }
    }

    impl Connector for ClientConnector {
        type Out = Box<dyn Transport>;

        fn connect(
            &self,
            details: &ConnectionDetails,
            chained: Option<()>,
        ) -> Result<Option<Self::Out>, Error> {
            let transport = if details.addrs[..] == [UNRESOLVED] {
                let resolver = DefaultResolver::default();
                let mut lookup = details.timeout;
                if let Some(limit) = details.config.timeouts().resolve {
                    if UreqDuration::Exact(limit) < lookup.after {
                        lookup.after = UreqDuration::Exact(limit);
                        lookup.reason = Timeout::Resolve;
                    }
                }
                let started = Instant::now();
                let addrs = resolver.resolve(details.uri, details.config, lookup)?;
                let mut timeout = details.timeout;
                if let UreqDuration::Exact(left) = timeout.after {
                    let left = left.saturating_sub(started.elapsed());
                    // ureq would read a zero budget as "1 s": stop here instead.
                    if left.is_zero() {
                        return Err(Error::Timeout(timeout.reason));
                    }
                    timeout.after = UreqDuration::Exact(left);
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
                self.chain.connect(&resolved, chained)?
            } else {
                // Behind a proxy ureq leaves the target unresolved on purpose.
                self.chain.connect(details, chained)?
            };
            // Not the connection to a CONNECT proxy, which ureq makes through this
            // connector too: the tunnel over it gets the one wrapper.
            if details.uri.authority() != Some(&self.host) {
                return Ok(transport);
            }
            Ok(transport.map(|inner| {
                Box::new(OneWrite {
                    inner,
                    held: Vec::new(),
                    skip_probe: false,
                }) as Box<dyn Transport>
            }))
        }
    }

    /// Holds what ureq transmits until it first waits for input, then sends it
    /// in one write; skips the probe ureq makes when it returns the connection to
    /// its pool right after reading (the one before reuse still runs); passes
    /// timeouts down rounded up to the millisecond, so that the socket's timeout
    /// options are set again only when that value changes.
    struct OneWrite {
        inner: Box<dyn Transport>,
        held: Vec<u8>,
        skip_probe: bool,
    }

    fn round_up_to_ms(mut timeout: NextTimeout) -> NextTimeout {
        if let UreqDuration::Exact(left) = timeout.after {
            let ms = left.as_nanos().div_ceil(1_000_000);
            timeout.after = UreqDuration::Exact(Duration::from_millis(ms as u64));
        }
        timeout
    }

    impl OneWrite {
        fn send_held(&mut self, timeout: NextTimeout) -> Result<(), Error> {
            let mut sent = 0;
            while sent < self.held.len() {
                let output = self.inner.buffers().output();
                let n = output.len().min(self.held.len() - sent);
                output[..n].copy_from_slice(&self.held[sent..sent + n]);
                self.inner.transmit_output(n, round_up_to_ms(timeout))?;
                sent += n;
            }
            self.held.clear();
            Ok(())
        }
    }

    impl Transport for OneWrite {
        fn buffers(&mut self) -> &mut dyn Buffers {
            self.inner.buffers()
        }

        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            let output = &self.inner.buffers().output()[..amount];
            self.held.extend_from_slice(output);
            if self.held.len() >= HOLD_AT_MOST {
                self.send_held(timeout)?;
            }
            Ok(())
        }

        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            self.send_held(timeout)?;
            self.skip_probe = true;
            self.inner.await_input(round_up_to_ms(timeout))
        }

        fn is_open(&mut self) -> bool {
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
}

// ---------------------------------------------------------------------------
// Space parsing: where requests go
// ---------------------------------------------------------------------------

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
        Some(at) => format!("[redacted]@{}", &space[at + 1..]),
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

// ---------------------------------------------------------------------------
// Retry timing
// ---------------------------------------------------------------------------

/// Full-jitter exponential backoff before retry number `attempt` (1-based):
/// a random wait up to `min(cap, base * 2^(attempt - 1))`.
fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let ceiling = RETRY_BACKOFF_BASE
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(RETRY_BACKOFF_CAP);
    // std's RandomState is randomly keyed per thread and per call: enough
    // randomness to spread clients apart, with no `rand` crate.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    ceiling.mul_f64(unit)
}

/// `Retry-After` as delta-seconds (`120`) or an HTTP date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), as a wait from `now`.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_weekday, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let mut hms = time
        .split(':')
        .map(|n| n.parse::<u64>().ok().filter(|n| *n < 61));
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let valid = (1..=31).contains(&day) && (1970..=9999).contains(&year);
    if !valid || h > 23 || m > 59 || hms.next().is_some() {
        return None;
    }
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    // Years 1970..=9999 keep this far from overflow.
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(
        u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s,
    ))?;
    Some(at.duration_since(now).unwrap_or_default())
}

// ---------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------

/// What a token grants on one channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Access {
    /// The holder may read (subscribe to) the channel.
    pub read: bool,
    /// The holder may write (publish) to the channel.
    pub write: bool,
}

impl Access {
    /// Read only.
    pub const READ: Access = Access {
        read: true,
        write: false,
    };
    /// Write only.
    pub const WRITE: Access = Access {
        read: false,
        write: true,
    };
    /// Read and write.
    pub const READ_WRITE: Access = Access {
        read: true,
        write: true,
    };
}

/// The body of a token request: a plain struct, to fill in by hand or with
/// the short helpers.
///
/// ```
/// use signalwire_pubsub::{Access, TokenRequest};
///
/// let request = TokenRequest::new(15).read("lobby").read_write("room-42").member_id("alice");
/// assert_eq!(request.channels["room-42"], Access::READ_WRITE);
/// assert_eq!(
///     request.to_json().unwrap(),
///     r#"{"ttl":15,"channels":{"lobby":{"read":true},"room-42":{"read":true,"write":true}},"member_id":"alice"}"#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// How long the token is valid, in minutes: 1 to [`MAX_TTL_MINUTES`].
    pub ttl: u32,
    /// The channels, by name, with what the token may do on each: 1 to
    /// [`MAX_CHANNELS`], names of 1 to [`MAX_CHANNEL_NAME_CHARS`] characters.
    pub channels: BTreeMap<String, Access>,
    /// The member's id, 1 to [`MAX_MEMBER_ID_CHARS`] characters. When absent
    /// the server picks a random UUID.
    pub member_id: Option<String>,
    /// A small JSON object the server keeps with the member.
    pub state: Option<State>,
}

impl TokenRequest {
    /// A request for a token valid `ttl_minutes`, with no channels yet.
    pub fn new(ttl_minutes: u32) -> Self {
        TokenRequest {
            ttl: ttl_minutes,
            ..TokenRequest::default()
        }
    }

    /// Sets what the token may do on `name`, replacing what was set before.
    pub fn channel(mut self, name: impl Into<String>, access: Access) -> Self {
        self.channels.insert(name.into(), access);
        self
    }

    /// Adds read access to `name` (keeping write access if already granted).
    pub fn read(self, name: impl Into<String>) -> Self {
        self.grant(name.into(), Access::READ)
    }

    /// Adds write access to `name` (keeping read access if already granted).
    pub fn write(self, name: impl Into<String>) -> Self {
        self.grant(name.into(), Access::WRITE)
    }

    /// Grants read and write access to `name`.
    pub fn read_write(self, name: impl Into<String>) -> Self {
        self.grant(name.into(), Access::READ_WRITE)
    }

    fn grant(mut self, name: String, access: Access) -> Self {
        let entry = self.channels.entry(name).or_default();
        entry.read |= access.read;
        entry.write |= access.write;
        self
    }

    /// Sets the member id.
    pub fn member_id(mut self, member_id: impl Into<String>) -> Self {
        self.member_id = Some(member_id.into());
        self
    }

    /// Sets the state from a JSON object.
    pub fn state(mut self, state: json::Object) -> Self {
        self.state = Some(State::from(state));
        self
    }

    /// Sets the state from JSON text, which must be an object. Text that is
    /// not is reported by [`validate`](Self::validate) as an
    /// [`Error::InvalidRequest`] for `state`.
    pub fn state_json(mut self, json_text: &str) -> Self {
        self.state = Some(State::parse(json_text).unwrap_or_else(|e| State {
            json: Err(match e {
                Error::InvalidRequest { message, .. } => message,
                other => other.to_string(),
            }),
        }));
        self
    }

    /// Checks every rule of the API; the error names the field, the limit and
    /// the value's size.
    ///
    /// ```
    /// use signalwire_pubsub::{Error, TokenRequest};
    ///
    /// let err = TokenRequest::new(43_201).read("lobby").validate().unwrap_err();
    /// assert!(matches!(err, Error::InvalidRequest { field: "ttl", .. }));
    /// assert_eq!(err.to_string(), "invalid request (nothing was sent): ttl must be 1 to 43200 minutes, got 43201");
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.checked_state().map(drop)
    }

    /// Validates, then writes the JSON body exactly as it is sent: absent
    /// fields are left out, a channel carries only the rights it grants.
    pub fn to_json(&self) -> Result<String, Error> {
        let state = self.checked_state()?;
        Ok(write_body(self, state))
    }

    /// Validates everything and hands back the state's JSON text, if any.
    fn checked_state(&self) -> Result<Option<&str>, Error> {
        let invalid =
            |field: &'static str, message: String| Error::InvalidRequest { field, message };
        if !(1..=MAX_TTL_MINUTES).contains(&self.ttl) {
            let message = format!(
                "ttl must be 1 to {MAX_TTL_MINUTES} minutes, got {}",
                self.ttl
            );
            return Err(invalid("ttl", message));
        }
        let count = self.channels.len();
        if !(1..=MAX_CHANNELS).contains(&count) {
            let message = format!("channels must name 1 to {MAX_CHANNELS} channels, got {count}");
            return Err(invalid("channels", message));
        }
        for (name, access) in &self.channels {
            let chars = name.chars().count();
            if !(1..=MAX_CHANNEL_NAME_CHARS).contains(&chars) {
                let message = format!(
                    "channel name {:?} must be 1 to {MAX_CHANNEL_NAME_CHARS} characters, got {chars}",
                    short(name)
                );
                return Err(invalid("channels", message));
            }
            if !access.read && !access.write {
                let message = format!("channel {:?} must grant read, write or both", short(name));
                return Err(invalid("channels", message));
            }
        }
        if let Some(member_id) = &self.member_id {
            let chars = member_id.chars().count();
            if !(1..=MAX_MEMBER_ID_CHARS).contains(&chars) {
                let message =
                    format!("member_id must be 1 to {MAX_MEMBER_ID_CHARS} characters, got {chars}");
                return Err(invalid("member_id", message));
            }
        }
        let Some(state) = &self.state else {
            return Ok(None);
        };
        let text = state
            .json
            .as_deref()
            .map_err(|e| invalid("state", e.clone()))?;
        let chars = text.chars().count();
        if chars > MAX_STATE_CHARS {
            let message = format!(
                "state must be at most {MAX_STATE_CHARS} characters as serialized JSON, got {chars}"
            );
            return Err(invalid("state", message));
        }
        Ok(Some(text))
    }
}

/// The first characters of a name, for error messages.
fn short(name: &str) -> String {
    let mut s: String = name.chars().take(40).collect();
    if s.len() < name.len() {
        s.push('…');
    }
    s
}

/// The member's `state`: a JSON object, kept as its compact serialization.
///
/// Made from a [`miniserde::json::Object`] (`State::from(object)`) or parsed
/// from text ([`State::parse`]), and sent as miniserde writes it: compact,
/// keys in sorted order, the last of duplicate keys kept, and integers beyond
/// 64 bits turned into floating point. The size limit applies to that text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The compact JSON text, or why the text given was not a JSON object.
    json: Result<String, String>,
}

impl State {
    /// Parses JSON text that must be an object; [`Error::InvalidRequest`] for
    /// `state` otherwise.
    pub fn parse(json_text: &str) -> Result<State, Error> {
        match json::from_str::<json::Value>(json_text) {
            Ok(json::Value::Object(object)) => Ok(State::from(object)),
            Ok(_) => Err(Error::InvalidRequest {
                field: "state",
                message: "state must be a JSON object, got another JSON value".into(),
            }),
            Err(_) => Err(Error::InvalidRequest {
                field: "state",
                message: "state must be a JSON object, got text that is not valid JSON".into(),
            }),
        }
    }

    /// The compact JSON text sent, if the state is valid.
    pub fn as_json(&self) -> Option<&str> {
        self.json.as_deref().ok()
    }
}

impl std::str::FromStr for State {
    type Err = Error;

    /// Same as [`State::parse`].
    fn from_str(json_text: &str) -> Result<State, Error> {
        State::parse(json_text)
    }
}

impl From<json::Object> for State {
    fn from(object: json::Object) -> Self {
        State {
            json: Ok(json::to_string(&object)),
        }
    }
}

// ---------------------------------------------------------------------------
// Wire format: request body out, response body in
// ---------------------------------------------------------------------------

/// Writes the request body into one buffer sized up front.
fn write_body(request: &TokenRequest, state: Option<&str>) -> String {
    let channels: usize = request.channels.keys().map(|n| n.len() + 32).sum();
    let extra =
        request.member_id.as_ref().map_or(0, |m| m.len() + 16) + state.map_or(0, |s| s.len() + 10);
    let mut out = String::with_capacity(40 + channels + extra);
    out.push_str("{\"ttl\":");
    let _ = write!(out, "{}", request.ttl);
    out.push_str(",\"channels\":{");
    for (i, (name, access)) in request.channels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push_str(match (access.read, access.write) {
            (true, true) => ":{\"read\":true,\"write\":true}",
            (true, false) => ":{\"read\":true}",
            _ => ":{\"write\":true}",
        });
    }
    out.push('}');
    if let Some(member_id) = &request.member_id {
        out.push_str(",\"member_id\":");
        push_json_string(&mut out, member_id);
    }
    if let Some(state) = state {
        out.push_str(",\"state\":");
        out.push_str(state);
    }
    out.push('}');
    out
}

/// Whether `bytes` hold no quote, backslash or control character: one
/// branch-free pass, which the compiler vectorizes (`all()` would not).
fn is_plain(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    })
}

/// Appends `s` as a JSON string literal: whole when it needs no escape (the
/// usual case), else the runs between escapes whole (the escaped bytes are
/// ASCII, so every split is on a char boundary).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    if is_plain(s.as_bytes()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

miniserde::make_place!(Place);

/// `{"token": "..."}`: the 2xx body.
struct TokenBody {
    token: String,
}

/// `{"error": "..."}` and/or `{"errors": [...]}`: an error body.
struct ErrorBody {
    error: Option<String>,
    errors: Option<Vec<ErrorItem>>,
}

fn decode_token(body: &[u8]) -> Result<String, &'static str> {
    // What the API sends, `{"token":"…"}` with nothing to unescape, is
    // sliced out; anything else goes through the parser.
    if let Some(inner) = body
        .trim_ascii()
        .strip_prefix(b"{\"token\":\"")
        .and_then(|rest| rest.strip_suffix(b"\"}"))
    {
        if !inner.is_empty() && is_plain(inner) {
            if let Ok(token) = std::str::from_utf8(inner) {
                return Ok(token.to_owned());
            }
        }
    }
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8")?;
    let parsed: TokenBody =
        json::from_str(text).map_err(|_| "body is not the JSON object {\"token\": string}")?;
    if parsed.token.is_empty() {
        return Err("token is empty");
    }
    Ok(parsed.token)
}

fn decode_error_body(body: &[u8]) -> Option<ErrorBody> {
    json::from_str(std::str::from_utf8(body).ok()?).ok()
}

// Each decoded type is a miniserde `Place` whose `map` hands out a builder:
// the builder gives each known key a slot, skips other keys, and `finish`
// moves the slots into the value (failing when a required one is empty).

impl Deserialize for TokenBody {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

impl Visitor for Place<TokenBody> {
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        Ok(Box::new(TokenBodyBuilder {
            out: &mut self.out,
            token: None,
        }))
    }
}

struct TokenBodyBuilder<'a> {
    out: &'a mut Option<TokenBody>,
    token: Option<String>,
}

impl Map for TokenBodyBuilder<'_> {
    fn key(&mut self, k: &str) -> miniserde::Result<&mut dyn Visitor> {
        Ok(match k {
            "token" => Deserialize::begin(&mut self.token),
            _ => <dyn Visitor>::ignore(),
        })
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        let token = self.token.take().ok_or(miniserde::Error)?;
        *self.out = Some(TokenBody { token });
        Ok(())
    }
}

impl Deserialize for ErrorBody {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

impl Visitor for Place<ErrorBody> {
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        Ok(Box::new(ErrorBodyBuilder {
            out: &mut self.out,
            error: None,
            errors: None,
        }))
    }
}

struct ErrorBodyBuilder<'a> {
    out: &'a mut Option<ErrorBody>,
    error: Option<Option<String>>,
    errors: Option<Option<Vec<ErrorItem>>>,
}

impl Map for ErrorBodyBuilder<'_> {
    fn key(&mut self, k: &str) -> miniserde::Result<&mut dyn Visitor> {
        Ok(match k {
            "error" => Deserialize::begin(&mut self.error),
            "errors" => Deserialize::begin(&mut self.errors),
            _ => <dyn Visitor>::ignore(),
        })
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        *self.out = Some(ErrorBody {
            error: self.error.take().flatten(),
            errors: self.errors.take().flatten(),
        });
        Ok(())
    }
}

impl Deserialize for ErrorItem {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

impl Visitor for Place<ErrorItem> {
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        Ok(Box::new(ErrorItemBuilder {
            out: &mut self.out,
            kind: None,
            code: None,
            message: None,
            attribute: None,
            url: None,
        }))
    }
}

struct ErrorItemBuilder<'a> {
    out: &'a mut Option<ErrorItem>,
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
    attribute: Option<Option<String>>,
    url: Option<String>,
}

impl Map for ErrorItemBuilder<'_> {
    fn key(&mut self, k: &str) -> miniserde::Result<&mut dyn Visitor> {
        Ok(match k {
            "type" => Deserialize::begin(&mut self.kind),
            "code" => Deserialize::begin(&mut self.code),
            "message" => Deserialize::begin(&mut self.message),
            "attribute" => Deserialize::begin(&mut self.attribute),
            "url" => Deserialize::begin(&mut self.url),
            _ => <dyn Visitor>::ignore(),
        })
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        let required = |slot: &mut Option<String>| slot.take().ok_or(miniserde::Error);
        *self.out = Some(ErrorItem {
            kind: required(&mut self.kind)?,
            code: required(&mut self.code)?,
            message: required(&mut self.message)?,
            attribute: self.attribute.take().flatten(),
            url: required(&mut self.url)?,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------

/// A minted token. Its `Debug` output shows everything but the token.
///
/// The token is opaque: its claims are not documented, so its expiry is
/// computed here from the ttl asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct PubSubToken {
    token: String,
    member_id: Option<String>,
    expires_at: SystemTime,
    attempts: u32,
}

impl PubSubToken {
    /// Decodes a 2xx response body, `{"token": "..."}`, as [`Client::create_token`]
    /// does: the token must be a non-empty string; other keys are ignored.
    /// `expires_at` is `sent_at` plus the request's ttl. Useful for bodies
    /// fetched another way, tests and benchmarks; the error says what is
    /// wrong without quoting the body.
    ///
    /// ```
    /// use signalwire_pubsub::{PubSubToken, TokenRequest};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let request = TokenRequest::new(2).read("lobby");
    /// let token = PubSubToken::from_body(br#"{"token":"a.b.c"}"#, &request, UNIX_EPOCH).unwrap();
    /// assert_eq!(token.token(), "a.b.c");
    /// assert_eq!(token.expires_at(), UNIX_EPOCH + Duration::from_secs(120));
    /// assert!(PubSubToken::from_body(br#"{"token":""}"#, &request, UNIX_EPOCH).is_err());
    /// ```
    pub fn from_body(
        body: &[u8],
        request: &TokenRequest,
        sent_at: SystemTime,
    ) -> Result<PubSubToken, &'static str> {
        Ok(PubSubToken {
            token: decode_token(body)?,
            member_id: request.member_id.clone(),
            expires_at: sent_at
                .checked_add(Duration::from_secs(u64::from(request.ttl) * 60))
                .ok_or("expiry is out of range")?,
            attempts: 1,
        })
    }

    /// How many HTTP attempts the call took (1 when the first succeeded).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The token to hand to the browser or device. Keep it out of logs.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token, by value.
    pub fn into_token(self) -> String {
        self.token
    }

    /// The member id that was sent, if any (when none was, the server picked
    /// one and did not say which).
    pub fn member_id(&self) -> Option<&str> {
        self.member_id.as_deref()
    }

    /// When the token expires: the time the request was sent plus the ttl, so
    /// slightly before the server's own expiry.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

impl fmt::Debug for PubSubToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSubToken")
            .field("token", &REDACTED)
            .field("member_id", &self.member_id)
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Everything that can go wrong, one variant per case a caller may handle
/// differently. No variant's `Display` or `Debug` contains a secret.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request breaks a rule of the API; nothing was sent.
    InvalidRequest {
        /// The field at fault: `ttl`, `channels`, `member_id` or `state`.
        field: &'static str,
        /// What the rule is and what the value was.
        message: String,
    },
    /// The client's settings are unusable (space, credentials, environment,
    /// proxy, timeouts); nothing was sent.
    Config {
        /// What is wrong, naming the setting or variable.
        message: String,
    },
    /// 400: the server could not read the request.
    BadRequest(Box<ApiError>),
    /// 401: the project id or API token is wrong.
    Unauthorized(Box<ApiError>),
    /// 403: the API token lacks the PubSub scope.
    Forbidden(Box<ApiError>),
    /// 404: no such endpoint; the space or path prefix is probably wrong.
    NotFound(Box<ApiError>),
    /// 422: the server rejected the parameters; see [`ApiError::errors`].
    Unprocessable(Box<ApiError>),
    /// 429: rate limited.
    RateLimited(Box<ApiError>),
    /// 5xx: the server failed.
    Server(Box<ApiError>),
    /// Any other status that is not 2xx, redirects included (they are not
    /// followed).
    UnexpectedStatus(Box<ApiError>),
    /// The connection failed or broke: DNS, refused, TLS, I/O, HTTP protocol.
    Transport {
        /// Which stage failed.
        kind: TransportKind,
        /// How many attempts were made.
        attempts: u32,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The call ran past its time limit.
    Timeout {
        /// `true` when the limit hit was the connect timeout.
        connecting: bool,
        /// The limit that was hit.
        limit: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A 2xx response whose body is not `{"token": "<non-empty string>"}`
    /// (or is over 64 KiB). The body is not quoted: it may hold a token.
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// The request id the server sent, if any.
        request_id: Option<String>,
        /// What is wrong with the body.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
}

/// Which stage of the connection failed, for [`Error::Transport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// The host name did not resolve.
    Dns,
    /// The connection was refused or could not be made (proxy included).
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// Reading or writing the connection failed (reset, closed early).
    Io,
    /// The server's HTTP was malformed (or its headers too large).
    Protocol,
    /// Anything else ureq reported.
    Other,
}

/// What the server said when it answered with an error status.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// From `x-request-id` or `x-signalwire-request-id`, for support tickets.
    pub request_id: Option<String>,
    /// The `error` string of bodies like `{"error": "Unauthorized"}`.
    pub message: Option<String>,
    /// The `errors` items of a 422 body, in order.
    pub errors: Vec<ErrorItem>,
    /// The first 200 characters of a body that was not such JSON.
    pub body_prefix: Option<String>,
    /// The wait the server asked for in `Retry-After` (seconds or HTTP date).
    pub retry_after: Option<Duration>,
    /// How many attempts were made, this one included.
    pub attempts: u32,
}

/// One item of a 422 body's `errors` list.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorItem {
    /// The category of error (`type` in the JSON), e.g. `validation_error`.
    pub kind: String,
    /// The error code, e.g. `invalid_parameter`.
    pub code: String,
    /// A description of what caused the error.
    pub message: String,
    /// The request parameter at fault, when the server names one.
    pub attribute: Option<String>,
    /// A link to documentation about this error.
    pub url: String,
}

impl Error {
    /// The HTTP status, for errors that come with a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::InvalidResponse { status, .. } => Some(*status),
            _ => self.api().map(|api| api.status),
        }
    }

    /// How many HTTP attempts were made: 0 for errors raised before sending.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Transport { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::InvalidResponse { attempts, .. } => *attempts,
            _ => self.api().map_or(0, |api| api.attempts),
        }
    }

    /// Whether the client retries this error: 429, 502, 503, 504, a
    /// connection that could not be made, or a connect timeout. (A 502 or 504
    /// from a gateway may hide a token minted upstream; it then goes unused.)
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited(_) => true,
            Error::Server(api) => matches!(api.status, 502..=504),
            Error::Transport { kind, .. } => *kind == TransportKind::Connect,
            Error::Timeout { connecting, .. } => *connecting,
            _ => false,
        }
    }

    /// The server's answer, for the status variants.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::BadRequest(api)
            | Error::Unauthorized(api)
            | Error::Forbidden(api)
            | Error::NotFound(api)
            | Error::Unprocessable(api)
            | Error::RateLimited(api)
            | Error::Server(api)
            | Error::UnexpectedStatus(api) => Some(api),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)?;
        match self.attempts() {
            n if n > 1 => write!(f, " (after {n} attempts)"),
            _ => Ok(()),
        }
    }
}

impl Error {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Error::InvalidRequest { message, .. } => {
                return write!(f, "invalid request (nothing was sent): {message}")
            }
            Error::Config { message } => return write!(f, "invalid configuration: {message}"),
            Error::Transport { kind, .. } => {
                let what = match kind {
                    TransportKind::Dns => "the host name did not resolve",
                    TransportKind::Connect => "could not connect",
                    TransportKind::Tls => "the TLS handshake or certificate check failed",
                    TransportKind::Io => "the connection broke",
                    TransportKind::Protocol => "the response is not valid HTTP",
                    TransportKind::Other => "the request failed",
                };
                return write!(f, "transport error ({kind:?}): {what}");
            }
            Error::Timeout {
                connecting, limit, ..
            } => {
                let stage = if *connecting {
                    "connecting"
                } else {
                    "the call"
                };
                return write!(f, "timed out: {stage} took longer than {limit:?}");
            }
            Error::InvalidResponse {
                status,
                request_id,
                reason,
                ..
            } => {
                write!(f, "invalid response to a {status}: {reason}")?;
                return write_request_id(f, request_id.as_deref());
            }
            Error::BadRequest(_) => "bad request",
            Error::Unauthorized(_) => "unauthorized: check the project id and API token",
            Error::Forbidden(_) => "forbidden: the API token lacks the PubSub scope",
            Error::NotFound(_) => "not found: check the space",
            Error::Unprocessable(_) => "the server rejected the request",
            Error::RateLimited(_) => "rate limited",
            Error::Server(_) => "server error",
            Error::UnexpectedStatus(_) => "unexpected status",
        };
        let api = self.api().expect("status variants carry an ApiError");
        write!(f, "{what} (HTTP {})", api.status)?;
        if let Some(message) = &api.message {
            write!(f, ": {message}")?;
        }
        for item in &api.errors {
            write!(f, "; {}", item.code)?;
            if let Some(attribute) = &item.attribute {
                write!(f, " ({attribute})")?;
            }
            write!(f, ": {}", item.message)?;
        }
        if let Some(prefix) = &api.body_prefix {
            write!(f, "; body: {prefix}")?;
        }
        write_request_id(f, api.request_id.as_deref())
    }
}

fn write_request_id(f: &mut fmt::Formatter<'_>, request_id: Option<&str>) -> fmt::Result {
    match request_id {
        Some(id) => write!(f, " [request id {id}]"),
        None => Ok(()),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport { source, .. } => Some(&**source),
            _ => None,
        }
    }
}
