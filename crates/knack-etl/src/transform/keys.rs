//! Key normalisation: Knack labels to Socrata column names and AGOL attribute names.

use serde_json::{Map, Value};

/// The key under which the formatted record, and every output, holds the Knack record id.
pub const RECORD_ID_KEY: &str = "id";

/// The key a field whose label normalises to `id` is moved to, so it cannot overwrite the record id.
pub const RENAMED_ID_KEY: &str = "_id";

/// The original's `format_keys` on one label: lowercase, then every space and every dash becomes `_`.
///
/// No other character changes (`/`, `#`, `.`, tabs, non-breaking spaces stay as they are), so
/// `"Work Order - Zone Code"` becomes `"work_order___zone_code"`.
pub fn normalize_label(label: &str) -> String {
    label.to_lowercase().replace([' ', '-'], "_")
}

/// The output key of a Knack field given its label: [`normalize_label`], and a label that normalises
/// to `id` (`id`, `ID`, `Id`) becomes `_id`.
///
/// knackpy only renames the exact label `id`; the original then lowercased `ID` to `id`, which
/// overwrote the record id. Here every spelling is moved to `_id`.
pub fn field_key(label: &str) -> String {
    let key = normalize_label(label);
    if key == RECORD_ID_KEY {
        RENAMED_ID_KEY.to_owned()
    } else {
        key
    }
}

/// Every output key of a formatter's records, in output order, each once: the record id stays
/// [`RECORD_ID_KEY`] (as [`normalize_keys`] keeps it), every other label goes through
/// [`field_key`]. What a destination's preflight compares its columns or fields with.
pub fn output_keys(formatter: &knack_client::Formatter) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(formatter.fields().len());
    for f in formatter.fields() {
        // The same rule as normalize_keys, so a preflight compares what is written.
        let key = if f.label == RECORD_ID_KEY {
            f.label.clone()
        } else {
            field_key(&f.label)
        };
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Normalises every key of a formatted record (label → value) with [`field_key`], except the exact
/// key `id`, which is the Knack record id and stays `id`.
///
/// Order is kept. When two labels normalise to the same key the later value wins in the earlier
/// position, as a Python dict comprehension does.
pub fn normalize_keys(formatted: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(formatted.len());
    for (label, value) in formatted {
        let key = if label == RECORD_ID_KEY {
            label
        } else {
            field_key_reusing(label)
        };
        out.insert(key, value);
    }
    out
}

/// [`field_key`] written into the label's own buffer when the label is ASCII (the usual case):
/// no allocation per key per record. Lowercasing ASCII and swapping ' ' and '-' for '_' keep
/// every byte's place, so the result is the same as [`field_key`]'s.
fn field_key_reusing(label: String) -> String {
    if !label.is_ascii() {
        return field_key(&label);
    }
    let mut bytes = label.into_bytes();
    for b in &mut bytes {
        *b = match b.to_ascii_lowercase() {
            b' ' | b'-' => b'_',
            other => other,
        };
    }
    // Still ASCII, so always valid UTF-8.
    let key = String::from_utf8(bytes).unwrap_or_default();
    if key == RECORD_ID_KEY {
        RENAMED_ID_KEY.to_owned()
    } else {
        key
    }
}

/// Groups of labels that normalise to the same key: in each group only the last label's value survives.
///
/// Transforms log these once when they are built, because the original dropped them silently.
pub fn key_collisions<'a>(labels: impl IntoIterator<Item = &'a str>) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for label in labels {
        let key = if label == RECORD_ID_KEY {
            label.to_owned()
        } else {
            field_key(label)
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, labels)) => labels.push(label.to_owned()),
            None => groups.push((key, vec![label.to_owned()])),
        }
    }
    groups.retain(|(_, labels)| labels.len() > 1);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lowercases_and_replaces_spaces_and_dashes_only() {
        assert_eq!(
            normalize_label("Work Order - Zone Code"),
            "work_order___zone_code"
        );
        assert_eq!(normalize_label("Documentation URL"), "documentation_url");
        assert_eq!(normalize_label("Cost ($)/Unit #"), "cost_($)/unit_#");
        assert_eq!(normalize_label("tab\there"), "tab\there");
        assert_eq!(normalize_label("nbsp\u{a0}here"), "nbsp\u{a0}here");
        assert_eq!(normalize_label("ÉTAT"), "état");
    }

    #[test]
    fn labels_normalising_to_id_become_underscore_id() {
        assert_eq!(field_key("id"), "_id");
        assert_eq!(field_key("ID"), "_id");
        assert_eq!(field_key("Id"), "_id");
        assert_eq!(field_key("_id"), "_id");
        assert_eq!(field_key("Signal ID"), "signal_id");
    }

    #[test]
    fn record_id_key_survives_and_an_id_label_cannot_overwrite_it() {
        let formatted = json!({"id": "rec1", "ID": "SIG-1", "Lane Count": 3});
        let out = normalize_keys(formatted.as_object().unwrap().clone());
        assert_eq!(
            Value::Object(out),
            json!({"id": "rec1", "_id": "SIG-1", "lane_count": 3})
        );
    }

    #[test]
    fn later_label_wins_on_collision_in_first_position() {
        let formatted = json!({"Zone Code": 1, "Other": 2, "Zone-Code": 3});
        let out = normalize_keys(formatted.as_object().unwrap().clone());
        let keys: Vec<_> = out.keys().cloned().collect();
        assert_eq!(keys, ["zone_code", "other"]);
        assert_eq!(out["zone_code"], 3);
        assert_eq!(
            key_collisions(["Zone Code", "Other", "Zone-Code", "id"]),
            vec![(
                "zone_code".to_owned(),
                vec!["Zone Code".to_owned(), "Zone-Code".to_owned()]
            )]
        );
    }

    #[test]
    fn keys_written_in_place_match_field_key() {
        for label in [
            "Zone Code",
            "ID",
            "Id",
            "a-b c",
            "Ünïcode Label",
            "id",
            "already_key",
        ] {
            assert_eq!(
                field_key_reusing(label.to_string()),
                field_key(label),
                "{label}"
            );
        }
    }
}
