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
//! module (and the optional `fake` module) on top of
//! [`ureq`] (HTTP and TLS), [`miniserde`] (JSON) and [`base64`] (Basic
//! auth); the `fake` feature adds `tiny_http`, the `log` feature `log`
//! (already in ureq's tree). Nothing else.
//!
//! # Goals
//!
//! - Every rule of the API is checked before a byte is sent: a request that
//!   breaks one is an [`Error::InvalidRequest`] naming the field, the limit
//!   and the value's size ([`TokenRequest::validate_for`]).
//! - Every failure is a variant of one [`Error`] enum a caller can match on.
//! - No secret is ever printed (see [Secrets](#secrets) below).
//! - Retries done right, decided by how far a failed attempt got, never by
//!   an error's text: the policy is [`Error::is_retryable`].
//! - The call ends by its timeout, never before it and a few milliseconds
//!   after it at worst, however the server behaves: the rule is
//!   [`ClientBuilder::timeout`]. One call may have its own timeout and
//!   retries, and a [`Cancel`] handle that interrupts it wherever it is
//!   ([`Client::call`]).
//! - A call on a kept-alive connection costs little more than the loopback
//!   round trip: no name lookup, one write, one pool probe.
//! - A faithful fake server to test against offline (module `fake`, feature
//!   `fake`).
//!
//! Non-goals: the rest of SignalWire's REST API, async, SOCKS proxies,
//! HTTP/2, reading a token's (undocumented) claims.
//!
//! # Secrets
//!
//! The API token, the `Authorization` header and minted tokens never appear
//! in any `Debug`, `Display`, log record or error text: [`Client`],
//! [`ClientBuilder`] and [`Token`] show [`REDACTED`] in their place, errors
//! never quote a 2xx body, a space is never shown with its user info, and
//! the `Authorization` header is marked sensitive.
//!
//! Every string that comes from a server (a request id, the `error`
//! message, each field of a 422 item, the start of another body, and the
//! transport's error text, which may quote a proxy) is made printable before
//! an error holds it:
//!
//! 1. *Nothing invisible.* Every character of Unicode's categories Cc, Cf,
//!    Zl and Zp and every `Default_Ignorable_Code_Point` is removed, white
//!    space among them becoming a space: no server text starts a line of
//!    its own or moves the cursor.
//! 2. *No piece of a secret.* The text is searched as written and with its
//!    JSON and percent escapes decoded, the base64url alphabet read as
//!    base64's; every run of 12 or more bytes of the API token or of the
//!    base64 credentials is replaced by [`REDACTED`], and so is a shorter
//!    secret found whole. A secret cut short, split by invisible
//!    characters or encoded is still found.
//! 3. *No token.* A run of base64url characters, `=` and dots holding `eyJ`
//!    (how every JWS and JWE header starts) followed by two or more dots is
//!    replaced whole, whatever its segments.
//! 4. The result is cut to 200 characters.
//!
//! ureq's own log records (targets `ureq` and `ureq_proto`) are outside this
//! rule: at `DEBUG` they show some response headers verbatim, at `TRACE` the
//! raw bytes of the request and the response (the README has the details).
//!
//! # Semver
//!
//! [`Error`], its struct variants, [`ApiError`], [`ErrorItem`], [`Field`],
//! [`Service`], [`TransportKind`], [`TokenRequest`] and `fake::Fault` are
//! `#[non_exhaustive]`: a minor release may add variants, fields and
//! accessors to them (match with `..` and a wildcard arm; make a
//! `TokenRequest` with [`TokenRequest::new`]), and new functions, methods,
//! constants and features; anything else public changes only in a major
//! release (before 1.0: a minor one, listed in the CHANGELOG with what to
//! change).
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

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
compile_error!("enable feature `rustls` (the default) or `native-tls`");

// The public API is flat: every public item is re-exported here from the
// private file that holds it (ARCHITECTURE.md has the code map).
mod cancel;
mod client;
mod config;
mod date;
mod deadline;
mod error;
#[cfg(feature = "fake")]
#[cfg_attr(docsrs, doc(cfg(feature = "fake")))]
pub mod fake;
mod logging;
mod request;
mod response;
mod retry;
mod scope;
mod secrets;
mod transport;

pub use cancel::Cancel;
pub use client::{Call, Client};
pub use config::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_RETRIES, DEFAULT_TIMEOUT};
pub use deadline::{MAX_TIMEOUT, MIN_TIMEOUT};
pub use error::{ApiError, Error, ErrorItem, Field, TransportKind, REQUEST_ID_HEADERS};
pub use request::{
    Access, Service, State, TokenRequest, CHAT_RESERVED_PREFIX, MAX_CHANNELS,
    MAX_CHANNEL_NAME_CHARS, MAX_EXTRA_CHARS, MAX_EXTRA_KEY_CHARS, MAX_MEMBER_ID_CHARS,
    MAX_REQUEST_BYTES, MAX_STATE_CHARS, MAX_TTL_MINUTES,
};
#[allow(deprecated)]
pub use response::PubSubToken;
pub use response::{InvalidBody, Token, MAX_RESPONSE_BYTES};
pub use retry::{RETRY_AFTER_CAP, RETRY_BACKOFF_BASE, RETRY_BACKOFF_CAP};
pub use secrets::REDACTED;

// The README's Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
