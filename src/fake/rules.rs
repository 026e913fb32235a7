//! The spec's rules, as the fake checks them: its own code, written from
//! the OpenAPI text (`pubsub-tokens.openapi.yaml`, `chat-tokens.openapi.yaml`),
//! never the client's validation, so that the two check each other.

use miniserde::json::{self, Number, Object, Value};

use crate::request::Service;

/// Chat channel names must not start with this (`chat-tokens.openapi.yaml`).
const CHAT_RESERVED: &str = "sw_";
const MAX_TTL: u64 = 43_200;
const MAX_CHANNELS: usize = 500;
/// For channel names and `member_id`.
const MAX_NAME_CHARS: usize = 250;
const MAX_STATE_CHARS: usize = 2_000;
const ERROR_DOCS: &str = "https://developer.signalwire.com/rest/overview/error-codes";

const MISSING: &str = "missing_required_parameter";
const INVALID: &str = "invalid_parameter";
const NOT_A_HASH: &str = "not_a_hash";

/// One broken validation rule.
pub(super) struct Problem {
    code: &'static str,
    attribute: &'static str,
    message: String,
}

/// The broken rules: one item per (code, attribute), the first offender's message.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, code: &'static str, attribute: &'static str, message: impl Into<String>) {
        if !self
            .0
            .iter()
            .any(|p| (p.code, p.attribute) == (code, attribute))
        {
            let message = message.into();
            self.0.push(Problem {
                code,
                attribute,
                message,
            });
        }
    }
}

/// Checks a token request body against the rules of `service`'s spec.
pub(super) fn validate(body: &Object, service: Service) -> Vec<Problem> {
    let mut problems = Problems::default();
    match body.get("ttl") {
        None => problems.add(MISSING, "ttl", "ttl is required"),
        Some(Value::Number(Number::U64(1..=MAX_TTL))) => {}
        Some(_) => problems.add(INVALID, "ttl", "ttl must be an integer from 1 to 43200"),
    }
    match body.get("channels") {
        None => problems.add(MISSING, "channels", "channels is required"),
        Some(Value::Object(channels)) => validate_channels(channels, service, &mut problems),
        Some(_) => problems.add(NOT_A_HASH, "channels", "channels must be an object"),
    }
    match body.get("member_id") {
        Some(Value::String(id)) if (1..=MAX_NAME_CHARS).contains(&id.chars().count()) => {}
        None => {}
        Some(_) => problems.add(
            INVALID,
            "member_id",
            "member_id must be 1 to 250 characters",
        ),
    }
    match body.get("state") {
        Some(state @ Value::Object(_)) => {
            let size = json::to_string(state).chars().count();
            if size > MAX_STATE_CHARS {
                let message = format!("state is {size} characters long, the maximum is 2000");
                problems.add("state_size_limit_exceeded", "state", message);
            }
        }
        None => {}
        Some(_) => problems.add(NOT_A_HASH, "state", "state must be an object"),
    }
    problems.0
}

fn validate_channels(channels: &Object, service: Service, problems: &mut Problems) {
    if channels.is_empty() {
        problems.add(INVALID, "channels", "channels must not be empty");
    }
    if channels.len() > MAX_CHANNELS {
        let message = format!("{} channels given, the maximum is 500", channels.len());
        problems.add("channel_size_limit_exceeded", "channels", message);
    }
    for (name, access) in channels {
        let length = name.chars().count();
        if length == 0 {
            problems.add(INVALID, "channels", "channel names must not be empty");
        } else if length > MAX_NAME_CHARS {
            let message = format!("a channel name has {length} characters, the maximum is 250");
            problems.add("channel_name_size_limit_exceeded", "channels", message);
        }
        if service == Service::Chat && name.starts_with(CHAT_RESERVED) {
            let message = format!("channel {name:?}: Chat channel names must not start with `sw_`");
            problems.add(INVALID, "channels", message);
        }
        let Value::Object(access) = access else {
            let message = format!("channel {name:?} must be an object");
            problems.add(NOT_A_HASH, "channels", message);
            continue;
        };
        let (read, write) = (access.get("read"), access.get("write"));
        if read.is_none() && write.is_none() {
            let message = format!("channel {name:?} needs `read`, `write` or both");
            problems.add("channel_has_missing_properties", "channels", message);
        }
        for (key, value) in [("read", read), ("write", write)] {
            if value.is_some_and(|v| !matches!(v, Value::Bool(_))) {
                let message = format!("`{key}` of channel {name:?} must be a boolean");
                problems.add("not_a_boolean", "channels", message);
            }
        }
    }
}

pub(super) fn errors_body(problems: &[Problem]) -> Value {
    let items = problems.iter().map(|p| {
        object([
            ("type", string("validation_error")),
            ("code", string(p.code)),
            ("message", string(&p.message)),
            ("attribute", string(p.attribute)),
            ("url", string(format!("{ERROR_DOCS}#{}", p.code))),
        ])
    });
    object([("errors", Value::Array(items.collect()))])
}

pub(super) fn string(s: impl ToString) -> Value {
    Value::String(s.to_string())
}

pub(super) fn number(n: u64) -> Value {
    Value::Number(Number::U64(n))
}

pub(super) fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut object = Object::new();
    for (key, value) in entries {
        object.insert(key.to_owned(), value);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNELS: &str = r#""channels":{"a":{"read":true}}"#;

    /// The (code, attribute) pairs `validate` reports for `service` and the JSON
    /// object with these `fields`.
    fn problems(service: Service, fields: &str) -> Vec<(&'static str, &'static str)> {
        let Ok(Value::Object(body)) = json::from_str(&format!("{{{fields}}}")) else {
            panic!("not an object: {fields}")
        };
        let found = validate(&body, service);
        found.iter().map(|p| (p.code, p.attribute)).collect()
    }

    /// The codes `validate` reports for PubSub and the JSON object with these `fields`.
    fn codes(fields: &str) -> Vec<&'static str> {
        let found = problems(Service::PubSub, fields);
        found.into_iter().map(|(code, _)| code).collect()
    }

    #[test]
    fn spec_example_is_valid() {
        let example = r#""ttl":15,"channels":{"a":{"read":true,"write":false},"b":{"read":true}}"#;
        assert!(codes(example).is_empty());
        let everything = r#""channels":{"a":{"read":false,"write":false}},"member_id":"m""#;
        assert!(codes(&format!(r#""ttl":1,{everything},"state":{{}}"#)).is_empty());
    }

    #[test]
    fn ttl_bounds_and_type() {
        assert!(codes(&format!(r#""ttl":43200,{CHANNELS}"#)).is_empty());
        for ttl in ["43201", "0", "-1", "15.0", "\"15\"", "null"] {
            let found = codes(&format!(r#""ttl":{ttl},{CHANNELS}"#));
            assert_eq!(found, ["invalid_parameter"], "{ttl}");
        }
        assert_eq!(codes(CHANNELS), ["missing_required_parameter"]);
    }

    #[test]
    fn channel_count_limits() {
        let channels = |n: usize| {
            let list: Vec<_> = (0..n)
                .map(|i| format!(r#""c{i}":{{"read":true}}"#))
                .collect();
            codes(&format!(r#""ttl":15,"channels":{{{}}}"#, list.join(",")))
        };
        assert!(channels(500).is_empty());
        assert_eq!(channels(501), ["channel_size_limit_exceeded"]);
        assert_eq!(channels(0), ["invalid_parameter"]);
        assert_eq!(codes(r#""ttl":15,"channels":[]"#), ["not_a_hash"]);
        assert_eq!(codes(r#""ttl":15"#), ["missing_required_parameter"]);
    }

    #[test]
    fn channel_name_length_counts_characters() {
        let name = |name: &str| {
            codes(&format!(
                r#""ttl":15,"channels":{{"{name}":{{"write":true}}}}"#
            ))
        };
        assert!(name(&"é".repeat(250)).is_empty());
        assert_eq!(name(&"é".repeat(251)), ["channel_name_size_limit_exceeded"]);
        assert_eq!(name(""), ["invalid_parameter"]);
    }

    #[test]
    fn channel_permissions() {
        let access = |access: &str| codes(&format!(r#""ttl":15,"channels":{{"a":{access}}}"#));
        assert_eq!(access("true"), ["not_a_hash"]);
        assert_eq!(access(r#"{"read":"yes"}"#), ["not_a_boolean"]);
        assert_eq!(access(r#"{"read":true,"write":null}"#), ["not_a_boolean"]);
        assert_eq!(access("{}"), ["channel_has_missing_properties"]);
    }

    #[test]
    fn member_id_rules() {
        let member = |id: &str| codes(&format!(r#""ttl":15,{CHANNELS},"member_id":{id}"#));
        assert!(member(&format!("\"{}\"", "ü".repeat(250))).is_empty());
        let long = format!("\"{}\"", "ü".repeat(251));
        for id in [long.as_str(), "\"\"", "null", "7"] {
            assert_eq!(member(id), ["invalid_parameter"], "{id}");
        }
    }

    #[test]
    fn state_size_and_type() {
        // `{"k":"…"}` is 8 characters around the value.
        let sized = |len: usize| format!(r#"{{"k":"{}"}}"#, "ß".repeat(len - 8));
        let state = |state: &str| codes(&format!(r#""ttl":15,{CHANNELS},"state":{state}"#));
        assert!(state(&sized(2000)).is_empty());
        assert_eq!(state(&sized(2001)), ["state_size_limit_exceeded"]);
        assert_eq!(state("\"x\""), ["not_a_hash"]);
    }

    #[test]
    fn every_broken_rule_is_reported_once() {
        let body =
            r#"{"ttl":0,"channels":{"a":{},"b":{},"c":{"read":1}},"member_id":"","state":[]}"#;
        let Ok(Value::Object(body)) = json::from_str(body) else {
            panic!()
        };
        let problems = validate(&body, Service::PubSub);
        let found: Vec<_> = problems.iter().map(|p| (p.code, p.attribute)).collect();
        let expected = [
            ("invalid_parameter", "ttl"),
            ("channel_has_missing_properties", "channels"),
            ("not_a_boolean", "channels"),
            ("invalid_parameter", "member_id"),
            ("not_a_hash", "state"),
        ];
        assert_eq!(found, expected);
        let text = json::to_string(&errors_body(&problems));
        assert!(text.contains(&format!(r#""url":"{ERROR_DOCS}#not_a_hash""#)));
    }

    #[test]
    fn chat_reserves_the_sw_prefix() {
        let channel = |name: &str| format!(r#""ttl":15,"channels":{{"{name}":{{"read":true}}}}"#);
        let reserved = [("invalid_parameter", "channels")];
        for name in ["sw_", "sw_system"] {
            assert_eq!(problems(Service::Chat, &channel(name)), reserved, "{name}");
            assert!(
                problems(Service::PubSub, &channel(name)).is_empty(),
                "{name}"
            );
        }
        for name in ["sw", "swx", "SW_x", "a_sw_", "_sw_"] {
            assert!(problems(Service::Chat, &channel(name)).is_empty(), "{name}");
        }
        // One item for several reserved names, after the other rules.
        let body = r#""ttl":0,"channels":{"sw_a":{"read":true},"sw_b":{}}"#;
        let expected = [
            ("invalid_parameter", "ttl"),
            ("invalid_parameter", "channels"),
            ("channel_has_missing_properties", "channels"),
        ];
        assert_eq!(problems(Service::Chat, body), expected);
    }
}
