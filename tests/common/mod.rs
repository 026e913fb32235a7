//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use signalwire_pubsub::fake::FakeServer;
use signalwire_pubsub::{Client, Error, TransportKind};

pub const PROJECT: &str = "p-7f3a9c";
/// Chosen so that the base64 of `PROJECT:API_TOKEN` holds `+`, `/` and `=`
/// padding: every encoded form of it differs from the plain one.
pub const API_TOKEN: &str = "PT~~>?sekrit-api-token-00421";

/// The `Authorization` value the client must send for PROJECT:API_TOKEN.
pub fn expected_authorization() -> String {
    use base64::Engine as _;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT}:{API_TOKEN}"));
    format!("Basic {encoded}")
}

/// The request most tests send: 15 minutes, read on `lobby`.
pub fn request() -> signalwire_pubsub::TokenRequest {
    signalwire_pubsub::TokenRequest::new(15).read("lobby")
}

/// A client for `url` with this timeout and these retries.
pub fn client_with(url: &str, timeout: std::time::Duration, retries: u32) -> Client {
    Client::builder(url, PROJECT, API_TOKEN)
        .timeout(timeout)
        .retries(retries)
        .build()
        .expect("client builds")
}

/// The path of the example `name`, which `cargo test` builds.
pub fn example(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap();
    let dir = deps.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built: run `cargo test` (or `cargo build --example {name}`)",
        path.display()
    );
    path
}

/// A fake and a client pointed at it.
pub fn fake_and_client() -> (FakeServer, Client) {
    let fake = FakeServer::start(PROJECT, API_TOKEN).expect("fake starts");
    let client = Client::new(&fake.url(), PROJECT, API_TOKEN).expect("client builds");
    (fake, client)
}

/// A fake and a client pointed at it that never retries, so that each call
/// is one request.
pub fn fake_and_client_without_retries() -> (FakeServer, Client) {
    let fake = FakeServer::start(PROJECT, API_TOKEN).expect("fake starts");
    let client = Client::builder(&fake.url(), PROJECT, API_TOKEN)
        .retries(0)
        .build()
        .expect("client builds");
    (fake, client)
}

/// The `Error::Transport` that `result` must be: its kind, its attempts,
/// whether the request was sent, and the error itself for more checks.
pub fn transport_error<T: std::fmt::Debug>(
    result: Result<T, Error>,
) -> (TransportKind, u32, bool, Error) {
    let err = result.expect_err("the call fails");
    let Error::Transport {
        kind,
        attempts,
        request_sent,
        ..
    } = &err
    else {
        panic!("expected a transport error, got {err:?}")
    };
    (*kind, *attempts, *request_sent, err)
}

/// How soon after its limit a call that ran out of time must have ended:
/// the kernel fires a timer up to a tick late, and a busy machine adds a
/// few milliseconds of scheduling.
pub const ON_TIME: std::time::Duration = std::time::Duration::from_millis(100);

/// Asserts that a call which timed out after `took` ended at or after its
/// `limit`, never before, and within [`ON_TIME`] of it.
pub fn assert_ended_on_time(took: std::time::Duration, limit: std::time::Duration) {
    assert!(
        took >= limit,
        "ended {:?} before its {limit:?} limit",
        limit - took
    );
    assert!(took <= limit + ON_TIME, "{took:?} for a {limit:?} limit");
}

/// Sends one raw HTTP/1.1 request and returns (status, body).
pub fn raw_post(addr: SocketAddr, authorization: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = format!(
        "POST /api/pubsub/tokens HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {authorization}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response[9..12].parse().expect("status");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The forms in which the credentials may be echoed, each searched in
/// pieces by [`assert_no_secret`]: the API token, the base64 credentials
/// and their URL-safe alphabet.
pub fn secret_forms() -> Vec<String> {
    let auth = expected_authorization();
    let b64 = auth.trim_start_matches("Basic ").to_owned();
    let url_safe = b64.replace('+', "-").replace('/', "_");
    vec![API_TOKEN.to_owned(), b64, url_safe]
}

/// Asserts that no run of 12 characters of a secret appears in `text`: of
/// the API token, the base64 credentials, or the signature of a token in
/// `minted`.
pub fn assert_no_secret(text: &str, minted: &[String]) {
    let signatures = minted
        .iter()
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned());
    for secret in secret_forms().into_iter().chain(signatures) {
        let chars: Vec<char> = secret.chars().collect();
        for run in chars.windows(12.min(chars.len())) {
            let run: String = run.iter().collect();
            assert!(
                !text.contains(&run),
                "{run:?} of a secret leaked in: {text}"
            );
        }
    }
    for token in minted {
        assert!(
            !text.contains(token.as_str()),
            "minted token leaked in: {text}"
        );
    }
}

/// Invisible characters of every kind: controls (ESC, DEL, NEL), format
/// characters (soft hyphen, Arabic number signs, bidirectional marks,
/// overrides and isolates, zero-width characters, the byte order mark,
/// interlinear annotation, Kaithi and musical-symbol format characters, tag
/// characters), line and paragraph separators, a combining grapheme joiner,
/// variation selectors and Hangul fillers.
pub const INVISIBLE: &[char] = &[
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{ad}',
    '\u{34f}',
    '\u{600}',
    '\u{605}',
    '\u{61c}',
    '\u{6dd}',
    '\u{70f}',
    '\u{115f}',
    '\u{180e}',
    '\u{200b}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{202e}',
    '\u{2066}',
    '\u{3164}',
    '\u{fe0f}',
    '\u{feff}',
    '\u{fff9}',
    '\u{fffb}',
    '\u{110bd}',
    '\u{1d173}',
    '\u{e0001}',
    '\u{e0020}',
    '\u{e007f}',
    '\u{e0100}',
];

/// `secret` with invisible characters inside it, starting at `from` in
/// [`INVISIBLE`]: one after each of its characters.
pub fn riddled(secret: &str, from: usize) -> String {
    let invisible = INVISIBLE.iter().cycle().skip(from);
    secret
        .chars()
        .zip(invisible)
        .flat_map(|(c, i)| [c, *i])
        .collect()
}

/// A token as a server may echo one: `{"typ":"VRT","alg":"HS512"}` as its
/// header, and `tail` after it.
fn jwt(tail: &str) -> String {
    format!("eyJ0eXAiOiJWUlQiLCJhbGciOiJIUzUxMiJ9{tail}")
}

/// Text a hostile server or gateway may send back: the secrets riddled with
/// invisible characters, in every encoding (JSON-escaped `\\/`,
/// percent-encoded in either case, unpadded, URL-safe base64), the API token
/// cut short, tokens with short and empty segments (glued to text, unsigned,
/// a JWE), an ANSI escape, bidirectional overrides, a line break.
pub fn hostile() -> String {
    let [token, b64, url_safe] = <[String; 3]>::try_from(secret_forms()).unwrap();
    let percent = |hex: fn(u8) -> String| -> String {
        b64.bytes()
            .map(|b| match b {
                b'+' | b'/' | b'=' => hex(b),
                b => (b as char).to_string(),
            })
            .collect()
    };
    assert!(
        b64.contains(['+', '/', '=']),
        "the test needs an encoded form that differs"
    );
    let forms = [
        riddled(&token, 0),
        riddled(&b64, 7),
        b64.replace('/', "\\/"),
        riddled(&percent(|b| format!("%{b:02X}")), 13),
        percent(|b| format!("%{b:02x}")),
        riddled(url_safe.trim_end_matches('='), 21),
        token[..token.len() * 7 / 10].to_owned(),
        format!("a.{}", jwt(".eyJpYXQiOjF9.c2lnbmF0dXJlLWJ5dGVz")),
        riddled(&jwt(".eyJpYXQiOjF9."), 3),
        jwt("..aXZpdiBpdg.Y2lwaGVydGV4dA.dGFndGFn"),
    ];
    format!(
        "x \u{1b}[31m {} \u{202e}evil\u{2066} z\u{200b}w \r\n end",
        forms.join(" ")
    )
}

/// Asserts `text` holds no piece of a secret or a token, and nothing that
/// changes how a terminal shows it.
pub fn assert_printable(text: &str) {
    assert_no_secret(text, &[]);
    assert!(!text.contains("eyJ"), "a token in {text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        !lower.contains("%2f") && !lower.contains("%3d") && !lower.contains("%2b"),
        "{text}"
    );
    for c in text.chars() {
        assert!(
            !c.is_control() && !INVISIBLE.contains(&c),
            "{c:?} in {text:?}"
        );
    }
}

/// A loopback port that refuses connections for as long as this value lives:
/// the local port of a connected socket, on which nothing listens and which
/// no listener can take while the socket holds it.
pub struct RefusedPort {
    pub port: u16,
    _held: (std::net::TcpListener, TcpStream, TcpStream),
}

pub fn refused_port() -> RefusedPort {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let port = client.local_addr().expect("addr").port();
    RefusedPort {
        port,
        _held: (listener, client, accepted),
    }
}

/// A loopback listener that answers no connection: its accept queue is
/// full, so the kernel drops every new SYN and a connect hangs until its
/// timeout (nothing accepts until the test does).
pub struct Unanswered {
    pub listener: std::net::TcpListener,
    pub addr: SocketAddr,
    _queued: Vec<TcpStream>,
}

pub fn unanswered() -> Unanswered {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let queued = unanswered_on(&listener);
    Unanswered {
        listener,
        addr,
        _queued: queued,
    }
}

/// Fills `listener`'s accept queue: while the connections returned live
/// and nothing accepts, a new connect to it hangs until its timeout.
pub fn unanswered_on(listener: &std::net::TcpListener) -> Vec<TcpStream> {
    use std::time::Duration;
    let addr = listener.local_addr().expect("addr");
    let mut queued = Vec::new();
    while let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
        queued.push(stream);
        assert!(queued.len() < 10_000, "the accept queue never filled");
    }
    queued
}
