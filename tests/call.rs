//! Per-call options (`Client::call`): a timeout and retries of the call's
//! own, and cancellation from another thread wherever the call is.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{request, API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer, Fault, FaultServer};
use signalwire_pubsub::{Cancel, Client, Error, Token};

/// How soon after `cancel()` a call must have ended.
const PROMPTLY: Duration = Duration::from_millis(50);

fn client(url: &str) -> Client {
    Client::builder(url, PROJECT, API_TOKEN)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Runs `call` with a fresh `Cancel` on this thread, cancels it from another
/// one once the call has been under way for `after`, and returns the
/// call's outcome and how long after `cancel()` it ended.
fn cancelled_after(
    after: Duration,
    call: impl FnOnce(&Cancel) -> Result<Token, Error>,
) -> (Result<Token, Error>, Duration) {
    let cancel = Cancel::new();
    std::thread::scope(|scope| {
        let canceller = scope.spawn(|| {
            // The scenario's pacing: the call is blocked by then.
            std::thread::sleep(after);
            cancel.cancel();
            Instant::now()
        });
        let result = call(&cancel);
        let ended = Instant::now();
        let cancelled_at = canceller.join().unwrap();
        (result, ended.saturating_duration_since(cancelled_at))
    })
}

/// A call with `client`, cancelled once it has been blocked for 200 ms.
fn cancelled_while_blocked(client: &Client) -> (Result<Token, Error>, Duration) {
    cancelled_after(Duration::from_millis(200), |cancel| {
        client.call().cancel_on(cancel).create_token(&request())
    })
}

/// Asserts `result` is `Error::Cancelled` with these fields, in time.
fn assert_cancelled(result: Result<Token, Error>, took: Duration, attempts: u32, sent: bool) {
    let err = result.expect_err("cancelled");
    assert!(
        matches!(err, Error::Cancelled { attempts: a, request_sent: s, .. } if a == attempts && s == sent),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(took < PROMPTLY, "ended {took:?} after the cancel");
}

/// Reads one request head and its `Content-Length` body from `stream`.
fn read_request(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return false;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = (head.lines())
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).is_ok()
}

/// Waits until the peer closes `stream` (or the server shuts it down).
fn until_closed(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    while stream.read(&mut sink).unwrap_or(0) > 0 {}
}

const TOKEN_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"token\":\"a.b.c\"}";

#[test]
fn a_call_timeout_shorter_than_the_clients_ends_the_call() {
    let server = FaultServer::start(Fault::Stall(Duration::from_secs(10))).unwrap();
    let client = client(&server.url());
    let limit = Duration::from_millis(400);
    let started = Instant::now();
    let err = client
        .call()
        .timeout(limit)
        .retries(0)
        .create_token(&request())
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, Error::Timeout { connecting: false, limit: l, attempts: 1, .. } if l == limit),
        "{err:?}"
    );
    common::assert_ended_on_time(took, limit);
    assert_eq!(server.request_count(), 1);
    // Outside the client's limits: a settings error, nothing sent.
    for bad in [Duration::from_millis(9), Duration::from_secs(86_401)] {
        let err = client
            .call()
            .timeout(bad)
            .create_token(&request())
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config { message, .. } if message.contains("the call's timeout")),
            "{err:?}"
        );
    }
    assert_eq!(server.request_count(), 1);
}

#[test]
fn call_retries_override_the_clients_and_zero_keeps_the_stale_retry() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let none = Client::builder(&fake.url(), PROJECT, API_TOKEN)
        .retries(0)
        .build()
        .unwrap();
    for _ in 0..2 {
        fake.respond_next(FakeResponse::json(503, "{}").header("retry-after", "0"));
    }
    let token = none
        .call()
        .retries(2)
        .create_chat_token(&request())
        .unwrap();
    assert_eq!((token.attempts(), fake.request_count()), (3, 3));
    // The client is unchanged.
    fake.respond_next(FakeResponse::json(503, "{}").header("retry-after", "0"));
    assert_eq!(none.create_token(&request()).unwrap_err().attempts(), 1);

    // retries(0) still retries a kept-alive connection the server closed.
    let server = FaultServer::start(Fault::CloseOnReuse).unwrap();
    let retrying = client(&server.url());
    assert_eq!(
        retrying
            .call()
            .retries(0)
            .create_token(&request())
            .unwrap()
            .attempts(),
        1
    );
    let again = retrying.call().retries(0).create_token(&request()).unwrap();
    assert_eq!(again.attempts(), 2, "the stale connection, then a new one");
}

#[test]
fn cancel_ends_a_wait_for_the_response() {
    let server = FaultServer::start(Fault::Stall(Duration::from_secs(10))).unwrap();
    let client = client(&server.url());
    let (result, took) = cancelled_while_blocked(&client);
    assert_cancelled(result, took, 1, true);
    assert_eq!(server.request_count(), 1, "not retried");
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn cancel_ends_the_reading_of_a_body() {
    let server = FaultServer::serve(|mut stream| {
        if read_request(&mut stream) {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"token\":\"";
            let _ = stream.write_all(head.as_bytes());
            until_closed(&mut stream);
        }
    })
    .unwrap();
    let client = client(&server.url());
    let (result, took) = cancelled_while_blocked(&client);
    assert_cancelled(result, took, 1, true);
    assert_eq!(server.connection_count(), 1, "not retried");
}

#[test]
fn cancel_ends_a_tls_handshake() {
    // A TLS server that takes the ClientHello and never answers it.
    let server = FaultServer::serve(|mut stream| until_closed(&mut stream)).unwrap();
    let client = client(&format!("https://localhost:{}", server.addr().port()));
    let (result, took) = cancelled_while_blocked(&client);
    assert_cancelled(result, took, 1, false);
    assert_eq!(server.connection_count(), 1, "not retried");
}

#[test]
fn cancel_ends_a_proxys_connect() {
    // A CONNECT proxy that reads the CONNECT and never answers it.
    let proxy = FaultServer::serve(|mut stream| until_closed(&mut stream)).unwrap();
    let client = Client::builder("https://api.example.com", PROJECT, API_TOKEN)
        .proxy(&format!("http://{}", proxy.addr()))
        .build()
        .unwrap();
    let (result, took) = cancelled_while_blocked(&client);
    assert_cancelled(result, took, 1, false);
    assert_eq!(proxy.connection_count(), 1, "not retried");
}

#[test]
fn cancel_ends_a_wait_before_a_retry() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    fake.respond_next(FakeResponse::json(503, "{}").header("retry-after", "10"));
    let client = client(&fake.url());
    let (result, took) = cancelled_while_blocked(&client);
    assert_cancelled(result, took, 1, true);
    assert_eq!(fake.request_count(), 1, "the retry never started");
}

#[test]
fn a_call_on_a_cancelled_handle_sends_nothing_and_it_stays_cancelled() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let client = client(&fake.url());
    let cancel = Cancel::new();
    let token = client
        .call()
        .cancel_on(&cancel)
        .create_token(&request())
        .unwrap();
    assert_eq!(
        token.attempts(),
        1,
        "a handle not cancelled changes nothing"
    );
    cancel.clone().cancel();
    for _ in 0..2 {
        let err = client
            .call()
            .cancel_on(&cancel)
            .create_token(&request())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Cancelled {
                    attempts: 0,
                    request_sent: false,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "cancelled (nothing was sent)");
    }
    assert_eq!(fake.request_count(), 1);
    // Other calls go on.
    assert!(client.create_token(&request()).is_ok());
}

#[test]
fn one_cancel_ends_eight_calls_on_eight_threads() {
    let server = FaultServer::start(Fault::Stall(Duration::from_secs(10))).unwrap();
    let client = client(&server.url());
    let cancel = Cancel::new();
    let tooks: Vec<Duration> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let result = client.call().cancel_on(&cancel).create_token(&request());
                    (result, Instant::now())
                })
            })
            .collect();
        // The scenario's pacing: all eight are waiting for their response.
        while server.request_count() < 8 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let cancelled_at = Instant::now();
        cancel.cancel();
        calls
            .into_iter()
            .map(|call| {
                let (result, ended) = call.join().unwrap();
                let took = ended.saturating_duration_since(cancelled_at);
                assert_cancelled(result, Duration::ZERO, 1, true);
                took
            })
            .collect()
    });
    assert!(tooks.iter().all(|t| *t < PROMPTLY), "{tooks:?}");
    assert_eq!(server.request_count(), 8, "none retried");
}

/// A server that answers the first request of each connection and, on the
/// same connection, answers the next one after `delay` (or never, if none).
fn answers_then_waits(delay: Option<Duration>) -> FaultServer {
    FaultServer::serve(move |mut stream| {
        if !read_request(&mut stream) || stream.write_all(TOKEN_RESPONSE).is_err() {
            return;
        }
        while read_request(&mut stream) {
            match delay {
                Some(delay) => {
                    std::thread::sleep(delay);
                    if stream.write_all(TOKEN_RESPONSE).is_err() {
                        return;
                    }
                }
                None => return until_closed(&mut stream),
            }
        }
    })
    .unwrap()
}

#[test]
fn a_cancelled_call_on_a_kept_alive_connection_is_not_retried_as_stale() {
    // The shut-down socket reads as the end of the stream, as a connection
    // the server closed does: no immediate retry on a new one.
    let server = answers_then_waits(None);
    let client = client(&server.url());
    assert!(client.create_token(&request()).is_ok());
    let (result, took) = cancelled_while_blocked(&client);
    assert_cancelled(result, took, 1, true);
    assert_eq!(server.connection_count(), 1, "no new connection");
}

#[test]
fn a_later_cancel_never_reaches_a_connection_another_call_uses() {
    let server = answers_then_waits(Some(Duration::from_millis(300)));
    let client = client(&server.url());
    let cancel = Cancel::new();
    // A call guarded by `cancel` ends; its connection goes back to the pool.
    assert!(client
        .call()
        .cancel_on(&cancel)
        .create_token(&request())
        .is_ok());
    std::thread::scope(|scope| {
        // Another call, not guarded, takes that connection and waits.
        let other = scope.spawn(|| client.create_token(&request()));
        std::thread::sleep(Duration::from_millis(100));
        cancel.cancel();
        let token = other.join().unwrap().expect("the other call is untouched");
        assert_eq!(token.attempts(), 1);
    });
    assert_eq!(
        server.connection_count(),
        1,
        "the connection was not shut down"
    );
}

#[test]
fn a_cancel_after_an_earlier_request_reached_the_server_never_says_nothing_was_sent() {
    // Attempt 1 reaches the server and gets a 504 on a connection the
    // server then closes; by then the server's accept queue is full, so
    // attempt 2's connect hangs until its timeout: it is cancelled there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (answered, answered_rx) = std::sync::mpsc::channel();
    let (done, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        assert!(read_request(&mut stream));
        let full = common::unanswered_on(&listener);
        let answer = "HTTP/1.1 504 Gateway Timeout\r\nRetry-After: 0\r\nConnection: close\r\n\
                      Content-Length: 0\r\n\r\n";
        stream.write_all(answer.as_bytes()).unwrap();
        drop(stream);
        answered.send(()).unwrap();
        let _ = done_rx.recv();
        drop(full);
    });
    let client = Client::builder(&format!("http://{addr}"), PROJECT, API_TOKEN)
        .connect_timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let cancel = Cancel::new();
    let canceller = cancel.clone();
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            answered_rx.recv().unwrap();
            // The scenario's pacing: past the backoff (at most 200 ms),
            // inside attempt 2's connect (600 ms).
            std::thread::sleep(Duration::from_millis(350));
            canceller.cancel();
        });
        client.call().cancel_on(&cancel).create_token(&request())
    });
    done.send(()).unwrap();
    server.join().unwrap();
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Cancelled {
                attempts: 2,
                request_sent: false,
                any_request_sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert_eq!(
        text,
        "cancelled (before the retry was sent; an earlier request may have reached the server) \
         (after 2 attempts)"
    );
}
