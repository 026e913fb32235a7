//! The example CLI, run as a user would: exit codes, output, and no secret on
//! stderr. `cargo test` builds the example before running this.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{API_TOKEN, PROJECT};
use signalwire_pubsub::fake::{FakeResponse, FakeServer};

fn example() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let dir = deps.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(format!("pubsub_token{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built: run `cargo test`",
        path.display()
    );
    path
}

/// Runs the CLI with `env` as its only SIGNALWIRE_* variables.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(example());
    cmd.args(args);
    for var in [
        "SIGNALWIRE_SPACE",
        "SIGNALWIRE_PROJECT_ID",
        "SIGNALWIRE_API_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn env_for(fake: &FakeServer, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SIGNALWIRE_SPACE", fake.url()),
        ("SIGNALWIRE_PROJECT_ID", PROJECT.to_owned()),
        ("SIGNALWIRE_API_TOKEN", token.to_owned()),
    ]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn no_setup_mints_from_the_built_in_fake() {
    let out = run(&[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.trim().split('.').count(), 3, "{stdout}");
    assert!(text(&out.stderr).contains("built-in fake"));
}

#[test]
fn json_output() {
    let out = run(&["--json", "--ttl", "60"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let value: miniserde::json::Value =
        miniserde::json::from_str(text(&out.stdout).trim()).unwrap();
    let miniserde::json::Value::Object(object) = value else {
        panic!()
    };
    assert!(
        matches!(&object["token"], miniserde::json::Value::String(t) if t.split('.').count() == 3)
    );
    let miniserde::json::Value::String(expires) = &object["expires_at"] else {
        panic!()
    };
    assert!(
        expires.len() == 20 && expires.ends_with('Z') && expires.starts_with("20"),
        "{expires}"
    );
}

#[test]
fn bad_arguments_exit_2_naming_the_problem() {
    for (args, needle) in [
        (&["--ttl", "0"][..], "ttl"),
        (&["--ttl", "abc"][..], "--ttl"),
        (&["--channel", "x=q"][..], "rights"),
        (&["--channel", "noequals"][..], "NAME="),
        (&["--member-id"][..], "needs a value"),
        (&["--state", "[1]"][..], "state"),
        (&["--bogus"][..], "--bogus"),
        (&["--json=false"][..], "takes no value"),
        (&["--member-id", "--json"][..], "needs a value"),
    ] {
        let out = run(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    let out = run(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Usage"));
}

#[test]
fn some_variables_set_is_an_error_naming_the_missing_one() {
    let out = run(
        &[],
        &[
            ("SIGNALWIRE_SPACE", "example"),
            ("SIGNALWIRE_API_TOKEN", API_TOKEN),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("SIGNALWIRE_PROJECT_ID"), "{stderr}");
    assert!(!stderr.contains(API_TOKEN));
}

#[test]
fn calls_the_configured_space() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, API_TOKEN);
    let out = run(
        &[
            "--channel",
            "lobby=r",
            "--channel",
            "room=rw",
            "--member-id",
            "bob",
            "--state",
            r#"{"a":1}"#,
        ],
        &as_refs(&env),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), fake.tokens_issued()[0]);
    assert_eq!(
        fake.requests()[0].body,
        r#"{"ttl":15,"channels":{"lobby":{"read":true},"room":{"read":true,"write":true}},"member_id":"bob","state":{"a":1}}"#
    );
    assert!(!text(&out.stderr).contains("fake"));
}

#[test]
fn api_failure_exits_1_without_secrets() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    let env = env_for(&fake, "wrong-PT-token-77");
    let out = run(&[], &as_refs(&env));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("401"), "{stderr}");
    assert!(!stderr.contains("wrong-PT-token-77") && !stderr.contains(API_TOKEN));
    assert!(out.stdout.is_empty());

    // A transport failure also exits 1.
    let port = common::closed_port();
    let space = format!("http://127.0.0.1:{port}");
    let out = run(
        &[],
        &[
            ("SIGNALWIRE_SPACE", &space),
            ("SIGNALWIRE_PROJECT_ID", PROJECT),
            ("SIGNALWIRE_API_TOKEN", API_TOKEN),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("transport") && stderr.contains("3 attempts"),
        "{stderr}"
    );
    let lower = stderr.to_lowercase();
    assert!(lower.contains("refused"), "the cause is shown: {stderr}");
}

#[test]
fn timeout_and_retries_flags() {
    let fake = FakeServer::start(PROJECT, API_TOKEN).unwrap();
    for _ in 0..2 {
        fake.respond_next(
            FakeResponse::json(503, r#"{"error":"busy"}"#).header("retry-after", "0"),
        );
    }
    let env = env_for(&fake, API_TOKEN);
    let out = run(&["--retries", "1", "--timeout", "5"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2 attempts") && stderr.contains("HTTP 503"),
        "{stderr}"
    );
    assert!(!stderr.contains(API_TOKEN));
    assert_eq!(fake.request_count(), 2);

    let out = run(&["--retries", "0"], &as_refs(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for bad in [
        &["--timeout", "0"][..],
        &["--timeout", "x"],
        &["--retries", "-1"],
    ] {
        assert_eq!(run(bad, &[]).status.code(), Some(2), "{bad:?}");
    }
}
