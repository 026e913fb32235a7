//! An offline stand-in for `POST /api/pubsub/tokens` and `POST /api/chat/tokens`,
//! for tests, demos and offline use.
//!
//! [`FakeServer`] is a small HTTP server on `127.0.0.1` (random port) that serves
//! both endpoints. It checks Basic auth, checks that its API token has the scope
//! of the endpoint called (PubSub, Chat or both: see
//! [`FakeServer::start_with_scopes`]), validates the JSON body against the
//! published rules (Chat adds one: no channel name may start with `sw_`),
//! returning SignalWire-shaped `400`, `401`, `403`, `404`, `405`, `413` (a body
//! over [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES)) and `422` errors, and
//! mints JWT-shaped tokens. Its rules are its own code, written from the specs:
//! it never calls the client's validation, so the client and the fake check each
//! other. It records every request (with the path it used) and every token it
//! minted (with its kind). Use [`FakeServer::respond_next`] to script a reply (a
//! `429`, a `500`, a malformed body, ...) for the next request.
//!
//! ```rust
//! use signalwire_pubsub::fake::{FakeResponse, FakeServer};
//! use std::io::{Read, Write};
//!
//! let server = FakeServer::start("project", "secret")?;
//! server.respond_next(FakeResponse::json(429, r#"{"error":"Too Many Requests"}"#));
//!
//! let mut stream = std::net::TcpStream::connect(server.addr())?;
//! let request = "POST /api/pubsub/tokens HTTP/1.1\r\nHost: localhost\r\n\
//!                Connection: close\r\nContent-Length: 0\r\n\r\n";
//! stream.write_all(request.as_bytes())?;
//! let mut response = String::new();
//! stream.read_to_string(&mut response)?;
//!
//! assert!(response.starts_with("HTTP/1.1 429"));
//! assert_eq!(server.requests()[0].path, "/api/pubsub/tokens");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! An API token with the PubSub scope only, as SignalWire's dashboard allows:
//!
//! ```rust
//! use signalwire_pubsub::{fake::FakeServer, Client, Error, Service, TokenRequest};
//!
//! let server = FakeServer::start_with_scopes("project", "secret", &[Service::PubSub])?;
//! let client = Client::new(&server.url(), "project", "secret").unwrap();
//! let request = TokenRequest::new(15).read("lobby");
//! assert!(client.create_token(&request).is_ok());
//! let refused = client.create_chat_token(&request);
//! assert!(matches!(refused, Err(Error::Forbidden(_))));
//! assert_eq!(server.tokens_issued_for(Service::PubSub).len(), 1);
//! assert!(server.tokens_issued_for(Service::Chat).is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{hash_map::RandomState, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::io::{self, Cursor, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use miniserde::json::{self, Number, Value};

use crate::date;
use crate::request::Service;
use crate::secrets::REDACTED;
use rules::{errors_body, number, object, string, validate};

mod faults;
mod rules;

pub use faults::{Fault, FaultServer};

// The fake's own copies of the paths (from the specs), so that it checks the
// client rather than agreeing with it by construction.
const PUBSUB_PATH: &str = "/api/pubsub/tokens";
const CHAT_PATH: &str = "/api/chat/tokens";
/// The largest body the fake reads; a longer one is a `413`. The client's
/// own bound (a limit of this crate's, not a rule of the API).
const MAX_BODY: usize = crate::request::MAX_REQUEST_BYTES;
/// How long `Drop` waits for a request that is still being read before giving up on it.
const DROP_GRACE: Duration = Duration::from_secs(1);

static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// A fake PubSub and Chat token endpoint running on a background thread;
/// stopped on drop.
pub struct FakeServer {
    shared: Arc<Shared>,
    /// The server thread holds the only strong reference: the listener closes when it ends.
    server: Weak<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// `project_id:api_token`, the decoded Basic credentials the fake accepts.
    credentials: String,
    /// The kinds of token the API token may mint.
    scopes: Vec<Service>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    scripted: VecDeque<FakeResponse>,
    injected: Option<Injector>,
    tokens: Vec<(Service, String)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FakeServer {
    /// Starts on `127.0.0.1:0` in a background thread; Basic auth is checked against
    /// `project_id` (user) and `api_token` (password), and the API token has both
    /// scopes (PubSub and Chat). Fails only if the port cannot be bound or the
    /// thread cannot be spawned.
    pub fn start(project_id: &str, api_token: &str) -> io::Result<FakeServer> {
        Self::start_with_scopes(project_id, api_token, Service::ALL)
    }

    /// Like [`start`](Self::start), for an API token that has only the scopes
    /// in `scopes`: a well-authenticated request to the endpoint of a kind not
    /// in it gets `403 {"error":"Forbidden"}`, as from SignalWire (checked after
    /// auth, before the body). An empty `scopes` forbids both.
    pub fn start_with_scopes(
        project_id: &str,
        api_token: &str,
        scopes: &[Service],
    ) -> io::Result<FakeServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = tiny_http::Server::from_listener(listener, None).map_err(io::Error::other)?;
        let server = Arc::new(server);
        let shared = Arc::new(Shared {
            credentials: format!("{project_id}:{api_token}"),
            scopes: scopes.to_vec(),
            state: Mutex::default(),
        });
        let (weak, thread_shared) = (Arc::downgrade(&server), Arc::clone(&shared));
        let thread = thread::Builder::new()
            .name("signalwire-pubsub-fake".into())
            .spawn(move || {
                // `recv` fails once `unblock` is called (or the listener died): stop then.
                while let Ok(request) = server.recv() {
                    let handled = AssertUnwindSafe(|| handle(&thread_shared, addr, request));
                    let _ = panic::catch_unwind(handled);
                }
            })?;
        Ok(FakeServer {
            shared,
            server: weak,
            addr,
            thread: Some(thread),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order (scripted ones included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// Queues `response` (first in, first out): it answers exactly one next request,
    /// whatever it is, bypassing auth and validation. The request is still recorded.
    pub fn respond_next(&self, response: FakeResponse) {
        self.shared.lock().scripted.push_back(response);
    }

    /// From now on, answers about `per_mille` requests in 1,000 (those not
    /// answered by [`respond_next`](Self::respond_next)) with one of
    /// `answers`, drawn by a generator seeded with `seed`: a fixed fault rate
    /// for soak tests. An empty `answers` or a rate of 0 turns it off.
    pub fn inject_faults(&self, per_mille: u32, seed: u64, answers: Vec<FakeResponse>) {
        self.shared.lock().injected = (per_mille > 0 && !answers.is_empty()).then_some(Injector {
            per_mille,
            rng: seed,
            answers,
        });
    }

    /// The tokens minted so far, of both kinds, in order (to check that they
    /// are never logged).
    pub fn tokens_issued(&self) -> Vec<String> {
        let state = self.shared.lock();
        state.tokens.iter().map(|(_, t)| t.clone()).collect()
    }

    /// The tokens of one kind minted so far, in order.
    pub fn tokens_issued_for(&self, service: Service) -> Vec<String> {
        let state = self.shared.lock();
        (state.tokens.iter())
            .filter(|(kind, _)| *kind == service)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// Random faults at a fixed rate, from a seeded splitmix64 generator.
struct Injector {
    per_mille: u32,
    rng: u64,
    answers: Vec<FakeResponse>,
}

impl Injector {
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn draw(&mut self) -> Option<FakeResponse> {
        if self.next() % 1000 >= u64::from(self.per_mille) {
            return None;
        }
        let pick = self.next() % self.answers.len() as u64;
        self.answers.get(pick as usize).cloned()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.upgrade() {
            server.unblock();
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        // The loop ends as soon as it is back in `recv`; only a client stalling in the
        // middle of a request body could hold it longer, and then the thread is detached.
        let deadline = Instant::now() + DROP_GRACE;
        if !wait_until(deadline, || thread.is_finished()) {
            return;
        }
        let _ = thread.join();
        // tiny_http closes the listener on its own accept thread, which it does not join:
        // wait for that too, so that connecting after `drop` fails at once.
        let probe = Duration::from_millis(50);
        wait_until(deadline, || {
            TcpStream::connect_timeout(&self.addr, probe).is_err()
        });
    }
}

/// Polls `done` until it holds (`true`) or `deadline` passes (`false`).
fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
    true
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("url", &self.url())
            .field("scopes", &self.shared.scopes)
            .field("request_count", &self.request_count())
            .finish()
    }
}

/// A request as the fake received it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The request target as received, query string included.
    pub path: String,
    /// The headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, decoded as lossy UTF-8 (at most 1 MiB is kept).
    pub body: String,
}

impl RecordedRequest {
    /// The value of the first header called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.as_str())
    }

    /// The kind of token this request was for, when it used one of the two
    /// token paths exactly (no query string).
    pub fn service(&self) -> Option<Service> {
        service_at(&self.path)
    }
}

/// Which endpoint `path` is, with the fake's own copies of the paths.
fn service_at(path: &str) -> Option<Service> {
    match path {
        PUBSUB_PATH => Some(Service::PubSub),
        CHAT_PATH => Some(Service::Chat),
        _ => None,
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = (self.headers.iter())
            .map(
                |(name, value)| match name.eq_ignore_ascii_case("authorization") {
                    true => (name.as_str(), REDACTED),
                    false => (name.as_str(), value.as_str()),
                },
            )
            .collect();
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// A scripted reply, sent as given (tiny_http itself adds `Server`, `Date` and
/// `Content-Length`, and drops `Connection`/`Transfer-Encoding` and non-ASCII headers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The headers to send, in order.
    pub headers: Vec<(String, String)>,
    /// The body to send.
    pub body: String,
}

impl FakeResponse {
    /// A response with this status, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        FakeResponse {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// A response with this status and body and `Content-Type: application/json`.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds `Retry-After` with `at` as an HTTP date (IMF-fixdate, `Sun, 06
    /// Nov 1994 08:49:37 GMT`), as servers send it besides seconds.
    pub fn retry_after_at(self, at: SystemTime) -> Self {
        self.header("Retry-After", date::http_date(at))
    }
}

fn handle(shared: &Shared, addr: SocketAddr, mut request: tiny_http::Request) {
    let mut bytes = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut bytes);
    let too_big = bytes.len() > MAX_BODY;
    let body = (read.is_ok() && !too_big).then_some(bytes.as_slice());
    let recorded = RecordedRequest {
        method: request.method().as_str().to_owned(),
        path: request.url().to_owned(),
        headers: (request.headers().iter())
            .map(|h| (h.field.to_string(), h.value.as_str().to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]).into_owned(),
    };
    let scripted = {
        let mut state = shared.lock();
        state.requests.push(recorded.clone());
        match state.scripted.pop_front() {
            Some(reply) => Some(reply),
            None => state.injected.as_mut().and_then(Injector::draw),
        }
    };
    let reply = scripted.unwrap_or_else(|| answer(shared, addr, &recorded, body, too_big));
    let header = |(name, value): &(String, String)| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
    };
    let headers = reply.headers.iter().filter_map(header).collect();
    let (status, length) = (tiny_http::StatusCode(reply.status), reply.body.len());
    let body = Cursor::new(reply.body.into_bytes());
    let response = tiny_http::Response::new(status, headers, body, Some(length), None);
    let _ = request.respond(response);
}

/// What the real endpoint would answer to `request` (`body` is `None` if too
/// big or unreadable; `too_big` says which).
fn answer(
    shared: &Shared,
    addr: SocketAddr,
    request: &RecordedRequest,
    body: Option<&[u8]>,
    too_big: bool,
) -> FakeResponse {
    let Some(service) = service_at(&request.path) else {
        return api_error(404, "Not Found");
    };
    if request.method != "POST" {
        return api_error(405, "Method Not Allowed");
    }
    if too_big {
        return api_error(413, "Payload Too Large");
    }
    if !authorized(request.header("authorization"), &shared.credentials) {
        return api_error(401, "Unauthorized");
    }
    if !shared.scopes.contains(&service) {
        return api_error(403, "Forbidden");
    }
    let parsed = body
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| json::from_str::<Value>(s).ok());
    let Some(Value::Object(fields)) = parsed else {
        return api_error(400, "Bad Request");
    };
    let problems = validate(&fields, service);
    if !problems.is_empty() {
        return api_response(422, &errors_body(&problems));
    }
    let Some(Value::Number(Number::U64(ttl))) = fields.get("ttl") else {
        return api_error(500, "Internal Server Error"); // unreachable after `validate`
    };
    let member_id = match fields.get("member_id") {
        Some(Value::String(id)) => id.clone(),
        _ => uuid_like(),
    };
    let token = mint(shared, addr, service, *ttl, member_id);
    api_response(200, &object([("token", string(token))]))
}

fn authorized(header: Option<&str>, credentials: &str) -> bool {
    let Some((scheme, encoded)) = header.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    let decoded = STANDARD.decode(encoded.trim()).ok();
    scheme.eq_ignore_ascii_case("basic") && decoded.is_some_and(|d| d == credentials.as_bytes())
}

fn api_error(status: u16, message: &str) -> FakeResponse {
    api_response(status, &object([("error", string(message))]))
}

fn api_response(status: u16, body: &Value) -> FakeResponse {
    let id = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    FakeResponse::json(status, json::to_string(body))
        .header("x-request-id", format!("fake-req-{id}"))
}

/// Mints and records a unique JWT-shaped token (the signature is just random bytes).
fn mint(
    shared: &Shared,
    addr: SocketAddr,
    service: Service,
    ttl: u64,
    member_id: String,
) -> String {
    let mut state = shared.lock();
    let serial = state.tokens.len() as u64 + 1;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (iat, jti) = (now.as_secs(), format!("fake-{serial}-{}", now.as_nanos()));
    // Written by hand to keep this key order; a `SocketAddr` never needs JSON escaping.
    let header = format!(r#"{{"typ":"VRT","alg":"HS512","ch":"{addr}"}}"#);
    let payload = json::to_string(&object([
        ("iat", number(iat)),
        ("exp", number(iat.saturating_add(ttl.saturating_mul(60)))),
        ("jti", string(jti)),
        ("ttl", number(ttl)),
        ("member_id", string(member_id)),
    ]));
    let signature: Vec<u8> = (0..4)
        .flat_map(|i| random_u64(serial * 4 + i).to_le_bytes())
        .collect();
    let token = [header.as_bytes(), payload.as_bytes(), &signature]
        .map(|part| URL_SAFE_NO_PAD.encode(part))
        .join(".");
    state.tokens.push((service, token.clone()));
    token
}

fn random_u64(seed: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    RandomState::new().hash_one((seed, now.as_nanos()))
}

/// A random version-4-looking UUID.
fn uuid_like() -> String {
    let (a, b) = (random_u64(1), random_u64(2));
    let (a1, a2, a3) = (a >> 32, (a >> 16) & 0xffff, a & 0xfff);
    let (b1, b2) = ((b >> 48) & 0x3fff | 0x8000, b & 0xffff_ffff_ffff);
    format!("{a1:08x}-{a2:04x}-4{a3:03x}-{b1:04x}-{b2:012x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Sends a raw HTTP/1.1 request (closing the connection) and returns the raw response.
    fn send(server: &FakeServer, path: &str, auth: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(server.addr()).expect("connect");
        let (host, length) = (server.addr(), body.len());
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{body}"
        );
        stream.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    }

    #[test]
    fn serves_http_and_drops_promptly() {
        let server = FakeServer::start("proj", "tok").expect("start");
        let body = r#"{"ttl":15,"channels":{"a":{"read":true}},"member_id":"m1"}"#;
        let [good, bad] =
            ["proj:tok", "proj:nope"].map(|c| format!("Basic {}", STANDARD.encode(c)));

        let unauthorized = send(&server, PUBSUB_PATH, &bad, body);
        assert!(unauthorized.starts_with("HTTP/1.1 401"), "{unauthorized}");
        assert!(unauthorized.ends_with(r#"{"error":"Unauthorized"}"#));
        assert!(send(&server, "/api/pubsub/tokens?x=1", &good, body).starts_with("HTTP/1.1 404"));
        assert!(send(&server, PUBSUB_PATH, &good, "[]").starts_with("HTTP/1.1 400"));
        assert!(send(&server, PUBSUB_PATH, &good, r#"{"ttl":15}"#).starts_with("HTTP/1.1 422"));
        server.respond_next(FakeResponse::new(503).header("Retry-After", "2"));
        let scripted = send(&server, "/anything", "", "");
        assert!(scripted.starts_with("HTTP/1.1 503") && scripted.contains("Retry-After: 2"));

        let ok = send(&server, PUBSUB_PATH, &good, body);
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.contains("x-request-id: fake-req-") && ok.contains("application/json"));
        let tokens = server.tokens_issued();
        assert!(ok.ends_with(&format!(r#"{{"token":"{}"}}"#, tokens[0])));
        let claims = tokens[0].split('.').nth(1).unwrap_or_default();
        let claims = URL_SAFE_NO_PAD.decode(claims).unwrap_or_default();
        assert!(String::from_utf8_lossy(&claims).contains(r#""member_id":"m1""#));

        let (requests, count) = (server.requests(), server.request_count());
        let last = format!("{:?}", requests[count - 1]);
        assert_eq!(
            (requests.len(), requests[count - 1].body.as_str()),
            (6, body)
        );
        assert!(last.contains(r#"("Authorization", "[redacted]")"#) && !last.contains(&good));

        // An idle connection (as a keep-alive pool leaves) must not hold up the shutdown.
        let _idle = TcpStream::connect(server.addr()).expect("connect");
        let (started, addr) = (Instant::now(), server.addr());
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            TcpStream::connect(addr).is_err(),
            "still listening after drop"
        );
    }

    #[test]
    fn serves_chat_with_its_rule_and_scope() {
        let full = FakeServer::start("proj", "tok").expect("start");
        let pubsub_only =
            FakeServer::start_with_scopes("proj", "tok", &[Service::PubSub]).expect("start");
        let good = format!("Basic {}", STANDARD.encode("proj:tok"));
        let bad = format!("Basic {}", STANDARD.encode("proj:nope"));
        let body = r#"{"ttl":15,"channels":{"a":{"read":true}}}"#;
        let reserved = r#"{"ttl":15,"channels":{"sw_a":{"read":true}}}"#;

        let chat = send(&full, CHAT_PATH, &good, body);
        assert!(chat.starts_with("HTTP/1.1 200"), "{chat}");
        let refused = send(&full, CHAT_PATH, &good, reserved);
        assert!(refused.starts_with("HTTP/1.1 422"), "{refused}");
        let item = r#""attribute":"channels","code":"invalid_parameter","message":"channel \"sw_a\": Chat channel names must not start with `sw_`""#;
        assert!(refused.contains(item), "{refused}");
        assert!(send(&full, PUBSUB_PATH, &good, reserved).starts_with("HTTP/1.1 200"));
        assert!(send(&full, "/api/chat/tokens/", &good, body).starts_with("HTTP/1.1 404"));

        // Auth first, then the scope, then the body.
        let forbidden = send(&pubsub_only, CHAT_PATH, &good, "not json");
        assert!(forbidden.starts_with("HTTP/1.1 403"), "{forbidden}");
        assert!(
            forbidden.ends_with(r#"{"error":"Forbidden"}"#),
            "{forbidden}"
        );
        assert!(send(&pubsub_only, CHAT_PATH, &bad, body).starts_with("HTTP/1.1 401"));
        assert!(send(&pubsub_only, PUBSUB_PATH, &good, body).starts_with("HTTP/1.1 200"));
        let none = FakeServer::start_with_scopes("proj", "tok", &[]).expect("start");
        for path in [PUBSUB_PATH, CHAT_PATH] {
            assert!(send(&none, path, &good, body).starts_with("HTTP/1.1 403"));
        }

        // Paths and kinds are recorded.
        let kinds: Vec<_> = full.requests().iter().map(|r| r.service()).collect();
        let (c, p) = (Some(Service::Chat), Some(Service::PubSub));
        assert_eq!(kinds, [c, c, p, None]);
        assert_eq!(full.requests()[0].path, CHAT_PATH);
        let [chat_tokens, pubsub_tokens] =
            [Service::Chat, Service::PubSub].map(|s| full.tokens_issued_for(s));
        assert_eq!((chat_tokens.len(), pubsub_tokens.len()), (1, 1));
        assert_eq!(
            full.tokens_issued(),
            [&chat_tokens[..], &pubsub_tokens[..]].concat()
        );
        assert!(chat.ends_with(&format!(r#"{{"token":"{}"}}"#, chat_tokens[0])));
        assert_eq!(
            pubsub_only.tokens_issued_for(Service::Chat),
            Vec::<String>::new()
        );
        assert!(format!("{pubsub_only:?}").contains("scopes: [PubSub]"));
    }

    #[test]
    fn server_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FakeServer>();
    }
}
