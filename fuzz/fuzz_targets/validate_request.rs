//! Bytes split into the fields of a `TokenRequest`, then `validate()` and
//! `to_json()`.
//!
//! Layout: 4 bytes of ttl (little endian), then parts separated by 0xFF (a
//! byte that never occurs in UTF-8): flags, member id, state text, then one
//! part per channel whose first byte picks how it is added. Text is decoded
//! lossily. Flag bit 0: set the member id; bit 1: set the state; bit 2: the
//! flags' second byte adds twice that many copies of the first channel with a
//! numbered suffix, so that 500 channels are in reach. A channel's first
//! byte: bit 0 read, bit 1 write; bits 2-3: 0 `channel()`, 1 the `read()` /
//! `write()` / `read_write()` builders, else the pub `channels` field.
//!
//! Checks: no panic; `validate()` and `to_json()` agree; `validate()` is Ok
//! exactly when the limits (written out here) say so; the JSON written
//! decodes to the same ttl, channels, member id and state.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use miniserde::json::{self, Number, Value};
use signalwire_pubsub::{Access, Error, TokenRequest};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn access(byte: u8) -> Access {
    Access {
        read: byte & 1 != 0,
        write: byte & 2 != 0,
    }
}

/// The first field that breaks a rule, or None; from the API's limits.
fn expected_error(
    ttl: u32,
    channels: &BTreeMap<String, Access>,
    member_id: Option<&str>,
    state: Option<&str>,
) -> Option<&'static str> {
    let chars = |s: &str| s.chars().count();
    if !(1..=43_200).contains(&ttl) {
        return Some("ttl");
    }
    if channels.is_empty() || channels.len() > 500 {
        return Some("channels");
    }
    if channels
        .iter()
        .any(|(name, a)| !(1..=250).contains(&chars(name)) || !(a.read || a.write))
    {
        return Some("channels");
    }
    if member_id.is_some_and(|id| !(1..=250).contains(&chars(id))) {
        return Some("member_id");
    }
    if let Some(state) = state {
        match json::from_str::<Value>(state) {
            Ok(Value::Object(object)) if chars(&json::to_string(&object)) <= 2_000 => {}
            _ => return Some("state"),
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let mut ttl_bytes = [0_u8; 4];
    let head = data.len().min(4);
    ttl_bytes[..head].copy_from_slice(&data[..head]);
    let ttl = u32::from_le_bytes(ttl_bytes);
    let mut parts = data[head..].split(|&b| b == 0xFF);
    let flags = parts.next().unwrap_or_default();
    let flag = |bit: u8| flags.first().is_some_and(|f| f & (1 << bit) != 0);
    let repeat = match flags.get(1) {
        Some(&n) if flag(2) => usize::from(n) * 2,
        _ => 0,
    };
    let member_id = parts.next().map(text).filter(|_| flag(0));
    let state = parts.next().map(text).filter(|_| flag(1));

    let mut request = TokenRequest::new(ttl);
    let mut model: BTreeMap<String, Access> = BTreeMap::new();
    for (n, part) in parts.enumerate() {
        let (how, name) = part.split_first().unwrap_or((&0, &[]));
        let name = text(name);
        let mut names = vec![name.clone()];
        if n == 0 {
            names.extend((0..repeat).map(|i| format!("{name}{i}")));
        }
        for name in names {
            let wanted = access(*how);
            match how >> 2 & 3 {
                0 => {
                    model.insert(name.clone(), wanted);
                    request = request.channel(name, wanted);
                }
                1 => {
                    let entry = model.entry(name.clone()).or_default();
                    entry.read |= wanted.read;
                    entry.write |= wanted.write;
                    request = match (wanted.read, wanted.write) {
                        (true, true) => request.read_write(name),
                        (true, false) => request.read(name),
                        (false, true) => request.write(name),
                        (false, false) => {
                            // No builder grants nothing: set the field.
                            request.channels.entry(name).or_default();
                            request
                        }
                    };
                }
                _ => {
                    model.insert(name.clone(), wanted);
                    request.channels.insert(name, wanted);
                }
            }
        }
    }
    if let Some(id) = &member_id {
        request = request.member_id(id.as_str());
    }
    if let Some(state) = &state {
        request = request.state_json(state);
    }

    let validated = request.validate();
    let written = request.to_json();
    let want = expected_error(ttl, &model, member_id.as_deref(), state.as_deref());
    match (&validated, want) {
        (Ok(()), None) => {}
        (Err(err @ Error::InvalidRequest { .. }), Some(w)) if err.field().map(|f| f.as_str()) == Some(w) => {}
        (got, want) => panic!("validate() gave {got:?}, the limits say {want:?}"),
    }
    let _ = validated.as_ref().map_err(|e| e.to_string());
    let out = match (written, &validated) {
        (Ok(out), Ok(())) => out,
        (
            Err(Error::InvalidRequest { field: a, .. }),
            Err(Error::InvalidRequest { field: b, .. }),
        ) if a == *b => {
            return;
        }
        (w, v) => panic!("to_json gave {w:?}, validate gave {v:?}"),
    };

    let value: Value = json::from_str(&out).expect("to_json writes JSON");
    let Value::Object(object) = value else {
        panic!("to_json writes an object: {out}");
    };
    assert!(
        matches!(&object["ttl"], Value::Number(Number::U64(t)) if *t == u64::from(ttl)),
        "{out}"
    );
    let Value::Object(channels) = &object["channels"] else {
        panic!("channels is an object: {out}");
    };
    assert_eq!(channels.len(), model.len(), "{out}");
    for (name, a) in &model {
        let Some(Value::Object(rights)) = channels.get(name) else {
            panic!("channel {name:?} is written: {out}");
        };
        let flag = |key: &str| matches!(rights.get(key), Some(Value::Bool(true)));
        assert_eq!((flag("read"), flag("write")), (a.read, a.write), "{out}");
        assert_eq!(
            rights.len(),
            usize::from(a.read) + usize::from(a.write),
            "{out}"
        );
    }
    match (&member_id, object.get("member_id")) {
        (None, None) => {}
        (Some(id), Some(Value::String(s))) if s == id => {}
        (want, got) => panic!("member_id {got:?}, expected {want:?}: {out}"),
    }
    match (&state, object.get("state")) {
        (None, None) => {}
        (Some(text), Some(got)) => {
            // The state goes out as its compact form; decoding that form
            // again must give what the output decodes to (comparing the
            // texts, not the floats, which a decoder may round either way).
            let sent: Value = json::from_str(text).expect("a valid state is JSON");
            let compact = json::to_string(&sent);
            let again: Value = json::from_str(&compact).expect("compact JSON");
            assert_eq!(json::to_string(got), json::to_string(&again), "{out}");
        }
        (want, got) => panic!("state {got:?}, expected {want:?}: {out}"),
    }
    let keys = 2 + usize::from(member_id.is_some()) + usize::from(state.is_some());
    assert_eq!(object.len(), keys, "{out}");
});
