//! The response: a minted [`Token`], strictly decoded, and an error body,
//! read leniently into an [`ApiError`].

use std::fmt;
use std::time::{Duration, SystemTime};

use miniserde::de::{Deserialize, Map, Visitor};
use miniserde::json::{self, Value};

use crate::date;
use crate::error::{ApiError, ErrorItem};
use crate::request::TokenRequest;
use crate::secrets::{Secrets, REDACTED};

/// Most bytes of a response body the client reads; a longer body is an error.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

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
    /// Decodes a 2xx response body, `{"token": "..."}`, as [`Client::create_token`](crate::Client::create_token)
    /// does: the token must be a non-empty string of visible ASCII (`!` to
    /// `~`); other keys are ignored. The error says what is wrong without
    /// quoting the body.
    ///
    /// Public so that a body fetched another way (through a queue, from a
    /// recorded fixture, in a benchmark) is held to the same strict rules
    /// as the client's. It takes the request because a [`Token`] is more
    /// than the body: its member id is the request's, and its expiry
    /// (`sent_at` plus the request's ttl) comes from the request, not from
    /// the token, whose claims are undocumented.
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

    /// The token of a 2xx body as the client read it (`None`: over the
    /// 64 KiB cap), on attempt number `attempts` of the call.
    pub(crate) fn from_response(
        body: Option<&[u8]>,
        request: &TokenRequest,
        sent_at: SystemTime,
        attempts: u32,
    ) -> Result<Token, InvalidBody> {
        let body = body.ok_or(InvalidBody::new("body is larger than 64 KiB"))?;
        let token = Token::from_body(body, request, sent_at)?;
        Ok(Token { attempts, ..token })
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

    /// [`expires_at`](Self::expires_at) in RFC 3339, UTC, to the second
    /// (`2026-11-30T12:15:00Z`), as a browser's `Date` reads it.
    ///
    /// ```
    /// use signalwire_pubsub::{Token, TokenRequest};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let sent_at = UNIX_EPOCH + Duration::from_secs(1_796_025_600); // 2026-11-30 08:00
    /// let request = TokenRequest::new(15).read("lobby");
    /// let token = Token::from_body(br#"{"token":"a.b.c"}"#, &request, sent_at).unwrap();
    /// assert_eq!(token.expires_at_rfc3339(), "2026-11-30T08:15:00Z");
    /// ```
    pub fn expires_at_rfc3339(&self) -> String {
        date::rfc3339(self.expires_at)
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

/// The token of a 2xx body, `{"token": "<visible ASCII>"}`, or why not.
fn decode_token(body: &[u8]) -> Result<String, &'static str> {
    // The fast path: what the API sends, `{"token":"…"}` with nothing to
    // unescape, is sliced out. It saves the parser's work on a 600-byte
    // token: 9,800 instructions per call, a sixth of a whole round trip
    // (57,700 without it, 47,900 with it; callgrind, benches/README.md).
    // Anything else goes through the parser, whose verdict the differential
    // test (tests/random_inputs.rs) holds the fast path to.
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
    if !parsed.token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("token holds a character that is not visible ASCII");
    }
    Ok(parsed.token)
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

/// Whether `bytes` are a token as the API writes it: visible ASCII with no
/// quote or backslash, so nothing to unescape (one branch-free pass).
fn is_plain_token(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |plain, &b| {
        plain & (b > b' ') & (b <= b'~') & (b != b'"') & (b != b'\\')
    })
}

/// `{"token": "..."}`, decoded as a miniserde derive would: a `token` key
/// whose value is not a string fails the body, even when a later duplicate
/// is one (a `json::Value` would keep only the last).
struct TokenBody {
    token: String,
}

miniserde::make_place!(Place);

impl Deserialize for TokenBody {
    fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
        Place::new(out)
    }
}

impl Visitor for Place<TokenBody> {
    fn map(&mut self) -> miniserde::Result<Box<dyn Map + '_>> {
        Ok(Box::new(TokenFields {
            out: &mut self.out,
            token: None,
        }))
    }
}

/// The `token` slot of [`TokenBody`]; other keys are skipped.
struct TokenFields<'a> {
    out: &'a mut Option<TokenBody>,
    token: Option<String>,
}

impl Map for TokenFields<'_> {
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

/// Fills `api` from an error body (`None`: over the 64 KiB cap, not kept),
/// every string made printable. It is read leniently: the `error` string
/// and, of each object in `errors`, the fields that are strings; a field of
/// another type is skipped, an item that is not an object left out, unknown
/// keys ignored. A non-empty body with neither is kept as `body_prefix`.
pub(crate) fn read_error_body(api: &mut ApiError, body: Option<&[u8]>, secrets: &Secrets) {
    let Some(body) = body else {
        api.body_prefix = Some("(body larger than 64 KiB, not kept)".to_owned());
        return;
    };
    if body.is_empty() {
        return;
    }
    let text = |value: Option<&Value>| match value {
        Some(Value::String(s)) => Some(secrets.printable(s)),
        _ => None,
    };
    let parsed = std::str::from_utf8(body)
        .ok()
        .and_then(|t| json::from_str(t).ok());
    if let Some(Value::Object(object)) = parsed {
        api.message = text(object.get("error"));
        if let Some(Value::Array(items)) = object.get("errors") {
            let objects = items.iter().filter_map(|item| match item {
                Value::Object(item) => Some(item),
                _ => None,
            });
            api.errors = objects
                .map(|item| ErrorItem {
                    kind: text(item.get("type")),
                    code: text(item.get("code")),
                    message: text(item.get("message")),
                    attribute: text(item.get("attribute")),
                    url: text(item.get("url")),
                })
                .collect();
        }
    }
    if api.message.is_none() && api.errors.is_empty() {
        api.body_prefix = Some(secrets.printable(&String::from_utf8_lossy(body)));
    }
}
