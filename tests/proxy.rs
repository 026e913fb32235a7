//! Proxies: an HTTP CONNECT proxy is used for non-loopback hosts and never
//! sees the `Authorization` header; SOCKS proxies are refused up front.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use signalwire_pubsub::fake::FaultServer;
use signalwire_pubsub::{Client, ClientBuilder, Error, TokenRequest};

/// A proxy that records the head of each request it gets, then closes.
fn recording_proxy() -> (FaultServer, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let proxy = FaultServer::serve(move |stream| {
        let mut head = String::new();
        let mut reader = BufReader::new(stream);
        while reader.read_line(&mut head).unwrap_or(0) > 2 && !head.ends_with("\r\n\r\n") {}
        let _ = tx.lock().unwrap().send(head);
    })
    .unwrap();
    (proxy, rx)
}

fn mint(builder: ClientBuilder) -> Error {
    timed_mint(builder).0
}

/// A call with `builder`'s client, no retries: its error and how long it took.
fn timed_mint(builder: ClientBuilder) -> (Error, std::time::Duration) {
    let client = builder.retries(0).build().unwrap();
    let started = std::time::Instant::now();
    let err = client
        .create_token(&TokenRequest::new(5).read("a"))
        .unwrap_err();
    (err, started.elapsed())
}

/// A client builder for a remote host, through the proxy at `proxy`.
fn through(proxy: std::net::SocketAddr) -> ClientBuilder {
    Client::builder("https://api.example.com", "project", "proxy-test-secret")
        .proxy(&format!("http://{proxy}"))
}

#[test]
fn requests_go_through_an_explicit_http_proxy() {
    let (proxy, seen) = recording_proxy();
    let url = format!("http://{}", proxy.addr());
    let builder =
        Client::builder("https://example.invalid", "project", "proxy-test-secret").proxy(&url);
    let err = mint(builder);
    let head = seen.recv().unwrap();
    assert!(
        head.starts_with("CONNECT example.invalid:443 HTTP/1.1\r\n"),
        "{head:?}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("\r\nauthorization:"),
        "{head:?}"
    );
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}

#[test]
fn socks_proxies_are_refused_at_build() {
    let err = Client::builder("example", "p", "t")
        .proxy("socks5://127.0.0.1:1080")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("SOCKS")),
        "{err:?}"
    );
}

#[test]
fn a_slow_proxy_does_not_stretch_the_deadline() {
    use std::net::TcpStream;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    // A proxy whose accept queue is full, so that the client's SYN is dropped
    // and sent again a second later, and that then never answers the
    // CONNECT: ureq alone would give the CONNECT the whole connect budget
    // again after the slow TCP connect.
    let common::Unanswered { listener, addr, .. } = &common::unanswered();
    let addr = *addr;
    let done = AtomicBool::new(false);
    let timeout = Duration::from_millis(1500);
    let took = std::thread::scope(|scope| {
        scope.spawn(|| {
            // The scenario's pacing: the proxy starts accepting half a second in.
            std::thread::sleep(Duration::from_millis(500));
            let mut held = Vec::new();
            while !done.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => break,
                }
            }
        });
        let (err, took) = timed_mint(through(addr).timeout(timeout));
        assert!(
            matches!(
                err,
                Error::Timeout {
                    request_sent: false,
                    ..
                }
            ),
            "{err:?}"
        );
        done.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(addr); // wakes the accept loop
        took
    });
    common::assert_ended_on_time(took, timeout);
}

#[test]
fn a_proxy_trickling_its_connect_answer_is_bound_by_the_connect_timeout() {
    use std::io::Write;
    use std::time::Duration;
    // A proxy that reads the CONNECT, then answers a byte every 50 ms: each
    // read gets a byte before ureq's own timeout, which starts again for
    // every read; the set-up must still end at the connect timeout.
    let proxy = FaultServer::serve(|stream| {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 2 {
            line.clear();
        }
        let mut stream = reader.into_inner();
        for byte in b"HTTP/1.1 200 Connection established\r\n\r\n" {
            std::thread::sleep(Duration::from_millis(50));
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
        }
    })
    .unwrap();
    let connect = Duration::from_millis(300);
    let builder = through(proxy.addr()).connect_timeout(connect);
    let (err, took) = timed_mint(builder.timeout(Duration::from_secs(10)));
    assert!(
        matches!(err, Error::Timeout { connecting: true, request_sent: false, limit, .. } if limit == connect),
        "{err:?}"
    );
    common::assert_ended_on_time(took, connect);
}
