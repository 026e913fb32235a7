//! A prototype of the change proposed for the wire format in src/lib.rs,
//! measured by the `wire` benches as "proposed": the same bytes, written and
//! read with fewer passes and allocations.
//!
//! - `push_json_string` checks the string in one branch-free pass (which
//!   vectorizes) and, as it almost always needs no escape, copies it whole;
//!   otherwise it copies each run between escapes with one `push_str` (the
//!   escapes are ASCII, so every split is on a char boundary) instead of
//!   pushing char by char.
//! - The ttl is written with `fmt::Write` into the body instead of through
//!   `ttl.to_string()` (one allocation less).
//! - `from_body` reads the body the API actually sends, `{"token":"…"}` with
//!   a token holding no escape, quote or control character, by slicing it out
//!   (one allocation: the token), and falls back to miniserde for anything
//!   else, so what is accepted and refused does not change.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use miniserde::json;
use signalwire_pubsub::{Error, TokenRequest};

/// What `PubSubToken::from_body` builds (its fields are private).
pub struct Token {
    pub token: String,
    pub member_id: Option<String>,
    pub expires_at: SystemTime,
}

/// `TokenRequest::to_json` as proposed. Validation is the crate's own
/// (`validate()` does what `checked_state()` does).
pub fn to_json(request: &TokenRequest) -> Result<String, Error> {
    request.validate()?;
    let state = request.state.as_ref().and_then(|s| s.as_json());
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
    Ok(out)
}

/// Whether `bytes` hold no quote, backslash or control character: one
/// branch-free pass, which the compiler vectorizes (`all()` would not).
fn is_plain(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    })
}

/// Appends `s` as a JSON string literal: whole when it needs no escape (the
/// usual case), else copying the runs between escapes whole.
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

/// `PubSubToken::from_body` as proposed.
pub fn from_body(
    body: &[u8],
    request: &TokenRequest,
    sent_at: SystemTime,
) -> Result<Token, &'static str> {
    let token = match plain_token(body) {
        Some(token) => token.to_owned(),
        None => decode_token(body)?,
    };
    Ok(Token {
        token,
        member_id: request.member_id.clone(),
        expires_at: sent_at + Duration::from_secs(u64::from(request.ttl) * 60),
    })
}

/// The token of exactly `{"token":"…"}` (whitespace around allowed) when it
/// needs no unescaping; `None` sends the body to the full parser.
fn plain_token(body: &[u8]) -> Option<&str> {
    let inner = body
        .trim_ascii()
        .strip_prefix(b"{\"token\":\"")?
        .strip_suffix(b"\"}")?;
    let plain = !inner.is_empty() && is_plain(inner);
    plain.then(|| std::str::from_utf8(inner).ok()).flatten()
}

/// The crate's current decoder (miniserde), for everything else.
fn decode_token(body: &[u8]) -> Result<String, &'static str> {
    #[derive(miniserde::Deserialize)]
    struct TokenBody {
        token: String,
    }
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8")?;
    let parsed: TokenBody =
        json::from_str(text).map_err(|_| "body is not the JSON object {\"token\": string}")?;
    if parsed.token.is_empty() {
        return Err("token is empty");
    }
    Ok(parsed.token)
}
