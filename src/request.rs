//! The request: the two services, a token request as a plain struct, every
//! rule of the API checked before sending, and the JSON body written by hand.

use std::collections::BTreeMap;
use std::fmt;

use miniserde::json;

use crate::error::{Error, Field};

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
/// Longest value of an extra field, in characters: this crate's own limit.
pub const MAX_EXTRA_CHARS: usize = 2_000;
/// Longest name of an extra field, in characters: as long as a channel name
/// may be (this crate's own limit).
pub const MAX_EXTRA_KEY_CHARS: usize = MAX_CHANNEL_NAME_CHARS;
/// Largest request body the client sends, in bytes (1 MiB), checked with
/// the API's rules before anything is sent. The largest body those rules
/// allow fits with room to spare: 500 channels whose 250-character names
/// are all escaped (six bytes a character), a member id alike and a state
/// at its limit make about 757 KiB. Only extra fields can push a body past
/// it: [`Error::InvalidRequest`] for [`Field::Extras`].
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The fields of the body that [`TokenRequest`] writes itself, which no
/// extra field may name.
const KNOWN_FIELDS: [&str; 4] = ["ttl", "channels", "member_id", "state"];

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
///
/// It is `#[non_exhaustive]`, so that a field the API gains is not a breaking
/// change: make one with [`TokenRequest::new`] (or `Default`), then set its
/// fields or use the helpers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Extra top-level fields, by name, each value JSON text written as it
    /// is (surrounding whitespace left out) after the known fields: for a
    /// field the API gained before this crate did (see
    /// [`extra`](Self::extra)).
    pub extras: BTreeMap<String, String>,
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

    /// Adds the top-level field `key` with `json_text` as its value, written
    /// as given (surrounding whitespace trimmed) after the known fields,
    /// replacing an extra of that name set before. The value must be one
    /// JSON value of at most [`MAX_EXTRA_CHARS`] characters; `key` must be 1
    /// to [`MAX_EXTRA_KEY_CHARS`] characters and not a field this struct
    /// writes (`ttl`, `channels`, `member_id`, `state`); and the whole body
    /// must stay within [`MAX_REQUEST_BYTES`]. [`validate`](Self::validate)
    /// reports a break as an [`Error::InvalidRequest`] for [`Field::Extras`],
    /// and nothing is sent.
    ///
    /// ```
    /// use signalwire_pubsub::{Field, TokenRequest};
    ///
    /// let request = TokenRequest::new(15).read("lobby").extra("region", r#" "eu-west" "#);
    /// assert_eq!(
    ///     request.to_json().unwrap(),
    ///     r#"{"ttl":15,"channels":{"lobby":{"read":true}},"region":"eu-west"}"#
    /// );
    /// let err = TokenRequest::new(15).read("lobby").extra("ttl", "60").validate().unwrap_err();
    /// assert_eq!(err.field(), Some(Field::Extras));
    /// ```
    pub fn extra(mut self, key: impl Into<String>, json_text: &str) -> Self {
        self.extras.insert(key.into(), json_text.trim().to_owned());
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
        self.checked(service).map(drop)
    }

    /// Validates for PubSub, then writes the JSON body exactly as it is
    /// sent: absent fields are left out, a channel carries only the rights
    /// it grants. Same as [`to_json_for(Service::PubSub)`](Self::to_json_for).
    pub fn to_json(&self) -> Result<String, Error> {
        self.to_json_for(Service::PubSub)
    }

    /// Validates for `service`, then writes the body exactly as it is sent
    /// to `service` (the two services take the same body; Chat has one more
    /// rule). Public, as [`validate_for`](Self::validate_for) is, so that a
    /// program can see and log the body it is about to send without sending
    /// it: each pair (`validate` and `to_json`, or the `_for` forms for a
    /// given service) checks exactly what a call checks.
    pub fn to_json_for(&self, service: Service) -> Result<String, Error> {
        let checked = self.checked(service)?;
        Ok(write_body(self, checked))
    }

    /// Validates everything and hands back what writing the body needs: the
    /// state's JSON text, if any, and the body's exact length, counted as
    /// the rules are checked (every field is read once).
    fn checked(&self, service: Service) -> Result<Checked<'_>, Error> {
        let invalid = |field: Field, message: String| Error::InvalidRequest { field, message };
        // `{"ttl":N,"channels":{` and the closing `}}`.
        let mut len = 22 + decimal_len(self.ttl);
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
            len += json_string_len(name) + rights(*access).len();
        }
        // The commas between channels.
        len += count - 1;
        if let Some(member_id) = &self.member_id {
            let chars = member_id.chars().count();
            if !(1..=MAX_MEMBER_ID_CHARS).contains(&chars) {
                let message =
                    format!("member_id must be 1 to {MAX_MEMBER_ID_CHARS} characters, got {chars}");
                return Err(invalid(Field::MemberId, message));
            }
            // `,"member_id":` and the string.
            len += 13 + json_string_len(member_id);
        }
        let state = match &self.state {
            Some(state) => Some(checked_state(state)?),
            None => None,
        };
        // `,"state":` and the object.
        len += state.map_or(0, |state| 9 + state.len());
        for (key, value) in &self.extras {
            len += check_extra(key, value.trim(), len)?;
        }
        Ok(Checked { state, len })
    }
}

/// A request that keeps every rule: what writing its body needs.
struct Checked<'a> {
    /// The state's JSON text, if any.
    state: Option<&'a str>,
    /// The body's length in bytes.
    len: usize,
}

/// A channel's value on the wire: only the rights it grants.
fn rights(access: Access) -> &'static str {
    match (access.read, access.write) {
        (true, true) => ":{\"read\":true,\"write\":true}",
        (true, false) => ":{\"read\":true}",
        _ => ":{\"write\":true}",
    }
}

/// The state's JSON text, if it is valid.
fn checked_state(state: &State) -> Result<&str, Error> {
    let invalid = |message: String| Error::InvalidRequest {
        field: Field::State,
        message,
    };
    let text = state.json.as_deref().map_err(|e| invalid(e.clone()))?;
    let chars = text.chars().count();
    if chars > MAX_STATE_CHARS {
        return Err(invalid(format!(
            "state must be at most {MAX_STATE_CHARS} characters as serialized JSON, got {chars}"
        )));
    }
    Ok(text)
}

/// Checks an extra field, to be written after `body_len` bytes of the body:
/// a key of 1 to [`MAX_EXTRA_KEY_CHARS`] characters that is not a known
/// field, a value that is one JSON value of at most [`MAX_EXTRA_CHARS`]
/// characters, and a body that stays within [`MAX_REQUEST_BYTES`]. The
/// field's length on the wire, if it is valid. The sizes are checked
/// before the value is parsed, so a huge request is refused quickly.
fn check_extra(key: &str, value: &str, body_len: usize) -> Result<usize, Error> {
    // `,"key":value`
    let len = 2 + json_string_len(key) + value.len();
    let key_chars = key.chars().count();
    let chars = value.chars().count();
    let problem = if key.is_empty() {
        "must have a non-empty name".to_owned()
    } else if KNOWN_FIELDS.contains(&key) {
        "names a field TokenRequest writes itself (set it there)".to_owned()
    } else if key_chars > MAX_EXTRA_KEY_CHARS {
        format!(
            "must have a name of at most {MAX_EXTRA_KEY_CHARS} characters \
             (this crate's own limit), got {key_chars}"
        )
    } else if chars > MAX_EXTRA_CHARS {
        format!(
            "must be at most {MAX_EXTRA_CHARS} characters (this crate's own limit), got {chars}"
        )
    } else if body_len + len > MAX_REQUEST_BYTES {
        format!(
            "makes the body larger than {MAX_REQUEST_BYTES} bytes (the crate's limit on a request)"
        )
    } else if json::from_str::<json::Value>(value).is_err() {
        "must be one JSON value, got text that is not".to_owned()
    } else {
        return Ok(len);
    };
    Err(Error::InvalidRequest {
        field: Field::Extras,
        message: format!("extra field {:?} {problem}", short(key)),
    })
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

/// Writes the body of a request that keeps every rule into one buffer of
/// its exact length.
fn write_body(request: &TokenRequest, checked: Checked<'_>) -> String {
    let mut out = String::with_capacity(checked.len);
    out.push_str("{\"ttl\":");
    push_decimal(&mut out, request.ttl);
    out.push_str(",\"channels\":{");
    for (i, (name, access)) in request.channels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push_str(rights(*access));
    }
    out.push('}');
    if let Some(member_id) = &request.member_id {
        out.push_str(",\"member_id\":");
        push_json_string(&mut out, member_id);
    }
    if let Some(state) = checked.state {
        out.push_str(",\"state\":");
        out.push_str(state);
    }
    for (key, value) in &request.extras {
        out.push(',');
        push_json_string(&mut out, key);
        out.push(':');
        out.push_str(value.trim());
    }
    out.push('}');
    debug_assert_eq!(out.len(), checked.len, "the length counted when checking");
    out
}

/// How many digits `n` has.
fn decimal_len(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Appends `n` in decimal (without `fmt`'s machinery, on every call's path).
fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// The length of `s` as a JSON string literal, as [`push_json_string`]
/// writes it.
fn json_string_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if is_plain(bytes) {
        return bytes.len() + 2;
    }
    let escaped: usize = (bytes.iter())
        .map(|&b| match escape(b) {
            Some(Escape::Short(escape)) => escape.len(),
            Some(Escape::Unicode) => UNICODE_ESCAPE_LEN,
            None => 1,
        })
        .sum();
    escaped + 2
}

/// How a byte of a JSON string is escaped, if it is: the one table that
/// [`push_json_string`] writes by and [`json_string_len`] counts by.
enum Escape {
    /// A two-byte escape, `\"` or `\n`, say.
    Short(&'static str),
    /// `\u00XX`.
    Unicode,
}

/// The length of [`Escape::Unicode`].
const UNICODE_ESCAPE_LEN: usize = 6;

/// How `b` is escaped in a JSON string; `None`: it is written as it is.
fn escape(b: u8) -> Option<Escape> {
    Some(match b {
        b'"' => Escape::Short("\\\""),
        b'\\' => Escape::Short("\\\\"),
        b'\n' => Escape::Short("\\n"),
        b'\r' => Escape::Short("\\r"),
        b'\t' => Escape::Short("\\t"),
        0..=0x1f => Escape::Unicode,
        _ => return None,
    })
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
        let Some(escape) = escape(b) else {
            continue;
        };
        out.push_str(&s[run..i]);
        match escape {
            Escape::Short(escape) => out.push_str(escape),
            Escape::Unicode => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}
