//! Code shared by the peers' benches: the crate's own bench support
//! (benches/common: harness, responder, fixtures, floor client, bare ureq
//! agent), compiled here, and the request and response as a serde user
//! writes them.

#[path = "../../common/mod.rs"]
pub mod common;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The request body, with serde's attributes set so that serde_json writes
/// exactly the bytes `TokenRequest::to_json` writes. `S` is the state's type:
/// pre-serialized ([`RawValue`], as the crate keeps it) or a
/// `serde_json::Value`.
#[derive(Serialize)]
pub struct SerdeRequest<S> {
    pub ttl: u32,
    pub channels: BTreeMap<String, SerdeAccess>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<S>,
}

#[derive(Serialize)]
pub struct SerdeAccess {
    #[serde(skip_serializing_if = "is_false")]
    pub read: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub write: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The 200 body.
#[derive(Deserialize)]
pub struct SerdeToken {
    pub token: String,
}

fn channels(f: &common::Fixture) -> BTreeMap<String, SerdeAccess> {
    f.channels
        .iter()
        .map(|(name, read, write)| {
            let access = SerdeAccess {
                read: *read,
                write: *write,
            };
            (name.clone(), access)
        })
        .collect()
}

/// The fixture with its state kept as serialized JSON.
pub fn serde_request_raw(f: &common::Fixture) -> SerdeRequest<Box<RawValue>> {
    SerdeRequest {
        ttl: f.ttl,
        channels: channels(f),
        member_id: Some(f.member_id.clone()),
        state: Some(RawValue::from_string(f.state.clone()).unwrap()),
    }
}

/// The fixture with its state as a `serde_json::Value`.
pub fn serde_request_value(f: &common::Fixture) -> SerdeRequest<serde_json::Value> {
    SerdeRequest {
        ttl: f.ttl,
        channels: channels(f),
        member_id: Some(f.member_id.clone()),
        state: Some(serde_json::from_str(&f.state).unwrap()),
    }
}
