//! `Client::from_env`. Environment variables are process-wide, so this file
//! holds one test that walks through every case in order.

use signalwire_pubsub::{Client, ClientBuilder, Error, TokenRequest};

const VARS: [&str; 3] = [
    "SIGNALWIRE_SPACE",
    "SIGNALWIRE_PROJECT_ID",
    "SIGNALWIRE_API_TOKEN",
];

fn config_message() -> String {
    match Client::from_env().unwrap_err() {
        Error::Config { message, .. } => message,
        other => panic!("expected Config, got {other:?}"),
    }
}

#[test]
fn from_env_names_what_is_missing() {
    for var in VARS {
        std::env::remove_var(var);
    }
    assert!(config_message().contains("SIGNALWIRE_SPACE"));

    std::env::set_var("SIGNALWIRE_SPACE", "example");
    assert!(config_message().contains("SIGNALWIRE_PROJECT_ID"));

    std::env::set_var("SIGNALWIRE_PROJECT_ID", "project");
    std::env::set_var("SIGNALWIRE_API_TOKEN", "");
    let message = config_message();
    assert!(message.contains("SIGNALWIRE_API_TOKEN") && message.contains("empty"));

    std::env::set_var("SIGNALWIRE_API_TOKEN", "env-secret-token");
    let client = Client::from_env().unwrap();
    assert_eq!(
        client.url(),
        "https://example.signalwire.com/api/pubsub/tokens"
    );
    assert!(!format!("{client:?}").contains("env-secret-token"));
    let builder = ClientBuilder::from_env().unwrap();
    assert!(!format!("{builder:?}").contains("env-secret-token"));

    // SIGNALWIRE_REST_CA_FILE, as SignalWire's Python SDK reads it.
    std::env::set_var("SIGNALWIRE_REST_CA_FILE", "/nonexistent/ca.pem");
    assert!(config_message().contains("/nonexistent/ca.pem"));
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ca.pem");
    std::env::set_var("SIGNALWIRE_REST_CA_FILE", ca);
    assert!(Client::from_env().is_ok());
    std::env::remove_var("SIGNALWIRE_REST_CA_FILE");

    // The environment's proxy is used by default, and no_proxy() turns it off.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    std::env::set_var("HTTPS_PROXY", &proxy);
    std::env::set_var("SIGNALWIRE_SPACE", "https://example.invalid");
    let via_env = ClientBuilder::from_env()
        .unwrap()
        .retries(0)
        .build()
        .unwrap();
    let accepted = std::thread::spawn(move || {
        use std::io::BufRead;
        let (stream, _) = listener.accept().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stream)
            .read_line(&mut line)
            .unwrap();
        line
    });
    assert!(via_env
        .create_token(&TokenRequest::new(5).read("a"))
        .is_err());
    let head = accepted.join().unwrap();
    assert!(head.starts_with("CONNECT example.invalid:443"), "{head:?}");
    std::env::set_var("HTTPS_PROXY", "socks5://127.0.0.1:1");
    assert!(config_message().contains("SOCKS"));
    assert!(ClientBuilder::from_env()
        .unwrap()
        .no_proxy()
        .build()
        .is_ok());
    std::env::remove_var("HTTPS_PROXY");

    std::env::set_var("SIGNALWIRE_SPACE", "evil.com/");
    assert!(config_message().contains("evil.com/"));

    for var in VARS {
        std::env::remove_var(var);
    }
}
