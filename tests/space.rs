//! Where requests go: accepted space forms and the ones refused before any
//! connection is made.

use signalwire_pubsub::{Client, Error};

fn url(space: &str) -> Result<String, Error> {
    Client::new(space, "project", "token").map(|c| c.url().to_owned())
}

#[test]
fn accepted_forms() {
    let cases = [
        (
            "example",
            "https://example.signalwire.com/api/pubsub/tokens",
        ),
        (
            "Example-1",
            "https://example-1.signalwire.com/api/pubsub/tokens",
        ),
        (
            "example.signalwire.com",
            "https://example.signalwire.com/api/pubsub/tokens",
        ),
        (
            "https://example.signalwire.com",
            "https://example.signalwire.com/api/pubsub/tokens",
        ),
        (
            "https://example.signalwire.com/",
            "https://example.signalwire.com/api/pubsub/tokens",
        ),
        (
            "https://gateway.internal:8443/prefix",
            "https://gateway.internal:8443/prefix/api/pubsub/tokens",
        ),
        (
            "HTTPS://Gateway.Internal/a/b/",
            "https://gateway.internal/a/b/api/pubsub/tokens",
        ),
        (
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/api/pubsub/tokens",
        ),
        ("http://localhost:9", "http://localhost:9/api/pubsub/tokens"),
        (
            "http://[::1]:8080/x",
            "http://[::1]:8080/x/api/pubsub/tokens",
        ),
        (
            "https://[2001:db8::1]",
            "https://[2001:db8::1]/api/pubsub/tokens",
        ),
    ];
    for (space, expected) in cases {
        assert_eq!(url(space).unwrap(), expected, "{space}");
    }
}

#[test]
fn refused_forms() {
    let cases = [
        "",
        "evil.com/",
        "a@b",
        "a@evil.com",
        "x#",
        "x?y",
        "x y",
        " example",
        "example\n",
        "x%2f",
        "exаmple", // Cyrillic 'а'
        "example:443",
        "-example",
        "example-",
        "ex..ample",
        "example.",
        "a\\b",
        "ftp://example.com",
        "https://",
        "https://user:pass@example.com",
        "https://example.com?x=1",
        "https://example.com#frag",
        "https://example.com:0",
        "https://example.com:65536",
        "https://example.com:80a",
        "https://example.com/../x",
        "https://example.com/a//b",
        "http://example.com",
        "http://10.0.0.1:8080",
        "http://127.0.0.1.evil.com",
        "http://[::2]",
        "https://[zz]",
        "//example.com",
    ];
    for space in cases {
        let err = url(space).expect_err(space);
        assert!(matches!(err, Error::Config { .. }), "{space}: {err:?}");
        assert!(err.to_string().contains("space"), "{space}: {err}");
    }
}

#[test]
fn credentials_and_timeouts_are_checked() {
    for (project, token) in [
        ("", "t"),
        ("p:q", "t"),
        ("p", ""),
        ("p\n", "t"),
        ("p", "t\n"),
    ] {
        let err = Client::new("example", project, token).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
    }
    let err = Client::builder("example", "p", "t")
        .timeout(std::time::Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("timeout"), "{err}");
    let err = Client::builder("example", "p", "t")
        .proxy("::not a url::")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("proxy"), "{err}");
}

#[test]
fn refusals_say_why() {
    for (space, why) in [
        ("a@evil.com", "'@' is not allowed"),
        ("x?y", "'?' is not allowed"),
        ("evil.com/", "DNS label or host name"),
        ("http://example.com", "only for loopback"),
        ("https://example.com:0", "bad host or port"),
        ("https://example.com/../x", "bad path prefix"),
        ("ftp://example.com", "scheme"),
    ] {
        let err = Client::new(space, "p", "t").unwrap_err().to_string();
        assert!(err.contains(why), "{space}: {err}");
    }
    // User info is never quoted back.
    let err = Client::new("https://user:hunter2@example.com", "p", "t").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    for agent in ["", "bad\nagent", "naïve"] {
        let err = Client::builder("example", "p", "t")
            .user_agent(agent)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("user_agent"), "{agent:?}: {err}");
    }
    let err = Client::builder("example", "p", "t")
        .timeout(std::time::Duration::MAX)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("at most a day"), "{err}");
}
