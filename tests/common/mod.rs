//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use signalwire_pubsub::fake::FakeServer;
use signalwire_pubsub::Client;

pub const PROJECT: &str = "p-7f3a9c";
pub const API_TOKEN: &str = "PT-sekrit-api-token-0042";

/// The `Authorization` value the client must send for PROJECT:API_TOKEN.
pub fn expected_authorization() -> String {
    use base64::Engine as _;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT}:{API_TOKEN}"));
    format!("Basic {encoded}")
}

/// A fake and a client pointed at it.
pub fn fake_and_client() -> (FakeServer, Client) {
    let fake = FakeServer::start(PROJECT, API_TOKEN).expect("fake starts");
    let client = Client::new(&fake.url(), PROJECT, API_TOKEN).expect("client builds");
    (fake, client)
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

/// Asserts that no secret appears in `text`.
pub fn assert_no_secret(text: &str, minted: &[String]) {
    assert!(!text.contains(API_TOKEN), "API token leaked in: {text}");
    let auth = expected_authorization();
    let b64 = auth.trim_start_matches("Basic ");
    assert!(!text.contains(b64), "Authorization value leaked in: {text}");
    for token in minted {
        assert!(
            !text.contains(token.as_str()),
            "minted token leaked in: {text}"
        );
    }
}

/// A loopback port with nothing listening on it (bound, then released), for
/// refused connections.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
