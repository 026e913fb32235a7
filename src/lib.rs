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
//! module (and the optional `fake`) on top of [`ureq`] (HTTP and TLS),
//! [`miniserde`] (JSON) and [`base64`] (Basic auth); the `fake` feature adds
//! `tiny_http`, the `log` feature `log` (already in ureq's tree). Nothing
//! else.
//!
//! Its code sits in private files named for what they do, which is the
//! architecture: `request.rs` (the body and its rules), `response.rs` (the
//! token and error bodies), `error.rs`, `client.rs` (a call and its
//! attempts), `config.rs` (the builder, the space, the environment),
//! `retry.rs`, `deadline.rs`, `attempt.rs` (what an attempt reached),
//! `cancel.rs`, `transport.rs` (ureq's connector chain, with the checklist
//! for upgrading ureq), `secrets.rs` (server text made safe to print),
//! `logging.rs` (the `log` feature's records), `date.rs`.
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
//! - The call ends by its timeout: every wait is cut to the deadline, and
//!   waits for the server are made in slices the kernel keeps to time. One
//!   call may have its own timeout and retries, and a [`Cancel`] handle
//!   that interrupts it wherever it is ([`Client::call`]).
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

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
compile_error!("enable feature `rustls` (the default) or `native-tls`");

// The public API is flat: every public item is re-exported here from the
// private file that holds it.
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
pub use error::{ApiError, Error, ErrorItem, Field, TransportKind};
pub use request::{
    Access, Service, State, TokenRequest, CHAT_RESERVED_PREFIX, MAX_CHANNELS,
    MAX_CHANNEL_NAME_CHARS, MAX_EXTRA_CHARS, MAX_EXTRA_KEY_CHARS, MAX_MEMBER_ID_CHARS,
    MAX_REQUEST_BYTES, MAX_STATE_CHARS, MAX_TTL_MINUTES,
};
#[allow(deprecated)]
pub use response::PubSubToken;
pub use response::{InvalidBody, Token, MAX_RESPONSE_BYTES};
pub use retry::{RETRY_AFTER_CAP, RETRY_BACKOFF_BASE, RETRY_BACKOFF_CAP};

// The README's Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
