//! Errors: one enum a caller can match on, the status table, and what is
//! retried.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Everything that can go wrong, one variant per case a caller may handle
/// differently. No variant's `Display` or `Debug` contains a secret, and all
/// text from the server in it has been made printable (see
/// [Secrets](crate#secrets)).
///
/// The enum and its struct variants are `#[non_exhaustive]`: match with `..`
/// and a wildcard arm, or use the accessors ([`status`](Self::status),
/// [`field`](Self::field), [`request_id`](Self::request_id),
/// [`retry_after`](Self::retry_after), [`attempts`](Self::attempts)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request breaks a rule of the API; nothing was sent.
    #[non_exhaustive]
    InvalidRequest {
        /// The field at fault.
        field: Field,
        /// What the rule is and what the value was.
        message: String,
    },
    /// The client's settings are unusable (space, credentials, environment,
    /// proxy, timeouts, CA file); nothing was sent.
    #[non_exhaustive]
    Config {
        /// What is wrong, naming the setting or variable.
        message: String,
        /// The underlying error, e.g. why the CA file could not be read.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// 400: the server could not read the request.
    BadRequest(Box<ApiError>),
    /// 401: the project id or API token is wrong, or (SignalWire's docs
    /// disagree on which status it is) the token lacks the endpoint's scope.
    Unauthorized(Box<ApiError>),
    /// 403: the API token lacks the scope of the endpoint called (PubSub or
    /// Chat).
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
    #[non_exhaustive]
    Transport {
        /// What failed.
        kind: TransportKind,
        /// How many attempts were made.
        attempts: u32,
        /// Whether the request may have reached the server: `false` when the
        /// attempt failed before any byte of it left the machine (name
        /// lookup, connect, proxy, TLS handshake).
        request_sent: bool,
        /// The underlying error (ureq's; or its printable text when it
        /// quoted a secret, a token or an invisible character).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A time limit ran out.
    #[non_exhaustive]
    Timeout {
        /// `true` when the connect timeout ended a connection's set-up
        /// (name lookup, TCP, proxy, TLS); `false` when the call's timeout
        /// ran out, also while connecting.
        connecting: bool,
        /// The limit that ran out: the connect timeout or the call's timeout.
        limit: Duration,
        /// How many attempts were made.
        attempts: u32,
        /// Whether the request may have reached the server.
        request_sent: bool,
    },
    /// The call was cancelled through the [`Cancel`](crate::Cancel) handle it
    /// was made with. Never retried.
    #[non_exhaustive]
    Cancelled {
        /// How many attempts were made: 0 when the handle was cancelled
        /// before the call started (nothing was sent).
        attempts: u32,
        /// Whether the request of the last attempt (the one cancelled, or
        /// the one before a cancelled wait to retry) may have reached the
        /// server.
        request_sent: bool,
        /// Whether the request of any attempt may have reached the server,
        /// so that a token may have been minted: `true` when an earlier
        /// attempt's did, even if the last one sent nothing.
        any_request_sent: bool,
    },
    /// A 2xx response whose body is not `{"token": "<non-empty string>"}`, whose
    /// token holds anything but visible ASCII (`!` to `~`), or that is over
    /// 64 KiB. The body is not quoted: it may hold a token.
    #[non_exhaustive]
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// The request id the server sent, if any (made printable).
        request_id: Option<String>,
        /// What is wrong with the body.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
}

/// The field of a [`TokenRequest`](crate::TokenRequest) that breaks a rule, for
/// [`Error::InvalidRequest`]. `Display` gives [`as_str`](Self::as_str): the
/// field's name in the JSON body (`ttl`, `channels`, `member_id`, `state`),
/// or `extras` for an extra field, which the message then names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `ttl`.
    Ttl,
    /// `channels` (their number, a name, a channel's rights).
    Channels,
    /// `member_id`.
    MemberId,
    /// `state`.
    State,
    /// An extra field ([`TokenRequest::extras`](crate::TokenRequest::extras)):
    /// the message names it.
    Extras,
}

impl Field {
    /// The field's name in the JSON body, e.g. `member_id`; `extras` for
    /// [`Field::Extras`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Ttl => "ttl",
            Field::Channels => "channels",
            Field::MemberId => "member_id",
            Field::State => "state",
            Field::Extras => "extras",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What failed, for [`Error::Transport`]. `Display` says it in words
/// ("could not connect").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// The name lookup failed (retried: a resolver that timed out and a name
    /// that does not exist look the same).
    Dns,
    /// The name lookup succeeded with no address to connect to (not
    /// retried).
    NoAddress,
    /// The connection could not be made (refused, unreachable, proxy
    /// failure); nothing was sent.
    Connect,
    /// The TLS handshake or certificate check failed, or a TLS record was bad.
    Tls,
    /// Reading or writing the connection failed (reset, closed early).
    Io,
    /// The server's HTTP was malformed (or its headers too large).
    Protocol,
    /// Anything else ureq reported.
    Other,
}

impl TransportKind {
    /// What failed, in words.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportKind::Dns => "the host name did not resolve",
            TransportKind::NoAddress => "the host name has no address",
            TransportKind::Connect => "could not connect",
            TransportKind::Tls => "the TLS handshake or certificate check failed",
            TransportKind::Io => "the connection broke",
            TransportKind::Protocol => "the response is not valid HTTP",
            TransportKind::Other => "the request failed",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server said when it answered with an error status. Every string
/// in it has been made printable (see [Secrets](crate#secrets)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The request id, for support tickets: the first of the headers
    /// [`REQUEST_ID_HEADERS`](crate::REQUEST_ID_HEADERS) names that the
    /// response has.
    pub request_id: Option<String>,
    /// The `error` string of bodies like `{"error": "Unauthorized"}`.
    pub message: Option<String>,
    /// The `errors` items of a 422 body, in order (items that are not JSON
    /// objects are left out).
    pub errors: Vec<ErrorItem>,
    /// The start of a non-empty body with neither an `error` string nor an
    /// `errors` item.
    pub body_prefix: Option<String>,
    /// The wait the server asked for in `Retry-After` (seconds or HTTP date).
    pub retry_after: Option<Duration>,
    /// How many attempts were made, this one included.
    pub attempts: u32,
}

/// The headers a response's request id is read from, in this order: the
/// first one present and not blank is [`ApiError::request_id`]. SignalWire
/// sends the first two; its own SDKs also read the last two (a gateway's).
pub const REQUEST_ID_HEADERS: [&str; 4] = [
    "x-request-id",
    "x-signalwire-request-id",
    "request-id",
    "x-amzn-requestid",
];

/// One item of a 422 body's `errors` list. Each field is `None` when the
/// server left it out or sent something other than a string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorItem {
    /// The category of error (`type` in the JSON), e.g. `validation_error`.
    pub kind: Option<String>,
    /// The error code, e.g. `invalid_parameter`.
    pub code: Option<String>,
    /// A description of what caused the error.
    pub message: Option<String>,
    /// The request parameter at fault, when the server names one.
    pub attribute: Option<String>,
    /// A link to documentation about this error.
    pub url: Option<String>,
}

impl Error {
    /// The HTTP status, for errors that come with a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::InvalidResponse { status, .. } => Some(*status),
            _ => self.api().map(|api| api.status),
        }
    }

    /// The field at fault, for [`Error::InvalidRequest`].
    pub fn field(&self) -> Option<Field> {
        match self {
            Error::InvalidRequest { field, .. } => Some(*field),
            _ => None,
        }
    }

    /// The server's request id, for errors that come with a response.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::InvalidResponse { request_id, .. } => request_id.as_deref(),
            _ => self.api()?.request_id.as_deref(),
        }
    }

    /// The wait the server asked for in `Retry-After`. When it is longer
    /// than [`RETRY_AFTER_CAP`](crate::RETRY_AFTER_CAP) or runs past the call's deadline, the call
    /// ends at once with this set, for the caller to schedule a new one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api()?.retry_after
    }

    /// How many HTTP attempts were made: 0 for errors raised before sending.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Transport { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Cancelled { attempts, .. }
            | Error::InvalidResponse { attempts, .. } => *attempts,
            _ => self.api().map_or(0, |api| api.attempts),
        }
    }

    /// Whether the client retries this error: the retry policy.
    ///
    /// - **Retried**, within the call's retries and deadline: 408 (the
    ///   server did not get the whole request, RFC 9110 §15.5.9), 429, 502,
    ///   503, 504, and a failure before any byte of the request was sent,
    ///   except the two known to be permanent: a host name whose lookup
    ///   succeeded with no address ([`TransportKind::NoAddress`]), and a TLS
    ///   handshake that failed on the certificate or the protocol
    ///   ([`TransportKind::Tls`]). (A 502 or 504 from a gateway may hide a
    ///   token minted upstream; it then goes unused.)
    /// - **Not retried**: anything else that may have reached the server, a
    ///   cancelled call, a timeout after sending.
    /// - **The wait** before a retry is a full-jitter exponential backoff
    ///   (up to [`RETRY_BACKOFF_BASE`](crate::RETRY_BACKOFF_BASE), doubling,
    ///   at most [`RETRY_BACKOFF_CAP`](crate::RETRY_BACKOFF_CAP)), or the
    ///   server's `Retry-After` if longer: a floor, never a ceiling. A
    ///   `Retry-After` over [`RETRY_AFTER_CAP`](crate::RETRY_AFTER_CAP), or
    ///   past the deadline, ends the call at once with
    ///   [`retry_after`](Self::retry_after) set.
    /// - **One more retry**, not counted here nor in the retries: an attempt
    ///   on a kept-alive connection that broke before any byte of an answer
    ///   (the server had closed it while idle, as load balancers do) is
    ///   tried again once, at once, on a new connection. RFC 9110 §9.2.2
    ///   lets a client retry only what it knows is idempotent; here the
    ///   worst case is one extra token, minted and never handed out, which
    ///   expires on its own.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport {
                request_sent: false,
                kind,
                ..
            } => !matches!(kind, TransportKind::Tls | TransportKind::NoAddress),
            Error::Timeout { request_sent, .. } => !request_sent,
            Error::Cancelled { .. } => false,
            _ => self.api().is_some_and(|api| RETRIED.contains(&api.status)),
        }
    }

    /// The server's answer, for the status variants.
    pub fn api(&self) -> Option<&ApiError> {
        // Exhaustive, as `describe` is: a new variant must be placed in both.
        match self {
            Error::BadRequest(api)
            | Error::Unauthorized(api)
            | Error::Forbidden(api)
            | Error::NotFound(api)
            | Error::Unprocessable(api)
            | Error::RateLimited(api)
            | Error::Server(api)
            | Error::UnexpectedStatus(api) => Some(api),
            Error::InvalidRequest { .. }
            | Error::Config { .. }
            | Error::Transport { .. }
            | Error::Timeout { .. }
            | Error::Cancelled { .. }
            | Error::InvalidResponse { .. } => None,
        }
    }

    /// The status variant for the answer `api`, from [`STATUSES`].
    pub(crate) fn from_status(api: ApiError) -> Error {
        let (_, variant, _) = status_row(api.status);
        variant(Box::new(api))
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
        match self {
            Error::InvalidRequest { message, .. } => {
                write!(f, "invalid request (nothing was sent): {message}")
            }
            Error::Config { message, .. } => write!(f, "invalid configuration: {message}"),
            Error::Transport { kind, .. } => write!(f, "transport error: {kind}"),
            Error::Timeout {
                connecting, limit, ..
            } => {
                let stage = if *connecting {
                    "connecting"
                } else {
                    "the call"
                };
                write!(f, "timed out: {stage} took longer than {limit:?}")
            }
            Error::Cancelled {
                request_sent,
                any_request_sent,
                ..
            } => {
                let sent = match (request_sent, any_request_sent) {
                    (true, _) => "the request may have reached the server",
                    (false, true) => {
                        "before the retry was sent; an earlier request may have reached the server"
                    }
                    (false, false) => "nothing was sent",
                };
                write!(f, "cancelled ({sent})")
            }
            Error::InvalidResponse {
                status,
                request_id,
                reason,
                ..
            } => {
                write!(f, "invalid response to a {status}: {reason}")?;
                write_request_id(f, request_id.as_deref())
            }
            Error::BadRequest(api)
            | Error::Unauthorized(api)
            | Error::Forbidden(api)
            | Error::NotFound(api)
            | Error::Unprocessable(api)
            | Error::RateLimited(api)
            | Error::Server(api)
            | Error::UnexpectedStatus(api) => describe_answer(f, api),
        }
    }
}

/// A status variant's text: what the status means (from [`STATUSES`]), then
/// what the server said.
fn describe_answer(f: &mut fmt::Formatter<'_>, api: &ApiError) -> fmt::Result {
    let (_, _, what) = status_row(api.status);
    write!(f, "{what} (HTTP {})", api.status)?;
    if let Some(message) = &api.message {
        write!(f, ": {message}")?;
    }
    for item in &api.errors {
        f.write_str("; ")?;
        f.write_str(item.code.as_deref().unwrap_or("error"))?;
        if let Some(attribute) = &item.attribute {
            write!(f, " ({attribute})")?;
        }
        if let Some(message) = &item.message {
            write!(f, ": {message}")?;
        }
    }
    if let Some(prefix) = &api.body_prefix {
        write!(f, "; body: {prefix}")?;
    }
    write_request_id(f, api.request_id.as_deref())
}

/// The statuses that are retried ([`Error::is_retryable`]).
const RETRIED: [u16; 5] = [408, 429, 502, 503, 504];

/// One row of [`STATUSES`]: the statuses, their variant, what they mean.
type StatusRow = (
    RangeInclusive<u16>,
    fn(Box<ApiError>) -> Error,
    &'static str,
);

/// The one table of statuses: which variant each error status is, and the
/// words its `Display` starts with. The last row takes every other status.
const STATUSES: [StatusRow; 8] = [
    (400..=400, Error::BadRequest, "bad request"),
    (
        401..=401,
        Error::Unauthorized,
        "unauthorized: check the project id and API token, and that the token has \
         this endpoint's scope (PubSub or Chat; SignalWire may answer a missing \
         scope with 401 or 403)",
    ),
    (
        403..=403,
        Error::Forbidden,
        "forbidden: the API token lacks the scope of this endpoint (PubSub or Chat)",
    ),
    (404..=404, Error::NotFound, "not found: check the space"),
    (
        422..=422,
        Error::Unprocessable,
        "the server rejected the request",
    ),
    (429..=429, Error::RateLimited, "rate limited"),
    (500..=599, Error::Server, "server error"),
    (0..=u16::MAX, Error::UnexpectedStatus, "unexpected status"),
];

fn status_row(status: u16) -> &'static StatusRow {
    let row = STATUSES
        .iter()
        .find(|(statuses, ..)| statuses.contains(&status));
    row.unwrap_or(&STATUSES[STATUSES.len() - 1])
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
            Error::Config {
                source: Some(source),
                ..
            } => Some(&**source),
            _ => None,
        }
    }
}
