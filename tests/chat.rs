//! Chat tokens through the public API, against the fake: minted, Chat's `sw_`
//! rule checked before sending, API token scopes, the same body on the wire as
//! for PubSub, and no secret in any text of either path.

mod common;

use common::{assert_no_secret, expected_authorization, fake_and_client, API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Client, Error, Field, Service, TokenRequest};

fn check(err: &Error, minted: &[String]) {
    assert_no_secret(&err.to_string(), minted);
    assert_no_secret(&format!("{err:?}"), minted);
    assert_no_secret(&format!("{err:#?}"), minted);
}

#[test]
fn chat_token_minted() {
    let (fake, client) = fake_and_client();
    let request = TokenRequest::new(15).read("lobby").member_id("alice");
    let token = client.create_chat_token(&request).unwrap();
    assert_eq!(fake.tokens_issued_for(Service::Chat), [token.token()]);
    assert!(fake.tokens_issued_for(Service::PubSub).is_empty());
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/api/chat/tokens");
    assert_eq!((token.member_id(), token.attempts()), (Some("alice"), 1));
    let url = format!("{}/api/chat/tokens", fake.url());
    assert_eq!(client.url_for(Service::Chat), url);

    // `mint` with `Service::Chat` is the same call.
    let again = client.mint(Service::Chat, &request).unwrap();
    assert_eq!(fake.tokens_issued_for(Service::Chat)[1], again.token());
    assert_eq!(fake.requests()[1].path, "/api/chat/tokens");
}

#[test]
fn reserved_prefix_refused_with_nothing_sent() {
    let (fake, client) = fake_and_client();
    let request = TokenRequest::new(15).read("lobby").write("sw_system");
    let err = client.create_chat_token(&request).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    assert_eq!((err.field(), err.attempts()), (Some(Field::Channels), 0));
    let text = err.to_string();
    assert!(
        text.contains("sw_system") && text.contains("nothing was sent"),
        "{text}"
    );
    assert_eq!(fake.request_count(), 0);

    // PubSub has no such rule.
    client.create_token(&request).unwrap();
    assert_eq!(fake.request_count(), 1);
}

#[test]
fn api_token_without_the_chat_scope() {
    let fake = FakeServer::start_with_scopes(PROJECT, API_TOKEN, &[Service::PubSub]).unwrap();
    let client = Client::new(&fake.url(), PROJECT, API_TOKEN).unwrap();
    let request = TokenRequest::new(15).read("lobby");

    let err = client.create_chat_token(&request).unwrap_err();
    let forbidden =
        matches!(&err, Error::Forbidden(api) if api.message.as_deref() == Some("Forbidden"));
    assert!(forbidden, "{err:?}");
    assert_eq!((err.status(), err.attempts()), (Some(403), 1));
    assert!(!err.is_retryable());
    check(&err, &[]);

    let token = client.create_token(&request).unwrap();
    assert_eq!(fake.tokens_issued(), [token.token()]);
    assert!(fake.tokens_issued_for(Service::Chat).is_empty());
    assert_eq!(fake.request_count(), 2);
}

#[test]
fn same_body_on_the_wire_for_both_kinds() {
    let (fake, client) = fake_and_client();
    let request = TokenRequest::new(90)
        .read("lobby")
        .write("uploads")
        .read_write("room-42")
        .member_id("alice")
        .state_json(r#"{"seat":"12é","vip":true}"#);
    client.create_token(&request).unwrap();
    client.create_chat_token(&request).unwrap();

    let requests = fake.requests();
    let [pubsub, chat] = &requests[..] else {
        panic!("two requests expected: {requests:?}")
    };
    assert_eq!(pubsub.path, "/api/pubsub/tokens");
    assert_eq!(chat.path, "/api/chat/tokens");
    assert_eq!(chat.body, pubsub.body);
    assert_eq!(chat.body, request.to_json().unwrap());
    assert_eq!(
        (&chat.method, &chat.headers),
        (&pubsub.method, &pubsub.headers)
    );
    let auth = expected_authorization();
    assert_eq!(chat.header("authorization"), Some(auth.as_str()));
}

#[test]
fn no_secret_on_either_path() {
    let (fake, client) = common::fake_and_client_without_retries();
    let good = TokenRequest::new(15).read("lobby");
    let auth = expected_authorization();
    let b64 = auth.trim_start_matches("Basic ");
    let port = common::refused_port();
    let refused = Client::builder(
        &format!("http://127.0.0.1:{}", port.port),
        PROJECT,
        API_TOKEN,
    )
    .retries(0)
    .build()
    .unwrap();

    for &service in Service::ALL {
        let token = client.mint(service, &good).unwrap();
        let minted = fake.tokens_issued();
        assert_no_secret(&format!("{token:?}"), &minted);
        assert_no_secret(&format!("{token:#?}"), &minted);

        // Replies that echo the API token, the credentials and the minted token.
        let echo = format!("echo {API_TOKEN} {auth} {}", token.token());
        let mut errors = Vec::new();
        for status in [400, 401, 403, 422, 500] {
            fake.respond_next(FakeResponse::new(status).body(echo.clone()));
            errors.push(client.mint(service, &good).unwrap_err());
        }
        let message = format!(r#"{{"error":"{API_TOKEN} {b64}"}}"#);
        fake.respond_next(FakeResponse::json(403, message));
        errors.push(client.mint(service, &good).unwrap_err());
        let item = format!(
            r#"{{"errors":[{{"type":"t","code":"c","message":"{API_TOKEN} {}","attribute":"{b64}","url":"u"}}]}}"#,
            token.token()
        );
        fake.respond_next(FakeResponse::json(422, item));
        errors.push(client.mint(service, &good).unwrap_err());
        let broken = format!(r#"{{"token":"{}""#, token.token());
        fake.respond_next(FakeResponse::json(200, broken));
        errors.push(client.mint(service, &good).unwrap_err());
        // Refused locally, and a connection refused.
        errors.push(
            client
                .mint(service, &TokenRequest::new(0).read("sw_x"))
                .unwrap_err(),
        );
        errors.push(refused.mint(service, &good).unwrap_err());

        assert_eq!(errors.len(), 10);
        for err in &errors {
            check(err, &minted);
        }
    }
    let kinds: Vec<_> = fake.requests().iter().map(|r| r.service()).collect();
    let expected: Vec<_> = Service::ALL
        .iter()
        .flat_map(|s| vec![Some(*s); 9])
        .collect();
    assert_eq!(kinds, expected);
}
