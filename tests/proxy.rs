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
    let client = builder.retries(0).build().unwrap();
    client
        .create_token(&TokenRequest::new(5).read("a"))
        .unwrap_err()
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
    use std::time::{Duration, Instant};
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
        let client = Client::builder("https://api.example.com", "project", "proxy-test-secret")
            .proxy(&format!("http://{addr}"))
            .timeout(timeout)
            .retries(0)
            .build()
            .unwrap();
        let started = Instant::now();
        let err = client
            .create_token(&TokenRequest::new(5).read("a"))
            .unwrap_err();
        let took = started.elapsed();
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
