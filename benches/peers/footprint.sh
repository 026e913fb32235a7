#!/usr/bin/env bash
# Footprint: a minimal program that mints a token with this crate, against
# the same program written with reqwest::blocking + serde_json. For each: the
# unique crates in `cargo tree -e normal` (the program itself not counted),
# the clean `cargo build --release -j2` time, and the stripped binary size,
# each built in a fresh target directory under /tmp (sources fetched first,
# not timed). Five programs: this crate with its default features (rustls)
# and with `default-features = false, features = ["native-tls"]` (no rustls
# compiled), and reqwest 0.13 blocking + json with rustls only, with its
# default features, and with native-tls only. Prints the ratios of this
# crate to reqwest for each TLS choice, checks that the crate's default build
# adds no crate beyond ureq, miniserde, base64 and their own trees, and that
# its native-tls build has no rustls, ring or aws-lc in it.
#
# Also, for the same programs: what `cargo vendor` copies (crates and MB, all
# platforms, as cargo does it); what `cargo vendor-filterer --platform
# x86_64-unknown-linux-gnu` copies (crates and MB; the crates it leaves out
# become empty stubs, counted apart, because Cargo.lock still names them);
# and the stripped binary built with the size profile (profile min-size,
# printed with the table; built offline from the filtered vendor directory),
# next to the release one. And the highest `rust-version` that a crate of the
# crate's default tree declares (`cargo metadata`, all platforms; needs jq).
# cargo-vendor-filterer is installed from crates.io (`cargo install --locked`)
# when it is missing.
#
# Run: bash benches/peers/footprint.sh   (about 16 minutes on 2 cores: the
# reqwest builds compile aws-lc or OpenSSL bindings, tokio and hyper, twice).
# KEEP=1 keeps the work directory. Build times are one build each on a shared
# machine: expect a few percent of noise.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/swps-footprint.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
export CARGO_TERM_COLOR=never
platform=x86_64-unknown-linux-gnu
size_profile=min-size
command -v jq >/dev/null || { echo "jq is required (apt-get install jq)" >&2; exit 1; }
if ! cargo vendor-filterer --version >/dev/null 2>&1; then
  echo "installing cargo-vendor-filterer from crates.io" >&2
  cargo install -q --locked -j2 cargo-vendor-filterer
fi

ours_main='use signalwire_pubsub::{Client, TokenRequest};

fn main() {
    let client = Client::from_env().unwrap_or_else(|e| fail(&e));
    let request = TokenRequest::new(15)
        .read("lobby")
        .read_write("room-42")
        .member_id("alice");
    match client.create_token(&request) {
        Ok(token) => println!("{}", token.token()),
        Err(e) => fail(&e),
    }
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1)
}'

reqwest_main='use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Access {
    #[serde(skip_serializing_if = "is_false")]
    read: bool,
    #[serde(skip_serializing_if = "is_false")]
    write: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
struct TokenRequest {
    ttl: u32,
    channels: BTreeMap<String, Access>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_id: Option<String>,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} not set")));
    let (space, project, api_token) = (
        var("SIGNALWIRE_SPACE"),
        var("SIGNALWIRE_PROJECT_ID"),
        var("SIGNALWIRE_API_TOKEN"),
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| fail(&e));
    let mut channels = BTreeMap::new();
    channels.insert("lobby".to_owned(), Access { read: true, write: false });
    channels.insert("room-42".to_owned(), Access { read: true, write: true });
    let request = TokenRequest { ttl: 15, channels, member_id: Some("alice".to_owned()) };
    let response = client
        .post(format!("https://{space}.signalwire.com/api/pubsub/tokens"))
        .basic_auth(project, Some(api_token))
        .json(&request)
        .send()
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| fail(&e));
    match response.json::<Token>() {
        Ok(token) => println!("{}", token.token),
        Err(e) => fail(&e),
    }
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1)
}'

# program NAME LABEL DEPENDENCIES MAIN
programs=()
# The size profile, as the README gives it for users to paste.
size_toml="[profile.$size_profile]
inherits = \"release\"
opt-level = \"z\"
lto = true
codegen-units = 1
panic = \"abort\"
strip = true"
program() {
  local dir="$work/$1"
  mkdir -p "$dir/src"
  printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[workspace]\n\n[dependencies]\n%s\n\n%s\n' \
    "$1" "$3" "$size_toml" >"$dir/Cargo.toml"
  printf '%s\n' "$4" >"$dir/src/main.rs"
  programs+=("$1|$2")
}

program ours "signalwire-pubsub (rustls, default)" \
  "signalwire-pubsub = { path = \"$root\" }" "$ours_main"
program ours-native-tls "signalwire-pubsub (native-tls only)" \
  "signalwire-pubsub = { path = \"$root\", default-features = false, features = [\"native-tls\"] }" "$ours_main"
reqwest_deps='serde = { version = "1", features = ["derive"] }
serde_json = "1"'
program reqwest-min "reqwest 0.13 blocking+json, rustls only" \
  "reqwest = { version = \"0.13\", default-features = false, features = [\"blocking\", \"json\", \"rustls\"] }
$reqwest_deps" "$reqwest_main"
program reqwest-default "reqwest 0.13 blocking+json, default features" \
  "reqwest = { version = \"0.13\", features = [\"blocking\", \"json\"] }
$reqwest_deps" "$reqwest_main"
program reqwest-native-tls "reqwest 0.13 blocking+json, native-tls only" \
  "reqwest = { version = \"0.13\", default-features = false, features = [\"blocking\", \"json\", \"native-tls\"] }
$reqwest_deps" "$reqwest_main"

echo "# footprint: a minimal token-minting program, built from clean"
echo "machine: nproc $(nproc), CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "$(rustc --version), $(cargo --version)"
echo

crates() { # unique "name version" in the normal-dependency tree, the program left out
  cargo tree -q -e normal --prefix none --manifest-path "$work/$1/Cargo.toml" |
    awk 'NF >= 2 { print $1, $2 }' | sort -u | grep -v "^$1 "
}

subdirs() { find "$1" -mindepth 1 -maxdepth 1 -type d | wc -l; }
stubs() { # the crates that cargo-vendor-filterer left as stubs: an empty src/lib.rs, no other source
  for d in "$1"/*/; do
    if [ "$(find "$d" -type f | wc -l)" -eq 3 ] && [ -f "$d/src/lib.rs" ] && [ ! -s "$d/src/lib.rs" ]; then
      echo "$d"
    fi
  done | wc -l
}
bytes() { du -sb "$1" | cut -f1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

results="$work/results"
: >"$results"
for entry in "${programs[@]}"; do
  name=${entry%%|*}
  label=${entry#*|}
  manifest="$work/$name/Cargo.toml"
  cargo fetch -q --manifest-path "$manifest"
  count=$(crates "$name" | wc -l)

  # Vendored: everything cargo vendor copies (all platforms), then filtered
  # to one platform. The program itself is a workspace member and
  # signalwire-pubsub a path dependency: neither is copied.
  vendor="$work/vendor-$name"
  cargo vendor -q --manifest-path "$manifest" "$vendor" >/dev/null
  v_count=$(subdirs "$vendor")
  v_bytes=$(bytes "$vendor")
  rm -rf "$vendor"
  filtered="$work/vendor-$platform-$name"
  if ! cargo vendor-filterer --manifest-path "$manifest" --platform "$platform" "$filtered" \
    >"$work/filterer-$name.log" 2>&1; then
    cat "$work/filterer-$name.log" >&2
    exit 1
  fi
  f_stubs=$(stubs "$filtered")
  f_count=$(($(subdirs "$filtered") - f_stubs))
  f_bytes=$(bytes "$filtered")

  start=$(date +%s.%N)
  CARGO_TARGET_DIR="$work/target-$name" cargo build -q --release -j2 --manifest-path "$manifest"
  end=$(date +%s.%N)
  strip -o "$work/$name.stripped" "$work/target-$name/release/$name"
  size=$(stat -c %s "$work/$name.stripped")
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

  # The size profile, built offline from the platform-filtered vendor
  # directory (so that directory is proved sufficient for the build).
  CARGO_TARGET_DIR="$work/target-$name" cargo build -q -j2 --offline --frozen \
    --profile "$size_profile" --manifest-path "$manifest" \
    --config "source.crates-io.replace-with=\"vendored-sources\"" \
    --config "source.vendored-sources.directory=\"$filtered\""
  strip -o "$work/$name.small" "$work/target-$name/$size_profile/$name"
  small=$(stat -c %s "$work/$name.small")

  echo "$name|$label|$count|$secs|$size|$small|$v_count|$v_bytes|$f_count|$f_stubs|$f_bytes" >>"$results"
  echo "built $label: $count crates, ${secs} s, $size bytes ($small with the size profile);" \
    "vendored $v_count crates, $(mb "$v_bytes") MB ($f_count + $f_stubs stubs, $(mb "$f_bytes") MB for $platform)" >&2
  rm -rf "$work/target-$name" "$filtered"
done

printf '%-46s | %13s | %17s | %22s | %22s | %16s | %26s\n' "program" "unique crates" "clean build -j2" \
  "stripped binary" "size profile, stripped" "vendored" "vendored, $platform"
printf '%-46s-|-%13s-|-%17s-|-%22s-|-%22s-|-%16s-|-%26s\n' "" "" "" "" "" "" "" | tr ' ' '-'
while IFS='|' read -r _ label count secs size small v_count v_bytes f_count f_stubs f_bytes; do
  printf '%-46s | %13s | %15s s | %16s bytes | %16s bytes | %16s | %26s\n' "$label" "$count" "$secs" "$size" \
    "$small" "$v_count, $(mb "$v_bytes") MB" "$f_count + $f_stubs stubs, $(mb "$f_bytes") MB"
done <"$results"
echo "(vendored: crate directories that cargo vendor copies and their size, all platforms;"
echo " for $platform: cargo vendor-filterer --platform $platform, which leaves the other"
echo " platforms' crates as empty stubs; size profile: [profile.$size_profile] below)"
echo "$size_toml"
echo

ratio() { # ratio FIELD A B: field of A / field of B
  awk -F'|' -v f="$1" -v a="$2" -v b="$3" \
    '$1 == a { x = $f } $1 == b { y = $f } END { printf "%.2f", x / y }' "$results"
}
for pair in "ours reqwest-min" "ours reqwest-default" "ours-native-tls reqwest-native-tls" \
  "ours-native-tls reqwest-min"; do
  set -- $pair
  echo "$1 / $2: crates $(ratio 3 "$1" "$2"), build time $(ratio 4 "$1" "$2"), binary $(ratio 5 "$1" "$2")," \
    "size-profile binary $(ratio 6 "$1" "$2"), vendored MB $(ratio 8 "$1" "$2"), vendored MB for $platform $(ratio 11 "$1" "$2")"
done
echo

# The highest rust-version declared in the crate's default tree: every
# package of the program's resolve (all platforms), the program left out.
manifest="$work/ours/Cargo.toml"
declared=$(cargo metadata -q --format-version 1 --manifest-path "$manifest" |
  jq -r '.packages[] | select(.name != "ours") | "\(.rust_version // "-") \(.name) \(.version)"' | sort -V)
echo "signalwire-pubsub declares rust-version $(awk '$2 == "signalwire-pubsub" { print $1 }' <<<"$declared")"
deps=$(grep -v ' signalwire-pubsub ' <<<"$declared")
highest=$(grep -v '^- ' <<<"$deps" | tail -n1 | cut -d' ' -f1)
echo "highest rust-version declared in its default tree ($(wc -l <<<"$deps") crates, all platforms;" \
  "$(grep -c '^- ' <<<"$deps" || true) declare none): $highest, by" \
  "$(awk -v h="$highest" '$1 == h { printf "%s%s %s", sep, $2, $3; sep = ", " }' <<<"$deps")"
echo

# The crate's default build: its own direct dependencies, and nothing in the
# tree outside the trees of ureq, miniserde and base64.
manifest="$work/ours/Cargo.toml"
direct=$(cargo tree -q -e normal --depth 1 --prefix none --manifest-path "$manifest" -p signalwire-pubsub |
  tail -n +2 | awk '{ print $1 }' | sort -u | tr '\n' ' ')
echo "signalwire-pubsub's direct dependencies (default features): $direct"
allowed=$(for dep in ureq miniserde base64; do
  cargo tree -q -e normal --prefix none --manifest-path "$manifest" -p "$dep" | awk 'NF >= 2 { print $1, $2 }'
done | sort -u)
extra=$(crates ours | grep -v '^signalwire-pubsub ' | comm -23 - <(echo "$allowed"))
if [ -z "$extra" ]; then
  echo "default build: every crate is ureq, miniserde, base64 or in their trees (OK)"
else
  echo "default build: crates outside the trees of ureq, miniserde and base64:"
  echo "$extra"
fi
echo "crates of the default build: $(crates ours | awk '{ print $1 }' | tr '\n' ' ')"
tls=$(crates ours-native-tls |
  awk '$1 == "rustls" || $1 == "ring" || $1 == "rustls-webpki" || $1 ~ /^aws-lc/ { print $1 }' | tr '\n' ' ')
if [ -z "$tls" ]; then
  echo "native-tls build: no rustls, ring, rustls-webpki or aws-lc crate in the tree (OK)"
else
  echo "native-tls build still has: $tls"
fi
echo "crates of the native-tls build: $(crates ours-native-tls | awk '{ print $1 }' | tr '\n' ' ')"
