//! Every response path: each status maps to its variant with the status, the
//! request id and what the server said; bad 2xx bodies; redirects. (What the
//! connection does is in `faults.rs`.)

mod common;

use common::request;

use signalwire_pubsub::fake::{FakeResponse, FakeServer};
use signalwire_pubsub::{Client, Error};

/// The error the client returns when the fake answers with `response`, with
/// retries off.
fn error_for(response: FakeResponse) -> Error {
    let fake = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    let client = Client::builder(&fake.url(), common::PROJECT, common::API_TOKEN)
        .retries(0)
        .build()
        .unwrap();
    fake.respond_next(response);
    let err = client.create_token(&request()).expect_err("must fail");
    assert_eq!(fake.request_count(), 1);
    err
}

#[test]
fn ok_from_the_fake() {
    let (fake, client) = common::fake_and_client();
    let token = client.create_token(&request()).unwrap();
    assert_eq!(fake.tokens_issued(), vec![token.token().to_owned()]);
}

#[test]
fn any_2xx_with_a_token_is_success() {
    let (fake, client) = common::fake_and_client();
    fake.respond_next(FakeResponse::json(
        201,
        r#"{"token":"a.b.c","extra":[1,{"x":2}]}"#,
    ));
    assert_eq!(client.create_token(&request()).unwrap().token(), "a.b.c");
}

#[test]
fn wrong_credentials_are_unauthorized() {
    let fake = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    let client = Client::new(&fake.url(), common::PROJECT, "wrong-token").unwrap();
    let err = client.create_token(&request()).unwrap_err();
    let Error::Unauthorized(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.status, 401);
    assert_eq!(api.message.as_deref(), Some("Unauthorized"));
    assert!(api.request_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert_eq!(err.status(), Some(401));
}

#[test]
fn wrong_path_prefix_is_not_found() {
    let fake = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    let space = format!("{}/prefix", fake.url());
    let client = Client::new(&space, common::PROJECT, common::API_TOKEN).unwrap();
    assert_eq!(
        client.url(),
        format!("{}/prefix/api/pubsub/tokens", fake.url())
    );
    let err = client.create_token(&request()).unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref api) if api.status == 404),
        "{err:?}"
    );
    assert_eq!(fake.requests()[0].path, "/prefix/api/pubsub/tokens");
}

#[test]
fn each_status_has_its_variant() {
    type IsVariant = fn(&Error) -> bool;
    let cases: [(u16, IsVariant); 9] = [
        (400, |e| matches!(e, Error::BadRequest(_))),
        (401, |e| matches!(e, Error::Unauthorized(_))),
        (403, |e| matches!(e, Error::Forbidden(_))),
        (404, |e| matches!(e, Error::NotFound(_))),
        (429, |e| matches!(e, Error::RateLimited(_))),
        (500, |e| matches!(e, Error::Server(_))),
        (503, |e| matches!(e, Error::Server(_))),
        (418, |e| matches!(e, Error::UnexpectedStatus(_))),
        (409, |e| matches!(e, Error::UnexpectedStatus(_))),
    ];
    for (status, is_variant) in cases {
        let err = error_for(
            FakeResponse::json(status, r#"{"error":"Some Reason"}"#)
                .header("x-request-id", format!("req-{status}")),
        );
        assert!(is_variant(&err), "{status}: {err:?}");
        let api = err.api().unwrap();
        assert_eq!(api.status, status);
        assert_eq!(
            api.request_id.as_deref(),
            Some(format!("req-{status}").as_str())
        );
        assert_eq!(api.message.as_deref(), Some("Some Reason"));
        let text = err.to_string();
        assert!(text.contains(&format!("HTTP {status}")), "{text}");
        assert!(text.contains(&format!("req-{status}")), "{text}");
    }
    let forbidden = error_for(FakeResponse::json(403, r#"{"error":"Forbidden"}"#));
    assert!(forbidden.to_string().contains("scope of this endpoint"));
}

#[test]
fn unprocessable_carries_the_error_items() {
    let body = r#"{"errors":[
        {"type":"validation_error","code":"invalid_parameter","message":"Ttl is invalid","attribute":"ttl","url":"https://x/ttl"},
        {"type":"validation_error","code":"channel_size_limit_exceeded","message":"Too many","attribute":null,"url":"https://x/ch"},
        {"type":"validation_error","code":"not_a_hash","message":"State","url":"https://x/st","extra":1}
    ]}"#;
    let err = error_for(FakeResponse::json(422, body).header("x-signalwire-request-id", "sw-9"));
    let Error::Unprocessable(api) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(api.request_id.as_deref(), Some("sw-9"));
    assert_eq!(api.errors.len(), 3);
    assert_eq!(api.errors[0].kind.as_deref(), Some("validation_error"));
    assert_eq!(api.errors[0].code.as_deref(), Some("invalid_parameter"));
    assert_eq!(api.errors[0].message.as_deref(), Some("Ttl is invalid"));
    assert_eq!(api.errors[0].attribute.as_deref(), Some("ttl"));
    assert_eq!(api.errors[0].url.as_deref(), Some("https://x/ttl"));
    assert_eq!(api.errors[1].attribute, None);
    assert_eq!(api.errors[2].attribute, None);
    assert_eq!(api.body_prefix, None);
    let text = err.to_string();
    assert!(
        text.contains("invalid_parameter (ttl): Ttl is invalid"),
        "{text}"
    );
    assert!(
        text.contains("channel_size_limit_exceeded: Too many"),
        "{text}"
    );
}

#[test]
fn error_items_are_read_leniently() {
    // Missing fields, other types, unknown keys, items that are not objects:
    // each item keeps what it has, and no item is lost for another's sake.
    let body = r#"{"errors":[
        {"code":"invalid_parameter","message":"no url, no type"},
        7,
        {"type":"validation_error","code":42,"message":["x"],"attribute":{"a":1},"url":null,"new":true},
        "text",
        {},
        {"message":"last","attribute":"state"}
    ],"extra":{"x":[1,2]}}"#;
    let err = error_for(FakeResponse::json(422, body));
    let items = &err.api().unwrap().errors;
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[0].code.as_deref(), Some("invalid_parameter"));
    assert_eq!(items[0].message.as_deref(), Some("no url, no type"));
    assert_eq!(
        (items[0].kind.as_ref(), items[0].url.as_ref()),
        (None, None)
    );
    assert_eq!(items[1].kind.as_deref(), Some("validation_error"));
    assert!(items[1].code.is_none() && items[1].message.is_none());
    assert!(items[1].attribute.is_none() && items[1].url.is_none());
    assert!(items[2].code.is_none() && items[2].message.is_none());
    assert_eq!(items[3].attribute.as_deref(), Some("state"));
    assert_eq!(err.api().unwrap().body_prefix, None);
    let text = err.to_string();
    assert!(
        text.contains("invalid_parameter: no url, no type"),
        "{text}"
    );
    assert!(text.contains("error (state): last"), "{text}");

    // An `error` of another type, or `errors` that is not a list: the body
    // is quoted instead.
    for body in [
        r#"{"error":5}"#,
        r#"{"errors":{"a":1}}"#,
        r#"{"errors":[1,2]}"#,
    ] {
        let err = error_for(FakeResponse::json(400, body));
        let api = err.api().unwrap();
        assert_eq!(api.body_prefix.as_deref(), Some(body), "{body}");
        assert!(api.message.is_none() && api.errors.is_empty());
    }
}

#[test]
fn a_body_that_is_not_json_is_quoted_briefly() {
    let html = format!(
        "<html><body>Bad Gateway\n{}</body></html>",
        "x".repeat(5000)
    );
    let err = error_for(
        FakeResponse::new(502)
            .header("content-type", "text/html")
            .body(html),
    );
    let api = err.api().unwrap();
    assert!(matches!(err, Error::Server(_)));
    let prefix = api.body_prefix.as_deref().unwrap();
    assert!(prefix.starts_with("<html><body>Bad Gateway "), "{prefix}");
    assert_eq!(
        prefix.chars().count(),
        201,
        "200 characters and an ellipsis"
    );
    assert!(prefix.ends_with('…'));
    assert!(api.errors.is_empty() && api.message.is_none());

    // A 422 whose body is not spec-shaped keeps its status and quotes it.
    let err = error_for(FakeResponse::json(422, r#"{"errors":"nope"}"#));
    let api = err.api().unwrap();
    assert!(matches!(err, Error::Unprocessable(_)));
    assert_eq!(api.body_prefix.as_deref(), Some(r#"{"errors":"nope"}"#));
}

#[test]
fn error_body_over_the_cap_still_reports_the_status() {
    let err = error_for(FakeResponse::new(500).body("y".repeat(70 * 1024)));
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert!(err
        .api()
        .unwrap()
        .body_prefix
        .as_deref()
        .unwrap()
        .contains("64 KiB"));
}

#[test]
fn bad_2xx_bodies_are_invalid_responses() {
    let not_a_token = "body is not the JSON object {\"token\": string}";
    let not_visible = "token holds a character that is not visible ASCII";
    let cases = [
        (r#"{"token":"a.b.c""#.to_owned(), not_a_token),
        (r#"{"nottoken":"x"}"#.to_owned(), not_a_token),
        (r#"{"token":42}"#.to_owned(), not_a_token),
        (r#"{"token":null}"#.to_owned(), not_a_token),
        (r#"{"token":""}"#.to_owned(), "token is empty"),
        // Only visible ASCII is a token: nothing a terminal or shell reads.
        (
            r#"{"token":"abc\u001b]0;x\u0007\nexport X=1"}"#.to_owned(),
            not_visible,
        ),
        (r#"{"token":"a b"}"#.to_owned(), not_visible),
        (r#"{"token":"a\tb"}"#.to_owned(), not_visible),
        (r#"{"token":"a.b.c\u0000"}"#.to_owned(), not_visible),
        ("{\"token\":\"a.b.c\u{85}\"}".to_owned(), not_visible),
        ("{\"token\":\"caf\u{e9}\"}".to_owned(), not_visible),
        ("{\"token\":\"a\u{2028}b\"}".to_owned(), not_visible),
        (r#"{"token":"a\u007f"}"#.to_owned(), not_visible),
        (r#"["token"]"#.to_owned(), not_a_token),
        (String::new(), not_a_token),
        (
            format!(r#"{{"token":"{}"}}"#, "t".repeat(70 * 1024)),
            "body is larger than 64 KiB",
        ),
    ];
    for (body, why) in cases {
        let err = error_for(FakeResponse::json(200, body.clone()).header("x-request-id", "r1"));
        let Error::InvalidResponse {
            status,
            request_id,
            reason,
            attempts,
            ..
        } = &err
        else {
            panic!("{body:?}: {err:?}")
        };
        assert_eq!((*status, request_id.as_deref()), (200, Some("r1")));
        assert_eq!(reason, why, "{body:?}");
        assert_eq!(*attempts, 1, "a bad 2xx body is never retried");
        assert_eq!(err.status(), Some(200));
        assert_eq!(err.request_id(), Some("r1"));
    }
}

#[test]
fn redirects_are_not_followed() {
    let (fake, client) = common::fake_and_client();
    let elsewhere = FakeServer::start(common::PROJECT, common::API_TOKEN).unwrap();
    for status in [301, 302, 307, 308] {
        fake.respond_next(
            FakeResponse::new(status)
                .header("location", format!("{}/api/pubsub/tokens", elsewhere.url())),
        );
        let err = client.create_token(&request()).unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedStatus(api) if api.status == status),
            "{err:?}"
        );
    }
    assert_eq!(
        elsewhere.request_count(),
        0,
        "the redirect target got nothing"
    );
    assert!(fake.requests()[0].header("authorization").is_some());
}

#[test]
fn the_request_id_is_the_first_of_four_headers_present() {
    use signalwire_pubsub::REQUEST_ID_HEADERS;
    for (i, header) in REQUEST_ID_HEADERS.iter().enumerate() {
        // This header and every later one, each with its own value.
        let response = (REQUEST_ID_HEADERS[i..].iter().rev())
            .fold(FakeResponse::json(503, "{}"), |r, h| {
                r.header(*h, format!("id-{h}"))
            });
        let err = error_for(response);
        assert_eq!(
            err.request_id(),
            Some(format!("id-{header}").as_str()),
            "{header}"
        );
    }
    assert_eq!(error_for(FakeResponse::json(503, "{}")).request_id(), None);
    // A blank one (a gateway's) does not hide SignalWire's.
    let blank = FakeResponse::json(503, "{}")
        .header("x-request-id", " ")
        .header("x-signalwire-request-id", "sw-1");
    assert_eq!(error_for(blank).request_id(), Some("sw-1"));
}

#[test]
fn a_401_names_a_missing_scope_as_a_possible_cause() {
    let err = error_for(FakeResponse::json(401, r#"{"error":"Unauthorized"}"#));
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("project id and API token"), "{text}");
    assert!(text.contains("scope"), "{text}");
}
