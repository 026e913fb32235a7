//! Proxies: an HTTP CONNECT proxy is used for non-loopback hosts and never
//! sees the `Authorization` header; SOCKS proxies are refused up front.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use common::TestServer;
use signalwire_pubsub::{Client, ClientBuilder, Error, TokenRequest};

/// A proxy that records the head of each request it gets, then closes.
fn recording_proxy() -> (TestServer, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let proxy = TestServer::start(move |stream| {
        let mut head = String::new();
        let mut reader = BufReader::new(stream);
        while reader.read_line(&mut head).unwrap_or(0) > 2 && !head.ends_with("\r\n\r\n") {}
        let _ = tx.lock().unwrap().send(head);
    });
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
    let url = format!("http://{}", proxy.addr);
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
