//! Proxies: an HTTP CONNECT proxy is used for non-loopback hosts and never
//! sees the `Authorization` header; SOCKS proxies are refused up front.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::mpsc;

use signalwire_pubsub::{Client, ClientBuilder, Error, TokenRequest};

/// A proxy that records the head of the first request it gets, then closes.
fn recording_proxy() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut head = String::new();
        let mut reader = BufReader::new(stream);
        while reader.read_line(&mut head).unwrap_or(0) > 2 && !head.ends_with("\r\n\r\n") {}
        tx.send(head).unwrap();
    });
    (url, rx)
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
    let builder =
        Client::builder("https://example.invalid", "project", "proxy-test-secret").proxy(&proxy);
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
