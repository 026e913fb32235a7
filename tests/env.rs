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
    // Not a regular file: refused at once, never opened (a FIFO would block).
    let dir = std::env::temp_dir().join(format!("swps-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for path in [
        fifo.as_path(),
        dir.as_path(),
        std::path::Path::new("/dev/zero"),
    ] {
        std::env::set_var("SIGNALWIRE_REST_CA_FILE", path);
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(config_message()));
        let message = wait
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("from_env returned");
        assert!(message.contains("is not a regular file"), "{message}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
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
