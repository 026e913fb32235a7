//! A blocking, minimal-dependency client for SignalWire's PubSub and Chat
//! token endpoints:
//! [Generate a new PubSub Token](https://signalwire.com/docs/apis/pubsub/tokens/create-token)
//! (`POST https://{space}.signalwire.com/api/pubsub/tokens`) and Generate a
//! new Chat Token (`POST .../api/chat/tokens`: the same body, one more rule,
//! another scope).
//!
//! A server program calls it to mint a short-lived token that it hands to a
//! browser or a device, scoped to named channels with read and/or write
//! rights, with a member id and a small JSON state.
//!
//! # Why blocking, why small
//!
//! Minting a token is one HTTPS request. A program that does it (a small
//! utility, a sync web handler, a vendored build) should not need an async
//! runtime for that, nor a hundred crates. This crate is one flat public
//! module (with a private transport module and the optional `fake`) on top
//! of [`ureq`] (HTTP and TLS), [`miniserde`] (JSON) and [`base64`] (Basic
//! auth); the `fake` feature adds `tiny_http`. Nothing else.
//!
//! # Goals
//!
//! - Every rule of the API is checked before a byte is sent: a request that
//!   breaks one is an [`Error::InvalidRequest`] naming the field, the limit
//!   and the value's size.
//! - Every failure is a variant of one [`Error`] enum a caller can match on.
//! - No secret (API token, `Authorization` header, minted token) appears in
//!   any `Debug`, `Display` or error text.
//! - Retries done right, decided by how far a failed attempt got: 408, 429,
//!   502, 503, 504 and attempts that sent nothing (except a name with no
//!   address or a refused TLS handshake) are retried, a kept-alive
//!   connection the server had closed is retried once at once, nothing else
//!   that may have minted a token; full-jitter backoff or the server's
//!   `Retry-After`, and no attempt or wait past the call's overall timeout.
//! - A call on a kept-alive connection costs little more than the loopback
//!   round trip: no name lookup, one write, one pool probe (see
//!   `src/transport.rs`).
//! - A faithful fake server (module `fake`, feature `fake`) to test against offline.
//!
//! Non-goals: the rest of SignalWire's REST API, async, SOCKS proxies,
//! HTTP/2.
//!
//! # Semver
//!
//! [`Error`], its struct variants, [`ApiError`], [`ErrorItem`], [`Field`],
//! [`Service`], [`TransportKind`] and `fake::Fault` are `#[non_exhaustive]`:
//! a minor release may add variants, fields and accessors to them (match
//! with `..` and a wildcard arm), and new functions, methods, constants and
//! features; anything else public changes only in a major release.
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
//! let chat = client.create_chat_token(&request)?; // the same for SignalWire Chat
//! # drop(chat);
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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use miniserde::de::{Deserialize, Map, Seq, Visitor};
use miniserde::json;
use ureq::http::{header, HeaderValue, Uri};

use attempt::Stage;
use deadline::Deadline;
use secrets::{Secrets, REDACTED};

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
compile_error!("enable feature `rustls` (the default) or `native-tls`");

mod attempt;
mod deadline;
#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;
mod secrets;
mod transport;

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
/// Shortest timeout (overall or connect) a client accepts.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Longest timeout (overall or connect) a client accepts: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Default number of retries after a first failed attempt.
pub const DEFAULT_RETRIES: u32 = 2;
/// Backoff before the first retry is up to this long (full jitter), doubling
/// with each retry up to [`RETRY_BACKOFF_CAP`].
pub const RETRY_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest backoff between two attempts, when the server gives no `Retry-After`.
pub const RETRY_BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Longest wait a server's `Retry-After` can ask for and be retried: a longer
/// one (or one past the call's deadline) ends the call with the error, its
/// [`retry_after`](Error::retry_after) set, for the caller to schedule.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------

/// Which kind of token a request mints: the two endpoints take the same body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// `POST /api/pubsub/tokens`; the API token needs the PubSub scope.
    PubSub,
    /// `POST /api/chat/tokens`; the API token needs the Chat scope, and no
    /// channel name may start with [`CHAT_RESERVED_PREFIX`].
    Chat,
}

/// Chat channel names may not start with this prefix (SignalWire reserves it).
pub const CHAT_RESERVED_PREFIX: &str = "sw_";

impl Service {
    /// Every service (a minor release may add one).
    pub const ALL: &'static [Service] = &[Service::PubSub, Service::Chat];

    /// The endpoint's path, e.g. `/api/pubsub/tokens`.
    pub const fn path(self) -> &'static str {
        match self {
            Service::PubSub => "/api/pubsub/tokens",
            Service::Chat => "/api/chat/tokens",
        }
    }

    /// The service's name as SignalWire writes it: `PubSub` or `Chat`.
    pub const fn name(self) -> &'static str {
        match self {
            Service::PubSub => "PubSub",
            Service::Chat => "Chat",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

    /// Checks every rule of the PubSub API; the error names the field, the
    /// limit and the value's size. Same as
    /// [`validate_for(Service::PubSub)`](Self::validate_for).
    ///
    /// ```
    /// use signalwire_pubsub::{Error, Field, TokenRequest};
    ///
    /// let err = TokenRequest::new(43_201).read("lobby").validate().unwrap_err();
    /// assert_eq!(err.field(), Some(Field::Ttl));
    /// assert_eq!(err.to_string(), "invalid request (nothing was sent): ttl must be 1 to 43200 minutes, got 43201");
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.validate_for(Service::PubSub)
    }

    /// Checks every rule of `service`'s API: Chat adds that no channel name
    /// may start with [`CHAT_RESERVED_PREFIX`].
    ///
    /// ```
    /// use signalwire_pubsub::{Field, Service, TokenRequest};
    ///
    /// let request = TokenRequest::new(15).read("sw_system");
    /// assert!(request.validate_for(Service::PubSub).is_ok());
    /// let err = request.validate_for(Service::Chat).unwrap_err();
    /// assert_eq!(err.field(), Some(Field::Channels));
    /// ```
    pub fn validate_for(&self, service: Service) -> Result<(), Error> {
        self.checked_state(service).map(drop)
    }

    /// Validates for PubSub, then writes the JSON body exactly as it is
    /// sent: absent fields are left out, a channel carries only the rights
    /// it grants. (Chat's body is the same.)
    pub fn to_json(&self) -> Result<String, Error> {
        self.to_json_for(Service::PubSub)
    }

    fn to_json_for(&self, service: Service) -> Result<String, Error> {
        let state = self.checked_state(service)?;
        Ok(write_body(self, state))
    }

    /// Validates everything and hands back the state's JSON text, if any.
    fn checked_state(&self, service: Service) -> Result<Option<&str>, Error> {
        let invalid = |field: Field, message: String| Error::InvalidRequest { field, message };
        if !(1..=MAX_TTL_MINUTES).contains(&self.ttl) {
            let message = format!(
                "ttl must be 1 to {MAX_TTL_MINUTES} minutes, got {}",
                self.ttl
            );
            return Err(invalid(Field::Ttl, message));
        }
        let count = self.channels.len();
        if !(1..=MAX_CHANNELS).contains(&count) {
            let message = format!("channels must name 1 to {MAX_CHANNELS} channels, got {count}");
            return Err(invalid(Field::Channels, message));
        }
        for (name, access) in &self.channels {
            let chars = name.chars().count();
            if !(1..=MAX_CHANNEL_NAME_CHARS).contains(&chars) {
                let message = format!(
                    "channel name {:?} must be 1 to {MAX_CHANNEL_NAME_CHARS} characters, got {chars}",
                    short(name)
                );
                return Err(invalid(Field::Channels, message));
            }
            if !access.read && !access.write {
                let message = format!("channel {:?} must grant read, write or both", short(name));
                return Err(invalid(Field::Channels, message));
            }
            if service == Service::Chat && name.starts_with(CHAT_RESERVED_PREFIX) {
                let message = format!(
                    "channel name {:?} must not start with {CHAT_RESERVED_PREFIX:?} (reserved for Chat)",
                    short(name)
                );
                return Err(invalid(Field::Channels, message));
            }
        }
        if let Some(member_id) = &self.member_id {
            let chars = member_id.chars().count();
            if !(1..=MAX_MEMBER_ID_CHARS).contains(&chars) {
                let message =
                    format!("member_id must be 1 to {MAX_MEMBER_ID_CHARS} characters, got {chars}");
                return Err(invalid(Field::MemberId, message));
            }
        }
        let Some(state) = &self.state else {
            return Ok(None);
        };
        let text = state
            .json
            .as_deref()
            .map_err(|e| invalid(Field::State, e.clone()))?;
        let chars = text.chars().count();
        if chars > MAX_STATE_CHARS {
            let message = format!(
                "state must be at most {MAX_STATE_CHARS} characters as serialized JSON, got {chars}"
            );
            return Err(invalid(Field::State, message));
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
                field: Field::State,
                message: "state must be a JSON object, got another JSON value".into(),
            }),
            Err(_) => Err(Error::InvalidRequest {
                field: Field::State,
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

/// `{"error": "..."}` and/or `{"errors": [...]}`: an error body, read
/// leniently (see [`decode_error_body`]).
#[derive(Default)]
struct ErrorBody {
    error: Option<String>,
    errors: Vec<ErrorItem>,
}

/// `bytes` without the JSON whitespace (space, tab, line feed, carriage
/// return) around them; unlike `trim_ascii`, a form feed stays.
fn trim_json_whitespace(bytes: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

fn decode_token(body: &[u8]) -> Result<String, &'static str> {
    // What the API sends, `{"token":"…"}` with nothing to unescape, is
    // sliced out; anything else goes through the parser.
    if let Some(inner) = trim_json_whitespace(body)
        .strip_prefix(b"{\"token\":\"")
        .and_then(|rest| rest.strip_suffix(b"\"}"))
    {
        if !inner.is_empty() && is_plain_token(inner) {
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
    // A token is printed, put in headers and URLs: nothing that a terminal
    // or a shell would read as more than the token.
    if !is_visible_ascii(parsed.token.as_bytes()) {
        return Err("token holds a character that is not visible ASCII");
    }
    Ok(parsed.token)
}

/// Whether `bytes` are all visible ASCII (`!` to `~`): no space, no control
/// character, nothing beyond ASCII.
fn is_visible_ascii(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_graphic)
}

/// Whether `bytes` are a token as the API writes it: visible ASCII with no
/// quote or backslash, so nothing to unescape (one branch-free pass).
fn is_plain_token(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |plain, &b| {
        plain & (b > b' ') & (b <= b'~') & (b != b'"') & (b != b'\\')
    })
}

/// Reads what it can of an error body: the `error` string and the items of
/// `errors`. A field of another type than the spec's is skipped, an item
/// that is not an object is dropped without dropping the others, unknown
/// keys are ignored. Anything but a JSON object gives nothing.
fn decode_error_body(body: &[u8]) -> ErrorBody {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| json::from_str(text).ok())
        .unwrap_or_default()
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
            error: Text::default(),
            errors: Items::default(),
        }))
    }
}

struct ErrorBodyBuilder<'a> {
    out: &'a mut Option<ErrorBody>,
    error: Text,
    errors: Items,
}

impl Map for ErrorBodyBuilder<'_> {
    fn key(&mut self, k: &str) -> miniserde::Result<&mut dyn Visitor> {
        Ok(match k {
            "error" => &mut self.error,
            "errors" => &mut self.errors,
            _ => <dyn Visitor>::ignore(),
        })
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        *self.out = Some(ErrorBody {
            error: self.error.0.take(),
            errors: std::mem::take(&mut self.errors.0),
        });
        Ok(())
    }
}

/// The methods of a lenient visitor for values it skips.
macro_rules! skip_values {
    ($($method:ident($($arg:ty)?)),*) => {
        $(fn $method(&mut self $(, _: $arg)?) -> miniserde::Result<()> {
            Ok(())
        })*
    };
}

/// A slot that keeps a JSON string and skips any other value.
#[derive(Default)]
struct Text(Option<String>);

impl Visitor for Text {
    skip_values!(
        null(),
        boolean(bool),
        negative(i64),
        nonnegative(u64),
        float(f64)
    );
    fn string(&mut self, s: &str) -> miniserde::Result<()> {
        self.0 = Some(s.to_owned());
        Ok(())
    }
    fn seq(&mut self) -> miniserde::Result<Box<dyn Seq + '_>> {
        <dyn Visitor>::ignore().seq()
    }
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        <dyn Visitor>::ignore().map()
    }
}

/// A slot for `errors`: the object items of an array; any other value is
/// skipped.
#[derive(Default)]
struct Items(Vec<ErrorItem>);

impl Visitor for Items {
    skip_values!(
        null(),
        boolean(bool),
        string(&str),
        negative(i64),
        nonnegative(u64),
        float(f64)
    );
    fn seq(&mut self) -> miniserde::Result<Box<dyn Seq + '_>> {
        Ok(Box::new(ItemsBuilder {
            items: &mut self.0,
            item: Item::default(),
        }))
    }
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        <dyn Visitor>::ignore().map()
    }
}

struct ItemsBuilder<'a> {
    items: &'a mut Vec<ErrorItem>,
    item: Item,
}

impl ItemsBuilder<'_> {
    /// Keeps the element just read if it was an object.
    fn shift(&mut self) {
        if let Some(item) = std::mem::take(&mut self.item).0 {
            self.items.push(item);
        }
    }
}

impl Seq for ItemsBuilder<'_> {
    fn element(&mut self) -> miniserde::Result<&mut dyn Visitor> {
        self.shift();
        Ok(&mut self.item)
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        self.shift();
        Ok(())
    }
}

/// One element of `errors`: an [`ErrorItem`] if it is an object, whatever
/// of its fields are strings; nothing otherwise.
#[derive(Default)]
struct Item(Option<ErrorItem>);

impl Visitor for Item {
    skip_values!(
        null(),
        boolean(bool),
        string(&str),
        negative(i64),
        nonnegative(u64),
        float(f64)
    );
    fn seq(&mut self) -> miniserde::Result<Box<dyn Seq + '_>> {
        <dyn Visitor>::ignore().seq()
    }
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        Ok(Box::new(ItemBuilder {
            out: &mut self.0,
            fields: Default::default(),
        }))
    }
}

struct ItemBuilder<'a> {
    out: &'a mut Option<ErrorItem>,
    /// `type`, `code`, `message`, `attribute`, `url`.
    fields: [Text; 5],
}

impl Map for ItemBuilder<'_> {
    fn key(&mut self, k: &str) -> miniserde::Result<&mut dyn Visitor> {
        let slot = match k {
            "type" => 0,
            "code" => 1,
            "message" => 2,
            "attribute" => 3,
            "url" => 4,
            _ => return Ok(<dyn Visitor>::ignore()),
        };
        Ok(&mut self.fields[slot])
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        let [kind, code, message, attribute, url] = std::mem::take(&mut self.fields).map(|t| t.0);
        *self.out = Some(ErrorItem {
            kind,
            code,
            message,
            attribute,
            url,
        });
        Ok(())
    }
}

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
    /// The endpoint of each [`Service`], indexed by it.
    uris: [Uri; 2],
    urls: [String; 2],
    project_id: String,
    authorization: HeaderValue,
    /// Every form in which a server may echo the API token or the
    /// credentials; replaced wherever server text is kept.
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

    /// The full URL PubSub token requests go to.
    pub fn url(&self) -> &str {
        self.url_for(Service::PubSub)
    }

    /// The full URL requests for `service`'s tokens go to.
    pub fn url_for(&self, service: Service) -> &str {
        &self.inner.urls[service as usize]
    }

    /// Mints a PubSub token (`POST /api/pubsub/tokens`): validates
    /// `request`, then sends it, retrying what is safe to retry.
    ///
    /// A request that breaks a rule of the API is an
    /// [`Error::InvalidRequest`] and nothing is sent. Otherwise the call makes
    /// up to 1 + [`retries`](ClientBuilder::retries) attempts, plus at most
    /// one immediate retry when a kept-alive connection turns out to have
    /// been closed by the server; the README's "Failure behaviour" section
    /// says what is retried and why. No attempt starts past the overall
    /// timeout and each gets what is left of it less a small margin, and the
    /// client waits for the server in slices of at most 250 ms, so the call
    /// ends by the timeout, or a few milliseconds past it at worst (the
    /// kernel fires timers a little late). The error of the last attempt is
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
        let body = request.to_json_for(service)?;
        let deadline = Deadline::start(self.inner.timeout);
        let mut attempts: u32 = 0;
        let mut retries_left = self.inner.retries;
        let mut stale_retry_left = true;
        let mut fresh_connection = false;
        loop {
            attempts = attempts.saturating_add(1);
            let (err, stage) = match self.attempt(
                service,
                &body,
                request,
                deadline,
                attempts,
                fresh_connection,
            ) {
                Ok(token) => return Ok(token),
                Err(failed) => failed,
            };
            fresh_connection = false;
            let delay = if stage == Stage::StalePooled && stale_retry_left {
                // The server closed a kept-alive connection as it was reused:
                // once, at once, on a new connection.
                stale_retry_left = false;
                fresh_connection = true;
                Duration::ZERO
            } else if retries_left > 0 && err.is_retryable() {
                retries_left -= 1;
                match err.retry_after() {
                    // Never earlier than the server asked; if that is too
                    // long, the caller gets the error and `retry_after` now.
                    Some(wait) if wait > RETRY_AFTER_CAP => return Err(err),
                    Some(wait) => wait,
                    None => backoff(self.inner.retries - retries_left),
                }
            } else {
                return Err(err);
            };
            // The next attempt must start with time enough to be worth it.
            if !deadline.has_room_for(delay) {
                return Err(err);
            }
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
    }

    /// One HTTP exchange, attempt number `attempts` of the call, within
    /// `budget`; on a new connection if `fresh_connection`. A failure comes
    /// with how far the attempt got.
    fn attempt(
        &self,
        service: Service,
        body: &str,
        request: &TokenRequest,
        deadline: Deadline,
        attempts: u32,
        fresh_connection: bool,
    ) -> Result<Token, (Error, Stage)> {
        let inner = &*self.inner;
        let budget = deadline.start_attempt();
        let mut builder = inner.agent.post(inner.uris[service as usize].clone());
        // The agent's own settings (its timeout is the call's, less the
        // margin) serve the first attempt; later ones get what is left, and
        // no pooled connection when a fresh one is wanted.
        if attempts > 1 {
            let mut config = builder.config().timeout_global(Some(budget));
            if fresh_connection {
                config = config.max_idle_age(Duration::ZERO);
            }
            builder = config.build();
        }
        if budget.is_zero() {
            let err = self.timeout_error(deadline, false, attempts, false);
            return Err((err, Stage::NotSent));
        }
        let sent_at = SystemTime::now();
        let response = builder
            .header(header::AUTHORIZATION, inner.authorization.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .send(body.as_bytes());
        let mut response = match response {
            Ok(response) => response,
            Err(e) => return Err(self.transport_error(e, deadline, attempts)),
        };

        let status = response.status().as_u16();
        let success = (200..300).contains(&status);
        // Read for errors only: a token needs neither.
        let (request_id, retry_after) = match success {
            true => (None, None),
            false => (
                self.request_id(response.headers()),
                response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, SystemTime::now())),
            ),
        };
        let read = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec();
        let body = match read {
            Ok(body) => Some(body),
            Err(ureq::Error::BodyExceedsLimit(_)) => None,
            Err(e) => return Err(self.transport_error(e, deadline, attempts)),
        };

        if success {
            let token = match body {
                Some(body) => Token::from_body(&body, request, sent_at),
                None => Err(InvalidBody::new("body is larger than 64 KiB")),
            };
            return match token {
                Ok(token) => Ok(Token { attempts, ..token }),
                Err(invalid) => Err((
                    Error::InvalidResponse {
                        status,
                        request_id: self.request_id(response.headers()),
                        reason: invalid.reason().to_owned(),
                        attempts,
                    },
                    Stage::Sent,
                )),
            };
        }
        let api = ApiError {
            status,
            request_id,
            message: None,
            errors: Vec::new(),
            body_prefix: None,
            retry_after,
            attempts,
        };
        Err((self.api_error(api, body.as_deref()), Stage::Sent))
    }

    /// Fills `api` from the error body (made printable) and picks the variant.
    fn api_error(&self, mut api: ApiError, body: Option<&[u8]>) -> Error {
        let secrets = &self.inner.secrets;
        match body {
            None => api.body_prefix = Some("(body larger than 64 KiB, not read)".to_owned()),
            Some([]) => {}
            Some(body) => {
                let decoded = decode_error_body(body);
                api.message = decoded.error.map(|m| secrets.printable(&m));
                api.errors = decoded.errors;
                for item in &mut api.errors {
                    for field in [
                        &mut item.kind,
                        &mut item.code,
                        &mut item.message,
                        &mut item.attribute,
                        &mut item.url,
                    ] {
                        *field = field.as_deref().map(|text| secrets.printable(text));
                    }
                }
                if api.message.is_none() && api.errors.is_empty() {
                    api.body_prefix = Some(secrets.printable(&String::from_utf8_lossy(body)));
                }
            }
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

    /// The request id of a response, from either header, made printable.
    fn request_id(&self, headers: &ureq::http::HeaderMap) -> Option<String> {
        ["x-request-id", "x-signalwire-request-id"]
            .iter()
            .find_map(|name| headers.get(*name))
            .map(|id| {
                self.inner
                    .secrets
                    .printable(&String::from_utf8_lossy(id.as_bytes()))
            })
    }

    /// A timeout: the connect timeout's if `connecting`, else the deadline's.
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

    /// A failure of ureq's, classified by how far the attempt got (recorded by
    /// the transport as it went), never by the error's kind or text.
    fn transport_error(&self, e: ureq::Error, deadline: Deadline, attempts: u32) -> (Error, Stage) {
        let progress = attempt::progress();
        let stage = progress.stage();
        let request_sent = stage != Stage::NotSent;
        let kind = match &e {
            // Which limit ran out was recorded as it bound (ureq may name
            // the connect timeout when the deadline cut the connect).
            e if is_timeout(e) => {
                let connecting = progress.connect_timed_out();
                let err = self.timeout_error(deadline, connecting, attempts, request_sent);
                return (err, stage);
            }
            _ if progress.resolving => TransportKind::Dns,
            ureq::Error::HostNotFound => TransportKind::Dns,
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
            .field("url", &self.inner.urls[0])
            .field("project_id", &self.inner.project_id)
            .field("api_token", &REDACTED)
            .field("timeout", &self.inner.timeout)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("retries", &self.inner.retries)
            .finish()
    }
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
                source: None,
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

    /// How many times a failed attempt may be retried (408, 429, 502, 503,
    /// 504, or an attempt that failed before the request was sent; see
    /// [`Error::is_retryable`]); `0` turns retries off. Default: [`DEFAULT_RETRIES`] (2).
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
            source: None,
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
        if [self.timeout, self.connect_timeout]
            .iter()
            .any(|t| *t < MIN_TIMEOUT || *t > MAX_TIMEOUT)
        {
            return Err(config(
                "timeouts must be at least 10 ms and at most a day (86400 s)",
            ));
        }

        let urls = [Service::PubSub, Service::Chat]
            .map(|service| format!("{}{}", base.url, service.path()));
        let [pubsub, chat] = &urls;
        let (Ok(pubsub), Ok(chat)) = (pubsub.parse::<Uri>(), chat.parse::<Uri>()) else {
            return Err(config("space does not make a valid URL"));
        };

        let credentials = format!("{}:{}", self.project_id, self.api_token);
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut authorization = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| config("project_id and api_token make an invalid header"))?;
        authorization.set_sensitive(true);
        let secrets = Secrets::new(&self.api_token, &encoded);

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
            // Servers often close idle connections after 5 s: leave them
            // before that (a connection closed under a call is retried once).
            .max_idle_age(Duration::from_secs(4))
            .timeout_global(Some(Deadline::budget_for(self.timeout)))
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
            transport::ClientConnector::new(&pubsub),
            transport::LazyResolver,
        );

        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                uris: [pubsub, chat],
                urls,
                project_id: self.project_id,
                authorization,
                secrets,
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                retries: self.retries,
            }),
        })
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

/// `Retry-After` as delta-seconds (`120`) or an HTTP date in any of the
/// three forms of RFC 9110 §5.6.7 (IMF-fixdate `Sun, 06 Nov 1994 08:49:37
/// GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`, asctime `Sun Nov  6
/// 08:49:37 1994`), as a wait from `now` (zero for a date in the past).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly many seconds are still "longer than the cap".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let (day, month, year, time) = match parts[..] {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        [weekday, day, month, year, time, "GMT"] if weekday.ends_with(',') => {
            (day, month, year.parse().ok()?, time)
        }
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        [weekday, date, time, "GMT"] if weekday.ends_with(',') => {
            let mut date = date.split('-');
            let (day, month, yy) = (date.next()?, date.next()?, date.next()?);
            if date.next().is_some() || yy.len() != 2 {
                return None;
            }
            // Two-digit years: RFC 9110 reads one more than 50 years ahead
            // as the latest past year with those digits.
            let yy: i64 = yy.parse().ok()?;
            let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            let this_year = 1970 + (secs / 31_556_952) as i64;
            let mut year = this_year / 100 * 100 + yy;
            if year > this_year + 50 {
                year -= 100;
            } else if year <= this_year - 50 {
                year += 100;
            }
            (day, month, year, time)
        }
        // asctime: Sun Nov  6 08:49:37 1994
        [_weekday, month, day, time, year] => (day, month, year.parse().ok()?, time),
        _ => return None,
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
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
// Response
// ---------------------------------------------------------------------------

/// A minted token, PubSub or Chat. Its `Debug` output shows everything but
/// the token.
///
/// The token is opaque: its claims are not documented, so its expiry is
/// computed here from the ttl asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    token: String,
    member_id: Option<String>,
    expires_at: SystemTime,
    attempts: u32,
}

/// The old name of [`Token`], from when the crate minted PubSub tokens only.
#[deprecated(
    since = "0.2.0",
    note = "renamed to `Token`: it serves PubSub and Chat"
)]
pub type PubSubToken = Token;

impl Token {
    /// Decodes a 2xx response body, `{"token": "..."}`, as [`Client::create_token`]
    /// does: the token must be a non-empty string of visible ASCII (`!` to
    /// `~`); other keys are ignored.
    /// `expires_at` is `sent_at` plus the request's ttl. Useful for bodies
    /// fetched another way, tests and benchmarks; the error says what is
    /// wrong without quoting the body.
    ///
    /// ```
    /// use signalwire_pubsub::{Token, TokenRequest};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let request = TokenRequest::new(2).read("lobby");
    /// let token = Token::from_body(br#"{"token":"a.b.c"}"#, &request, UNIX_EPOCH).unwrap();
    /// assert_eq!(token.token(), "a.b.c");
    /// assert_eq!(token.expires_at(), UNIX_EPOCH + Duration::from_secs(120));
    /// let err = Token::from_body(br#"{"token":""}"#, &request, UNIX_EPOCH).unwrap_err();
    /// assert_eq!(err.reason(), "token is empty");
    /// ```
    pub fn from_body(
        body: &[u8],
        request: &TokenRequest,
        sent_at: SystemTime,
    ) -> Result<Token, InvalidBody> {
        Ok(Token {
            token: decode_token(body).map_err(InvalidBody::new)?,
            member_id: request.member_id.clone(),
            expires_at: sent_at
                .checked_add(Duration::from_secs(u64::from(request.ttl) * 60))
                .ok_or(InvalidBody::new("expiry is out of range"))?,
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

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
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
/// differently. No variant's `Display` or `Debug` contains a secret, and all
/// text from the server in it has been made printable (see the README's
/// "Secrets").
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
    /// 401: the project id or API token is wrong.
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

/// The field of a [`TokenRequest`] that breaks a rule, for
/// [`Error::InvalidRequest`]; `Display` gives its name on the wire.
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
}

impl Field {
    /// The field's name in the JSON body, e.g. `member_id`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Ttl => "ttl",
            Field::Channels => "channels",
            Field::MemberId => "member_id",
            Field::State => "state",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What failed, for [`Error::Transport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// The host name did not resolve.
    Dns,
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

/// What the server said when it answered with an error status. Every string
/// in it has been made printable: invisible characters removed, every piece
/// of a secret and every token replaced, cut to 200 characters (see the
/// README's "Secrets").
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// From `x-request-id` or `x-signalwire-request-id`, for support tickets.
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

/// Why a 2xx response body is not a token, from [`Token::from_body`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBody {
    reason: &'static str,
}

impl InvalidBody {
    fn new(reason: &'static str) -> InvalidBody {
        InvalidBody { reason }
    }

    /// What is wrong, without quoting the body (it may hold a token).
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid token response: {}", self.reason)
    }
}

impl std::error::Error for InvalidBody {}

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
    /// than [`RETRY_AFTER_CAP`] or runs past the call's deadline, the call
    /// ends at once with this set, for the caller to schedule a new one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api()?.retry_after
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

    /// Whether the client retries this error (with backoff, within its
    /// retries and deadline): 408 (the server did not get the whole request,
    /// RFC 9110 §15.5.9), 429, 502, 503, 504, and a failure before any byte
    /// of the request was sent, except the two known to be permanent: a host
    /// name whose lookup succeeded with no address, and a TLS handshake that
    /// failed on the certificate or the protocol ([`TransportKind::Tls`]).
    /// (A 502 or 504 from a gateway may hide a token minted upstream; it
    /// then goes unused.) The one immediate retry of a kept-alive connection
    /// closed by the server is not counted here.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited(_) => true,
            Error::Server(api) => matches!(api.status, 502..=504),
            Error::UnexpectedStatus(api) => api.status == 408,
            Error::Transport {
                request_sent: false,
                kind,
                source,
                ..
            } => {
                *kind != TransportKind::Tls
                    && !matches!(
                        source.downcast_ref::<ureq::Error>(),
                        Some(ureq::Error::HostNotFound)
                    )
            }
            Error::Timeout { request_sent, .. } => !request_sent,
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
            Error::Config { message, .. } => return write!(f, "invalid configuration: {message}"),
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
            Error::Forbidden(_) => {
                "forbidden: the API token lacks the scope of this endpoint (PubSub or Chat)"
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_all_three_date_forms() {
        // 1994-11-06 08:49:37 UTC, the RFC's example.
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let now = at - Duration::from_secs(90);
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(value, now),
                Some(Duration::from_secs(90)),
                "{value}"
            );
        }
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let huge = parse_retry_after("99999999999999999999999", now);
        assert!(huge > Some(RETRY_AFTER_CAP));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov  6 25:49:37 1994",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}
