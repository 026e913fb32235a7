//! The token endpoint example (`examples/token_endpoint.rs`) in its real
//! setting: a page in headless Chromium fetches a token from it, which it
//! mints from a fake SignalWire; a recording relay between the browser and
//! the example holds every byte the browser received, and none of them may
//! hold a piece of the API token. A plain-HTTP test checks the error paths.
//!
//! `cargo test --test browser -- --ignored` runs the browser test (it needs
//! Debian's `/usr/bin/chromium`: `.ci/run` installs it); `cargo test` builds
//! the example first, `cargo build --example token_endpoint` does alone.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};

/// The user the example's `current_user` signs everyone in as.
const DEMO_USER: &str = "demo-user";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long Chromium may run before the test kills it and fails.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);

fn example() -> PathBuf {
    common::example("token_endpoint")
}

/// A child process killed (and reaped) when dropped, so a failing test
/// leaks no process.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `pipe` to its end on a thread, then sends what it read.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

/// The example, serving on a free port, minting from `fake`.
struct Endpoint {
    process: Killed,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Endpoint {
    fn start(fake: &FakeServer) -> Endpoint {
        let mut command = Command::new(example());
        command
            .args(["--port", "0"])
            .env_remove("SIGNALWIRE_REST_CA_FILE")
            .env("SIGNALWIRE_SPACE", fake.url())
            .env("SIGNALWIRE_PROJECT_ID", PROJECT)
            .env("SIGNALWIRE_API_TOKEN", API_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = Killed(command.spawn().expect("the example starts"));
        let stdout = process.0.stdout.take().unwrap();
        let stderr = drain(process.0.stderr.take().unwrap());
        let mut endpoint = Endpoint {
            process,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stderr,
        };
        // Waits for the first line (no sleeping), then keeps draining stdout.
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = sender.send(line);
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = receiver.recv_timeout(Duration::from_secs(30));
        let url = line.as_deref().unwrap_or_default().trim_end();
        let addr = (url.strip_prefix("listening on http://"))
            .and_then(|rest| rest.strip_suffix('/'))
            .and_then(|addr| addr.parse().ok());
        match addr {
            Some(addr) => endpoint.addr = addr,
            None => panic!(
                "the example's first line is {line:?}, not `listening on http://ADDR/`; \
                 its stderr: {}",
                endpoint.stop()
            ),
        }
        endpoint
    }

    /// Kills the example and returns everything it wrote on stderr.
    fn stop(&mut self) -> String {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
        let stderr = self.stderr.recv_timeout(Duration::from_secs(10));
        stderr.expect("the example's stderr closes when it ends")
    }
}

/// What went through one connection of the [`Relay`], each way.
#[derive(Default)]
struct Recorded {
    to_browser: Vec<u8>,
    to_server: Vec<u8>,
}

/// A TCP relay in front of `upstream` that records every byte of every
/// connection, each one before forwarding it: what the browser received is
/// in the recording.
struct Relay {
    url: String,
    connections: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let connections = Arc::new(Mutex::new(Vec::new()));
        let all = Arc::clone(&connections);
        thread::spawn(move || {
            for browser in listener.incoming() {
                let Ok(browser) = browser else { return };
                let server = TcpStream::connect(upstream).expect("the example accepts");
                let recorded = Arc::new(Mutex::new(Recorded::default()));
                all.lock().unwrap().push(Arc::clone(&recorded));
                let (b, s) = (browser.try_clone().unwrap(), server.try_clone().unwrap());
                let up = Arc::clone(&recorded);
                thread::spawn(move || {
                    pipe(b, s, |bytes| up.lock().unwrap().to_server.extend(bytes))
                });
                thread::spawn(move || {
                    pipe(server, browser, |bytes| {
                        recorded.lock().unwrap().to_browser.extend(bytes)
                    })
                });
            }
        });
        Relay { url, connections }
    }

    /// Every connection's recording so far.
    fn recorded(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let connections = self.connections.lock().unwrap();
        (connections.iter())
            .map(|c| {
                let c = c.lock().unwrap();
                (c.to_server.clone(), c.to_browser.clone())
            })
            .collect()
    }
}

/// Copies `from` to `to`, recording each chunk before it is written, until
/// `from` ends; then ends `to`'s writing side.
fn pipe(mut from: TcpStream, mut to: TcpStream, mut record: impl FnMut(&[u8])) {
    let mut buffer = [0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        record(&buffer[..n]);
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// One HTTP message: its start line and headers (lower-cased names), body.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        (self.head.lines().skip(1))
            .filter_map(|line| line.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }

    fn status(&self) -> u16 {
        self.head[9..12].parse().unwrap()
    }

    fn text(&self) -> String {
        format!(
            "{}\r\n\r\n{}",
            self.head,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// The HTTP/1.1 messages in `bytes`, one after another, each body of
/// `Content-Length` bytes (no chunked encoding: the example sets lengths).
fn messages(mut bytes: &[u8]) -> Vec<Message> {
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let end = (bytes.windows(4).position(|w| w == b"\r\n\r\n"))
            .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut message = Message {
            head,
            body: Vec::new(),
        };
        assert!(
            message.header("transfer-encoding").is_none(),
            "{}",
            message.head
        );
        let length: usize = message
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        let body = &bytes[end + 4..];
        message.body = body[..length.min(body.len())].to_vec();
        bytes = &body[message.body.len()..];
        messages.push(message);
    }
    messages
}

/// One request on a new connection (`Connection: close`): the response.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Message {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let mut messages = messages(&response);
    assert_eq!(messages.len(), 1, "{}", String::from_utf8_lossy(&response));
    messages.remove(0)
}

/// An error answer of the example: `status`, `{"error":message}`, not cached.
fn assert_refusal(response: &Message, status: u16, message: &str) {
    let text = response.text();
    assert_eq!(response.status(), status, "{text}");
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{text}"
    );
    assert_eq!(response.header("cache-control"), Some("no-store"), "{text}");
    let expected = format!(r#"{{"error":"{message}"}}"#);
    assert_eq!(String::from_utf8_lossy(&response.body), expected, "{text}");
    common::assert_no_secret(&text, &[]);
}

/// The text of the element with id `id` in `dom` (up to its first child tag).
fn element_text<'a>(dom: &'a str, id: &str) -> &'a str {
    let marker = format!(r#"id="{id}""#);
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let rest = &dom[start..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    &rest[..rest.find('<').unwrap_or(rest.len())]
}

/// Seconds since 1970 of an RFC 3339 time `YYYY-MM-DDTHH:MM:SSZ`, or
/// `None` if `text` is not one.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let shape = b.len() == 20
        && b.starts_with(b"20")
        && (b[4], b[7], b[10], b[13], b[16], b[19]) == (b'-', b'-', b'T', b':', b':', b'Z');
    let digit = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = &text[range];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if !shape {
        return None;
    }
    let (y, m, d) = (digit(0..4)?, digit(5..7)?, digit(8..10)?);
    let (hh, mm, ss) = (digit(11..13)?, digit(14..16)?, digit(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `url` in headless Chromium and returns the DOM once the page's
/// scripts are done (`--virtual-time-budget`), within [`CHROMIUM_LIMIT`].
fn chromium_dom(url: &str) -> String {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test needs a real browser (Debian: apt-get install chromium)"
    );
    let profile = TempDir::new("token-endpoint-chromium");
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .args(["--virtual-time-budget=10000", "--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut chromium = Killed(command.spawn().expect("chromium starts"));
    let stdout = drain(chromium.0.stdout.take().unwrap());
    let stderr = drain(chromium.0.stderr.take().unwrap());
    let Ok(dom) = stdout.recv_timeout(CHROMIUM_LIMIT) else {
        drop(chromium); // killed
        let stderr = stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        panic!("chromium ran over {CHROMIUM_LIMIT:?}; its stderr: {stderr}");
    };
    let status = chromium.0.wait().unwrap();
    let stderr = stderr
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    assert!(
        status.success() && !dom.is_empty(),
        "chromium failed ({status}) after {:?}; stderr: {stderr}",
        started.elapsed()
    );
    dom
}

#[test]
#[ignore = "needs chromium: run by .ci/run with --ignored"]
fn a_browser_gets_a_token_and_never_a_secret() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let mut endpoint = Endpoint::start(&fake);
    let relay = Relay::start(endpoint.addr);

    let dom = chromium_dom(&relay.url);

    // The page shows the token's expiry, its channels, and that it is ready.
    assert_eq!(element_text(&dom, "status"), "ready", "{dom}");
    let expires = element_text(&dom, "expires");
    let expires_at = parse_rfc3339(expires).unwrap_or_else(|| panic!("expiry {expires:?}"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let left = expires_at - now;
    assert!(
        (14 * 60..=15 * 60).contains(&left),
        "{expires} is {left} s away"
    );
    let channels = element_text(&dom, "channels");
    assert!(
        dom.contains(r#"<ul id="channels"><li>lobby</li><li>room-42</li></ul>"#),
        "channels {channels:?} in {dom}"
    );

    // One token, for the server's user, whatever the page could have said.
    let tokens = fake.tokens_issued();
    assert_eq!(tokens.len(), 1, "tokens minted");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert!(
        body.contains(&format!(r#""member_id":"{DEMO_USER}""#)),
        "{body}"
    );
    // The page shows the token's start, never all of it.
    assert!(
        !dom.contains(&tokens[0]),
        "the whole token in the DOM: {dom}"
    );

    // Everything the browser received: the page, the token (with
    // `Cache-Control: no-store`), maybe a favicon's 404; nothing secret.
    let recorded = relay.recorded();
    let mut token_responses = 0;
    for (to_server, to_browser) in &recorded {
        let received = String::from_utf8_lossy(to_browser);
        common::assert_no_secret(&received, &[]);
        let requests = messages(to_server);
        let responses = messages(to_browser);
        assert_eq!(requests.len(), responses.len(), "{received}");
        for (request, response) in requests.iter().zip(&responses) {
            assert_eq!(
                response.header("cache-control"),
                Some("no-store"),
                "{}",
                request.head
            );
            if request.head.starts_with("POST /token ") {
                token_responses += 1;
                assert_eq!(response.status(), 200, "{}", response.text());
                let json = String::from_utf8_lossy(&response.body);
                assert!(
                    json.contains(&format!(r#""token":"{}""#, tokens[0])),
                    "{json}"
                );
                assert!(
                    json.contains(&format!(r#""expires_at":"{expires}""#)),
                    "{json}"
                );
            }
        }
    }
    assert_eq!(token_responses, 1, "POST /token requests");
    common::assert_no_secret(&dom, &[]);
    let stderr = endpoint.stop();
    common::assert_no_secret(&stderr, &[]);
}

#[test]
fn the_endpoint_refuses_with_fixed_json_errors_and_no_secret() {
    let started = Instant::now();
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let mut endpoint = Endpoint::start(&fake);
    let addr = endpoint.addr;
    let [_, b64, _] = <[String; 3]>::try_from(common::secret_forms()).unwrap();
    let echo = format!(r#"{{"error":"no such credentials: {PROJECT}:{API_TOKEN} (Basic {b64})"}}"#);

    // SignalWire refuses the credentials, echoing them: the page learns
    // only that the service refused.
    fake.respond_next(FakeResponse::json(401, echo.as_str()));
    let response = http(addr, "POST", "/token", "");
    assert_refusal(&response, 502, "token service rejected our credentials");

    // Busy, with a wait too long to retry within the call: passed on.
    fake.respond_next(FakeResponse::json(503, echo.as_str()).header("retry-after", "120"));
    let response = http(addr, "POST", "/token", "");
    assert_refusal(&response, 503, "token service down, try again later");
    assert_eq!(response.header("retry-after"), Some("120"));
    fake.respond_next(FakeResponse::json(429, echo.as_str()).header("retry-after", "600"));
    let response = http(addr, "POST", "/token", "");
    assert_refusal(&response, 503, "token service busy, try again later");
    assert_eq!(response.header("retry-after"), Some("600"));

    // A server error without a wait, and a token that is not one.
    fake.respond_next(FakeResponse::json(500, echo.as_str()));
    let response = http(addr, "POST", "/token", "");
    assert_refusal(&response, 502, "token service unavailable");
    fake.respond_next(FakeResponse::json(200, r#"{"token":""}"#));
    let response = http(addr, "POST", "/token", "");
    assert_refusal(&response, 502, "token service unavailable");
    assert_eq!(fake.request_count(), 5, "nothing retried");

    // A body that asks for another member and channels is not read.
    let body = r#"{"member_id":"mallory","channels":{"admin":{"read":true,"write":true}}}"#;
    let response = http(addr, "POST", "/token", body);
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let json = String::from_utf8_lossy(&response.body);
    assert!(json.contains(r#""channels":["lobby","room-42"]"#), "{json}");
    let sent = &fake.requests()[5].body;
    assert!(
        sent.contains(&format!(r#""member_id":"{DEMO_USER}""#)),
        "{sent}"
    );
    assert!(
        !sent.contains("mallory") && !sent.contains("admin"),
        "{sent}"
    );

    // A page from another site may not mint a token.
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = "POST /token HTTP/1.1\r\nHost: x\r\nSec-Fetch-Site: cross-site\r\n\
                   Content-Length: 0\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    assert_refusal(&messages(&response)[0], 403, "cross-site request refused");

    // Methods and paths.
    assert_refusal(&http(addr, "GET", "/token", ""), 405, "method not allowed");
    assert_eq!(
        http(addr, "PUT", "/token", "").header("allow"),
        Some("POST")
    );
    assert_refusal(&http(addr, "GET", "/nope", ""), 404, "not found");
    assert_refusal(&http(addr, "POST", "/", ""), 405, "method not allowed");
    let page = http(addr, "GET", "/", "");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    common::assert_no_secret(&page.text(), &[]);
    assert_eq!(fake.request_count(), 6, "only POST /token calls SignalWire");

    // The server logged each failure, and no secret either.
    let stderr = endpoint.stop();
    assert_eq!(
        stderr
            .matches("error: minting a token for demo-user")
            .count(),
        5,
        "{stderr}"
    );
    common::assert_no_secret(&stderr, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn unknown_flags_are_refused_and_help_is_given() {
    let output = Command::new(example()).arg("--bogus").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Usage: token_endpoint"), "{stderr}");
    assert!(output.stdout.is_empty());
    let output = Command::new(example()).arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("Usage: token_endpoint"));
}
