//! The exact bytes sent: body, headers, method and path.

mod common;

use signalwire_pubsub::{Access, Client, TokenRequest};

#[test]
fn sends_exact_json_and_headers() {
    let (fake, client) = common::fake_and_client();
    let request = TokenRequest::new(15)
        .read("lobby")
        .read_write("room-42")
        .channel("w", Access::WRITE)
        .member_id("alice")
        .state_json(r#"{ "z": 1, "a": {"nested": [true, null, "x"]} }"#);
    client.create_token(&request).unwrap();

    let sent = &fake.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/api/pubsub/tokens");
    assert_eq!(
        sent.body,
        r#"{"ttl":15,"channels":{"lobby":{"read":true},"room-42":{"read":true,"write":true},"w":{"write":true}},"member_id":"alice","state":{"a":{"nested":[true,null,"x"]},"z":1}}"#
    );
    assert_eq!(
        sent.header("authorization"),
        Some(common::expected_authorization().as_str())
    );
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("application/json"));
    let agent = format!("signalwire-pubsub/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(sent.header("user-agent"), Some(agent.as_str()));
}

#[test]
fn absent_fields_are_left_out() {
    let body = TokenRequest::new(1).write("a").to_json().unwrap();
    assert_eq!(body, r#"{"ttl":1,"channels":{"a":{"write":true}}}"#);
    assert!(!body.contains("null"));
}

#[test]
fn strings_are_escaped() {
    let body = TokenRequest::new(5)
        .read("quote\"back\\slash\nnew\u{1}ctl")
        .member_id("émoji 🎉")
        .to_json()
        .unwrap();
    assert_eq!(
        body,
        "{\"ttl\":5,\"channels\":{\"quote\\\"back\\\\slash\\nnew\\u0001ctl\":{\"read\":true}},\"member_id\":\"émoji 🎉\"}"
    );
    // It round-trips through a JSON parser to the same name.
    let parsed: miniserde::json::Value = miniserde::json::from_str(&body).unwrap();
    let miniserde::json::Value::Object(top) = parsed else {
        panic!()
    };
    let miniserde::json::Value::Object(channels) = &top["channels"] else {
        panic!()
    };
    assert!(channels.contains_key("quote\"back\\slash\nnew\u{1}ctl"));
}

#[test]
fn helpers_merge_rights_and_channel_replaces() {
    let r = TokenRequest::new(15)
        .read("a")
        .write("a")
        .write("b")
        .read_write("c");
    assert_eq!(r.channels["a"], Access::READ_WRITE);
    assert_eq!(r.channels["b"], Access::WRITE);
    let r = r.channel("a", Access::READ);
    assert_eq!(r.channels["a"], Access::READ);
}

#[test]
fn state_from_object() {
    let mut object = miniserde::json::Object::new();
    object.insert("room".into(), miniserde::json::Value::String("42".into()));
    let body = TokenRequest::new(15)
        .read("a")
        .state(object)
        .to_json()
        .unwrap();
    assert!(body.ends_with(r#","state":{"room":"42"}}"#), "{body}");
}

#[test]
fn token_carries_member_id_and_expiry() {
    let (_fake, client) = common::fake_and_client();
    let before = std::time::SystemTime::now();
    let token = client
        .create_token(&TokenRequest::new(30).read("a").member_id("m-1"))
        .unwrap();
    let after = std::time::SystemTime::now();
    assert_eq!(token.member_id(), Some("m-1"));
    let ttl = std::time::Duration::from_secs(30 * 60);
    assert!(token.expires_at() >= before + ttl && token.expires_at() <= after + ttl);
    assert_eq!(token.token().split('.').count(), 3);
    let anonymous = client
        .create_token(&TokenRequest::new(30).read("a"))
        .unwrap();
    assert_eq!(anonymous.member_id(), None);
    assert_ne!(anonymous.token(), token.token());
}

#[test]
fn client_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Client>();
    assert_send_sync::<signalwire_pubsub::Cancel>();
    assert_send_sync::<signalwire_pubsub::Call<'static>>();
    let (fake, client) = common::fake_and_client();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let client = client.clone();
            std::thread::spawn(move || {
                client
                    .create_token(&TokenRequest::new(5).read(format!("t{i}")))
                    .unwrap()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fake.request_count(), 4);
}

#[test]
fn custom_user_agent() {
    let fake =
        signalwire_pubsub::fake::FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    let client = Client::builder(&fake.url(), common::PROJECT, common::API_TOKEN)
        .user_agent("my-app/2")
        .build()
        .unwrap();
    client
        .create_token(&TokenRequest::new(5).read("a"))
        .unwrap();
    assert_eq!(fake.requests()[0].header("user-agent"), Some("my-app/2"));
}
