//! The baseline's types: the request and response as a miniserde-derive
//! user would write them (no way to skip a `false` right, so channels carry
//! both flags). Shared by the wire and roundtrip benches.

use std::collections::BTreeMap;

use miniserde::json;

use crate::common::Fixture;

#[derive(miniserde::Serialize)]
pub struct MiniRequest {
    pub ttl: u32,
    pub channels: BTreeMap<String, MiniAccess>,
    pub member_id: Option<String>,
    pub state: Option<json::Value>,
}

#[derive(miniserde::Serialize)]
pub struct MiniAccess {
    pub read: bool,
    pub write: bool,
}

#[derive(miniserde::Deserialize)]
pub struct MiniToken {
    pub token: String,
}

pub fn mini_request(f: &Fixture) -> MiniRequest {
    MiniRequest {
        ttl: f.ttl,
        channels: f
            .channels
            .iter()
            .map(|(name, read, write)| {
                let access = MiniAccess {
                    read: *read,
                    write: *write,
                };
                (name.clone(), access)
            })
            .collect(),
        member_id: Some(f.member_id.clone()),
        state: Some(json::from_str(&f.state).unwrap()),
    }
}
