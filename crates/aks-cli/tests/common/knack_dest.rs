//! A second Knack app to copy records into (records-to-knack, `sync` with knack_destinations).

use std::io::Write;

use knack_etl::knack_client::testkit::FakeKnack;
use serde_json::{json, Value};

use super::{assert_no_secret, stderr, Fakes, APP, VIEW};

pub const DEST: &str = "smart-mobility";
pub const DEST_ID: &str = "5e0000000000000000000099";
pub const DEST_KEY: &str = "dk-31337a-never-print";
pub const OBJECT: &str = "object_26";

pub fn dest_metadata() -> Value {
    json!({"application": {"id": DEST_ID, "name": "Smart Mobility",
        "settings": {"timezone": "Central Time (US & Canada)"},
        "objects": [{"key": OBJECT, "name": "Signals", "fields": [
            {"key": "field_380", "name": "Signal ID", "type": "short_text"},
            {"key": "field_382", "name": "Location", "type": "short_text"}]}],
        "scenes": []}})
}

/// Adds TOML to the fakes' config file.
pub fn append_config(fakes: &Fakes, text: &str) {
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&fakes.config)
        .unwrap();
    config.write_all(text.as_bytes()).unwrap();
}

/// A second fake Knack app (the destination) and the config extended with `[apps.<DEST>]` and
/// the fixture view's field map into it: every handler, a default, `ignore_diff`, a date.
pub async fn add_destination(fakes: &Fakes) -> FakeKnack {
    let dest = FakeKnack::start_for(DEST_ID, DEST_KEY).await;
    dest.set_metadata(dest_metadata());
    append_config(
        fakes,
        &format!(
            r#"
[apps.{DEST}]
app_id = "{DEST_ID}"

[apps.{APP}.containers.{VIEW}.knack_destinations.{DEST}]
container = "{OBJECT}"
object = "{OBJECT}"
fields = [
  {{ src = "field_19_raw", dest = "field_380", primary_key = true }},
  {{ src = "field_1_raw", dest = "field_382", handler = "strip" }},
  {{ src = "field_7_raw", dest = "field_383", handler = "multiple_choice" }},
  {{ src = "field_8_raw", dest = "field_384", handler = "connection_identifiers" }},
  {{ src = "field_22_raw", dest = "field_385", default = "none", ignore_diff = true }},
  {{ src = "field_21_raw", dest = "field_386_raw" }},
]
"#
        ),
    );
    dest
}

/// The requests that wrote to the destination app. A write answered 429 wrote nothing: Knack
/// counts every request of the last second, so one run's writes can meet the window left by the
/// run just before it (another process, with a rate limiter of its own), and the client sends
/// the refused write again.
pub fn dest_writes(dest: &FakeKnack) -> Vec<String> {
    dest.requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.status != 429)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// [`assert_no_secret`], and the destination's key too.
pub fn no_secret(out: &std::process::Output) {
    assert_no_secret(out);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
    assert!(!all.contains(DEST_KEY), "KNACK_API_KEY_DEST leaked:\n{all}");
}
