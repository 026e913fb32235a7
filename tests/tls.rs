//! The https path users run: a TLS server with a test CA (`tests/data/`,
//! generated once with openssl), served with rustls.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use signalwire_pubsub::fake::FaultServer;
use signalwire_pubsub::{Client, Error, TokenRequest, TransportKind};

mod common;

const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ca.pem");
const CERT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/server.pem");
const KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/server-key.pem");

struct TlsServer {
    handshakes: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    server: FaultServer,
}

/// Serves `{"token":"tls.token.ok"}` over TLS, keeping each connection alive
/// for as many requests as the client sends; counts completed handshakes and
/// requests (and, through `server`, accepted connections).
fn tls_server() -> TlsServer {
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(CERT)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let handshakes = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (hs, rq) = (Arc::clone(&handshakes), Arc::clone(&requests));
    let server = FaultServer::serve(move |mut tcp| {
        let mut conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return; // the client refused the certificate
            }
        }
        hs.fetch_add(1, Ordering::SeqCst);
        let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
        loop {
            let mut length = 0;
            loop {
                let mut line = String::new();
                if tls.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            if tls.read_exact(&mut body).is_err() {
                return;
            }
            rq.fetch_add(1, Ordering::SeqCst);
            let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 24\r\n\r\n{\"token\":\"tls.token.ok\"}";
            let stream = tls.get_mut();
            if stream
                .write_all(answer)
                .and_then(|()| stream.flush())
                .is_err()
            {
                return;
            }
        }
    })
        .unwrap();
    TlsServer {
        handshakes,
        requests,
        server,
    }
}

/// Three tokens from `client`, all served by `server`.
fn mint_three(client: &Client, server: &TlsServer) {
    for _ in 0..3 {
        let token = client
            .create_token(&TokenRequest::new(5).read("a"))
            .unwrap();
        assert_eq!(token.token(), "tls.token.ok");
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
}

#[test]
fn token_over_https_with_the_test_ca_reusing_the_connection() {
    let server = tls_server();
    let client = Client::builder(&format!("https://{}", server.server.addr()), "p", "t")
        .ca_file(CA)
        .build()
        .unwrap();
    mint_three(&client, &server);
    assert_eq!(
        server.handshakes.load(Ordering::SeqCst),
        1,
        "one TLS connection, reused"
    );
}

#[test]
fn the_same_server_is_refused_with_the_default_roots() {
    let server = tls_server();
    let client = Client::new(&format!("https://{}", server.server.addr()), "p", "t").unwrap();
    let result = client.create_token(&TokenRequest::new(5).read("a"));
    let (kind, attempts, sent, _) = common::transport_error(result);
    assert_eq!((kind, attempts, sent), (TransportKind::Tls, 1, false));
    // It connected and tried (a handshake that fails is not counted), and
    // no request reached the server.
    assert_eq!(
        server.server.connection_count(),
        1,
        "one attempt: not retried"
    );
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 0);
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn a_bad_ca_file_is_a_config_error() {
    let missing = Client::builder("example", "p", "t")
        .ca_file("/nonexistent/ca.pem")
        .build();
    let missing = missing.unwrap_err();
    assert!(
        matches!(&missing, Error::Config { message, .. } if message.contains("/nonexistent/ca.pem"))
    );
    // The I/O error is kept as the source.
    let source = std::error::Error::source(&missing).expect("a source");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    let not_pem = Client::builder("example", "p", "t")
        .ca_file(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .build();
    assert!(
        matches!(&not_pem, Err(Error::Config { message, .. }) if message.contains("no certificate")),
        "{not_pem:?}"
    );
}

#[test]
fn a_server_that_does_not_speak_tls_is_a_tls_error() {
    let server = FaultServer::serve(|mut stream| {
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        let mut sink = [0u8; 4096];
        let _ = stream.read(&mut sink);
    })
    .unwrap();
    let client = Client::new(&format!("https://{}", server.addr()), "p", "t").unwrap();
    let result = client.create_token(&TokenRequest::new(5).read("a"));
    let (kind, _, sent, _) = common::transport_error(result);
    assert_eq!((kind, sent), (TransportKind::Tls, false));
    assert_eq!(server.connection_count(), 1);
}

/// A CONNECT proxy that tunnels every connection to `target`, counting the
/// CONNECT requests it got.
fn tunnel_proxy(target: SocketAddr) -> (FaultServer, Arc<AtomicUsize>) {
    let connects = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connects);
    let proxy = FaultServer::serve(move |client| {
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("CONNECT pubsub.example:"), "{line:?}");
        count.fetch_add(1, Ordering::SeqCst);
        while line != "\r\n" {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
        }
        let mut client_w = client.try_clone().unwrap();
        client_w
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let upstream = std::net::TcpStream::connect(target).unwrap();
        let (mut up_r, mut up_w) = (upstream.try_clone().unwrap(), upstream);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let _ = std::io::copy(&mut reader, &mut up_w);
                let _ = up_w.shutdown(std::net::Shutdown::Write);
            });
            let _ = std::io::copy(&mut up_r, &mut client_w);
            let _ = client_w.shutdown(std::net::Shutdown::Both);
        });
    })
    .unwrap();
    (proxy, connects)
}

#[test]
fn through_a_connect_proxy_one_tunnel_one_handshake_for_three_calls() {
    let server = tls_server();
    let (proxy, connects) = tunnel_proxy(server.server.addr());
    let proxy_url = format!("http://{}", proxy.addr());
    let space = format!("https://pubsub.example:{}", server.server.addr().port());
    let client = Client::builder(&space, "p", "t")
        .ca_file(CA)
        .proxy(&proxy_url)
        .build()
        .unwrap();
    mint_three(&client, &server);
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 1);
    assert_eq!(connects.load(Ordering::SeqCst), 1);
}
