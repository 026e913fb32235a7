//! The client: a call, its attempts, and what each failed attempt means.

use std::fmt;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use ureq::http::{header, HeaderMap, HeaderValue, Method, Request, Uri};

use crate::cancel::Cancel;
use crate::config::{ClientBuilder, Settings};
use crate::deadline::{check_timeout, Deadline};
use crate::error::{ApiError, Error, TransportKind, REQUEST_ID_HEADERS};
use crate::logging::{self, log_at};
use crate::request::{Service, TokenRequest};
use crate::response::{read_error_body, Token, MAX_RESPONSE_BYTES};
use crate::retry::{parse_retry_after, Retries};
use crate::scope::{self, CallScope, Stage};
use crate::secrets::{Secrets, REDACTED};
use crate::transport;

/// A client for one SignalWire space and project.
///
/// Cheap to clone (it is an `Arc`), `Send + Sync`, and keeps connections
/// alive between calls. Its `Debug` output never shows the API token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// What a client holds, made once from the builder's settings.
struct Inner {
    agent: ureq::Agent,
    endpoints: Endpoints,
    project_id: String,
    /// The headers of every request, made once: `Host`, `User-Agent`,
    /// `Authorization` (marked sensitive), `Content-Type`, `Accept`.
    headers: HeaderMap,
    /// The API token and the credentials, searched for in server text.
    secrets: Secrets,
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
        ClientBuilder::new(space, project_id, api_token)
    }

    /// The client the checked `settings` describe: the only place a
    /// `Client` is made.
    fn with_settings(settings: Settings) -> Result<Client, Error> {
        let endpoints = Endpoints::new(&settings.base_url)?;
        let credentials = format!("{}:{}", settings.project_id, settings.api_token);
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let invalid = |what: &str| Error::Config {
            message: format!("{what}: not a valid header value"),
            source: None,
        };
        let mut authorization = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| invalid("project_id and api_token"))?;
        authorization.set_sensitive(true);
        let host = host_header(endpoints.host()).ok_or_else(|| invalid("the space's host"))?;
        let mut headers = HeaderMap::with_capacity(5);
        headers.insert(header::HOST, host);
        headers.insert(header::USER_AGENT, settings.user_agent);
        headers.insert(header::AUTHORIZATION, authorization);
        let json = HeaderValue::from_static("application/json");
        headers.insert(header::CONTENT_TYPE, json.clone());
        headers.insert(header::ACCEPT, json);
        let agent = transport::agent(settings.agent_config, endpoints.host());
        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                endpoints,
                secrets: Secrets::new(&settings.api_token, &encoded),
                project_id: settings.project_id,
                headers,
                timeout: settings.timeout,
                connect_timeout: settings.connect_timeout,
                retries: settings.retries,
            }),
        })
    }
}

impl ClientBuilder {
    /// Checks the settings and makes the [`Client`]. Nothing is sent.
    pub fn build(self) -> Result<Client, Error> {
        Client::with_settings(self.settings()?)
    }
}

/// The `Host` header for `uri`: its host, and its port unless the scheme's
/// default (as ureq would write it).
fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let value = match uri.port_u16() {
        Some(port) if Some(port) != uri.scheme().and_then(default_port) => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    HeaderValue::from_str(&value).ok()
}

fn default_port(scheme: &ureq::http::uri::Scheme) -> Option<u16> {
    match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// Where each service's requests go: one field per [`Service`], so that a
/// new service does not compile until it has its endpoint.
struct Endpoints {
    pubsub: Endpoint,
    chat: Endpoint,
}

struct Endpoint {
    uri: Uri,
    url: String,
}

impl Endpoints {
    /// The endpoints under `base` (`scheme://host[:port][/prefix]`).
    fn new(base: &str) -> Result<Endpoints, Error> {
        let at = |service: Service| {
            let url = format!("{base}{}", service.path());
            let uri = url.parse().map_err(|_| Error::Config {
                message: "space does not make a valid URL".to_owned(),
                source: None,
            })?;
            Ok(Endpoint { uri, url })
        };
        Ok(Endpoints {
            pubsub: at(Service::PubSub)?,
            chat: at(Service::Chat)?,
        })
    }

    fn get(&self, service: Service) -> &Endpoint {
        match service {
            Service::PubSub => &self.pubsub,
            Service::Chat => &self.chat,
        }
    }

    /// A URI with the host all endpoints share.
    fn host(&self) -> &Uri {
        &self.pubsub.uri
    }
}

impl Client {
    /// The full URL PubSub token requests go to.
    pub fn url(&self) -> &str {
        self.url_for(Service::PubSub)
    }

    /// The full URL requests for `service`'s tokens go to.
    pub fn url_for(&self, service: Service) -> &str {
        &self.inner.endpoints.get(service).url
    }

    /// Mints a PubSub token (`POST /api/pubsub/tokens`) with the client's
    /// settings: validates `request`, then sends it, retrying what is safe to
    /// retry. The same as `self.call().create_token(request)`; see
    /// [`Call::create_token`].
    pub fn create_token(&self, request: &TokenRequest) -> Result<Token, Error> {
        self.call().create_token(request)
    }

    /// Mints a Chat token (`POST /api/chat/tokens`) with the client's
    /// settings; see [`Call::create_chat_token`].
    pub fn create_chat_token(&self, request: &TokenRequest) -> Result<Token, Error> {
        self.call().create_chat_token(request)
    }

    /// Mints a token of either kind with the client's settings; see
    /// [`Call::mint`].
    pub fn mint(&self, service: Service, request: &TokenRequest) -> Result<Token, Error> {
        self.call().mint(service, request)
    }

    /// Options for one call, the client's settings where none is given; the
    /// client itself is unchanged.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use signalwire_pubsub::{Cancel, Client, TokenRequest};
    ///
    /// # fn main() -> Result<(), signalwire_pubsub::Error> {
    /// let client = Client::from_env()?;
    /// let request = TokenRequest::new(15).read("lobby");
    /// let cancel = Cancel::new(); // cancel.cancel() from any thread ends the call
    /// let token = client
    ///     .call()
    ///     .timeout(Duration::from_secs(3)) // this call only, retries included
    ///     .retries(0)
    ///     .cancel_on(&cancel)
    ///     .create_token(&request)?;
    /// # drop(token);
    /// # Ok(())
    /// # }
    /// ```
    pub fn call(&self) -> Call<'_> {
        Call {
            client: self,
            timeout: None,
            retries: None,
            cancel: None,
        }
    }

    /// One HTTP exchange within the deadline: the token, or the error with
    /// how far the attempt got.
    fn attempt(
        &self,
        service: Service,
        body: &str,
        request: &TokenRequest,
        deadline: Deadline,
        retries: &Retries,
    ) -> Result<Token, (Error, Stage)> {
        let attempts = retries.attempt;
        if deadline.has_passed() {
            let err = self.timeout_error(deadline, false, attempts, false);
            return Err((err, Stage::NotSent));
        }
        scope::start_attempt(deadline.end(), body.len());
        let sent_at = SystemTime::now();
        let failed = |e| self.transport_error(e, deadline, attempts);
        let mut response = (self.send(service, body, retries)).map_err(failed)?;
        let status = response.status().as_u16();
        let body = read_body(response.body_mut()).map_err(failed)?;
        let headers = response.headers();
        if !(200..300).contains(&status) {
            let err = self.api_error(status, headers, body.as_deref(), attempts);
            return Err((err, Stage::Sent));
        }
        let token = Token::from_response(body.as_deref(), request, sent_at, attempts);
        token.map_err(|invalid| {
            let err = Error::InvalidResponse {
                status,
                request_id: self.request_id(headers),
                reason: invalid.reason().to_owned(),
                attempts,
            };
            (err, Stage::Sent)
        })
    }

    /// Sends the request with the agent's own settings (the deadline is
    /// kept below ureq, `transport/`), on a new connection when the pooled
    /// one was stale.
    fn send(
        &self,
        service: Service,
        body: &str,
        retries: &Retries,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let inner = &*self.inner;
        let mut request = Request::new(body.as_bytes());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = inner.endpoints.get(service).uri.clone();
        *request.headers_mut() = inner.headers.clone();
        if retries.fresh_connection {
            let fresh = inner.agent.configure_request(request);
            request = fresh.max_idle_age(Duration::ZERO).build();
        }
        inner.agent.run(request)
    }

    /// The error for an answer with an error status: what the server said,
    /// made printable, in the status's variant.
    fn api_error(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        attempts: u32,
    ) -> Error {
        let retry_after = (headers.get(header::RETRY_AFTER))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let mut api = ApiError {
            status,
            request_id: self.request_id(headers),
            message: None,
            errors: Vec::new(),
            body_prefix: None,
            retry_after,
            attempts,
        };
        read_error_body(&mut api, body, &self.inner.secrets);
        Error::from_status(api)
    }

    /// The request id of a response (see [`REQUEST_ID_HEADERS`]), made
    /// printable.
    fn request_id(&self, headers: &HeaderMap) -> Option<String> {
        let id = (REQUEST_ID_HEADERS.iter())
            .filter_map(|name| headers.get(*name))
            .find(|id| !id.as_bytes().trim_ascii().is_empty())?;
        Some(
            self.inner
                .secrets
                .printable(&String::from_utf8_lossy(id.as_bytes())),
        )
    }

    /// A timeout: the connect timeout's if `connecting`, else the call's.
    fn timeout_error(
        &self,
        deadline: Deadline,
        connecting: bool,
        attempts: u32,
        request_sent: bool,
    ) -> Error {
        Error::Timeout {
            connecting,
            limit: if connecting {
                self.inner.connect_timeout
            } else {
                deadline.timeout()
            },
            attempts,
            request_sent,
        }
    }

    /// A failure of ureq's, classified by how far the attempt got and which
    /// limit bound it (recorded by the transport as it went), never by the
    /// error's text.
    fn transport_error(&self, e: ureq::Error, deadline: Deadline, attempts: u32) -> (Error, Stage) {
        let progress = scope::progress();
        let stage = progress.stage();
        let request_sent = stage != Stage::NotSent;
        let kind = match &e {
            // ureq may name the connect timeout when the deadline cut the
            // connect: the record says which limit bound.
            e if is_timeout(e) => {
                let connecting = progress.connect_timed_out();
                let err = self.timeout_error(deadline, connecting, attempts, request_sent);
                return (err, stage);
            }
            ureq::Error::HostNotFound => TransportKind::NoAddress,
            _ if progress.resolving => TransportKind::Dns,
            ureq::Error::Tls(_) | ureq::Error::TlsRequired => TransportKind::Tls,
            #[cfg(feature = "rustls")]
            ureq::Error::Rustls(_) => TransportKind::Tls,
            #[cfg(feature = "native-tls")]
            ureq::Error::NativeTls(_) | ureq::Error::Der(_) => TransportKind::Tls,
            // rustls reports a failed handshake or a bad record (an unknown
            // issuer, say) through its stream as I/O of kind InvalidData.
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                TransportKind::Tls
            }
            _ if !request_sent => TransportKind::Connect,
            ureq::Error::Io(_) => TransportKind::Io,
            ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => {
                TransportKind::Protocol
            }
            _ => TransportKind::Other,
        };
        let error = Error::Transport {
            kind,
            attempts,
            request_sent,
            source: self.inner.secrets.printable_error(e),
        };
        (error, stage)
    }
}

/// Options for one call, made by [`Client::call`]: a timeout and retries of
/// its own, and a [`Cancel`] handle that ends it. What is not set is the
/// client's. A `Call` only borrows the client: it costs nothing to make,
/// and almost nothing on the request path when no option is set (a
/// thread-local set and restored).
#[derive(Clone, Debug)]
#[must_use = "a call does nothing until create_token, create_chat_token or mint"]
pub struct Call<'a> {
    client: &'a Client,
    timeout: Option<Duration>,
    retries: Option<u32>,
    cancel: Option<Cancel>,
}

impl Call<'_> {
    /// Limit on this whole call, retries and waits included, instead of the
    /// client's [`timeout`](crate::ClientBuilder::timeout); the same limits
    /// ([`MIN_TIMEOUT`](crate::MIN_TIMEOUT) to
    /// [`MAX_TIMEOUT`](crate::MAX_TIMEOUT)), or the call is an
    /// [`Error::Config`] and nothing is sent. The connect timeout stays the
    /// client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How many times this call may retry, instead of the client's
    /// [`retries`](crate::ClientBuilder::retries). As there, `0` keeps the
    /// one immediate retry of a kept-alive connection the server had closed.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// Ends this call with [`Error::Cancelled`] when `cancel` is cancelled,
    /// wherever it is (see [`Cancel`] for the two steps that end only when
    /// they return); a call started on a cancelled handle sends nothing.
    pub fn cancel_on(mut self, cancel: &Cancel) -> Self {
        self.cancel = Some(cancel.clone());
        self
    }

    /// Mints a PubSub token (`POST /api/pubsub/tokens`): validates
    /// `request`, then sends it, retrying what is safe to retry.
    ///
    /// A request that breaks a rule of the API is an
    /// [`Error::InvalidRequest`] and nothing is sent. Otherwise the call makes
    /// up to 1 + `retries` attempts (what is retried:
    /// [`Error::is_retryable`]), within its timeout (the rule:
    /// [`ClientBuilder::timeout`]). The error of the last attempt is
    /// returned, with the number of attempts made.
    pub fn create_token(&self, request: &TokenRequest) -> Result<Token, Error> {
        self.mint(Service::PubSub, request)
    }

    /// Mints a Chat token (`POST /api/chat/tokens`): the same body, headers,
    /// deadline, retries and errors as [`create_token`](Self::create_token),
    /// with Chat's extra rule checked before sending (no channel name may
    /// start with `sw_`). The API token needs the Chat scope.
    pub fn create_chat_token(&self, request: &TokenRequest) -> Result<Token, Error> {
        self.mint(Service::Chat, request)
    }

    /// Mints a token of either kind; see [`create_token`](Self::create_token).
    pub fn mint(&self, service: Service, request: &TokenRequest) -> Result<Token, Error> {
        let started = Instant::now();
        let result = self.run(service, request);
        logging::outcome(service, &result, started.elapsed());
        result
    }

    /// The call: its settings and request checked, then its attempts, until
    /// one mints a token or no retry is left (or the call is cancelled).
    fn run(&self, service: Service, request: &TokenRequest) -> Result<Token, Error> {
        let client = self.client;
        let timeout = match self.timeout {
            Some(timeout) => check_timeout("the call's timeout", timeout)?,
            None => client.inner.timeout,
        };
        let body = request.to_json_for(service)?;
        let body = body.as_str();
        let deadline = Deadline::start(timeout);
        let scope = CallScope::enter(self.cancel.as_ref());
        // Whether a request of this call may have reached the server.
        let mut any_request_sent = false;
        let cancelled = |attempts, request_sent, any_request_sent| {
            (scope.is_cancelled()).then_some(Error::Cancelled {
                attempts,
                request_sent,
                any_request_sent,
            })
        };
        if let Some(err) = cancelled(0, false, false) {
            return Err(err);
        }
        let mut retries = Retries::new(self.retries.unwrap_or(client.inner.retries));
        loop {
            let attempts = retries.attempt;
            log_at!(
                debug,
                "{service} attempt {attempts}: POST {}",
                client.url_for(service)
            );
            let (err, stage) = match client.attempt(service, body, request, deadline, &retries) {
                Ok(token) => return Ok(token),
                Err(failed) => failed,
            };
            let sent = stage != Stage::NotSent;
            any_request_sent |= sent;
            // A cancel shows as a broken connection: it ends the call, never
            // a retry.
            if let Some(err) = cancelled(attempts, sent, any_request_sent) {
                return Err(err);
            }
            let Some(delay) = retries.after(&err, stage, deadline) else {
                return Err(err);
            };
            log_at!(
                info,
                "{service} attempt {attempts} failed ({}); retrying in {delay:?}",
                logging::failure(&err, Some(stage))
            );
            if !delay.is_zero() {
                scope.sleep(delay);
            }
            if let Some(err) = cancelled(attempts, sent, any_request_sent) {
                return Err(err);
            }
        }
    }
}

/// A response's body, read to its end within [`MAX_RESPONSE_BYTES`]:
/// `None` when it is longer (a declared length over the cap is refused
/// before anything is read). A token's length is declared: one buffer of
/// that size, filled by one read, and a second that sees the end.
fn read_body(body: &mut ureq::Body) -> Result<Option<Vec<u8>>, ureq::Error> {
    let declared = body.content_length();
    if declared.is_some_and(|len| len > MAX_RESPONSE_BYTES) {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |len| len as usize));
    let mut reader = body.with_config().limit(MAX_RESPONSE_BYTES).reader();
    match reader.read_to_end(&mut bytes).map_err(ureq::Error::from) {
        Ok(_) => Ok(Some(bytes)),
        Err(ureq::Error::BodyExceedsLimit(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether ureq's error is a timeout (its own, or a socket's).
fn is_timeout(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::TimedOut,
        _ => false,
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url())
            .field("project_id", &self.inner.project_id)
            .field("api_token", &REDACTED)
            .field("timeout", &self.inner.timeout)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("retries", &self.inner.retries)
            .finish()
    }
}
