//! What an ArcGIS Online layer or table must be to take a run, checked before its first write
//! (and by `aks config check`): one that cannot take it is refused with [`Error::Preflight`] and a
//! message naming the fix, and nothing is written.
//!
//! Each `*_problems` function is pure (what is wrong with metadata already fetched); [`layer`]
//! fetches the layer and turns the problems into an error. A transient failure while fetching
//! stays the client's own (retryable) error, not a preflight refusal.

use agol_client::{LayerInfo, LayerSelector};
use knack_client::Formatter;

use crate::error::refuse;
use crate::transform::output_keys;
use crate::Error;

/// ArcGIS field types a matching field may have: the values compared are Knack ids (text) or
/// numbers, never dates, geometries or blobs.
pub(crate) const AGOL_MATCHABLE_TYPES: [&str; 8] = [
    "esriFieldTypeString",
    "esriFieldTypeGUID",
    "esriFieldTypeGlobalID",
    "esriFieldTypeSmallInteger",
    "esriFieldTypeInteger",
    "esriFieldTypeBigInteger",
    "esriFieldTypeDouble",
    "esriFieldTypeSingle",
];

/// What stops `layer` from taking upserts matched on `matching_field`; empty when nothing.
pub(crate) fn agol_problems(layer: &LayerInfo, matching_field: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let name = &layer.name;
    match layer.fields.iter().find(|f| f.name == matching_field) {
        None => problems.push(format!(
            "ArcGIS layer {name} has no field `{matching_field}` to match features on: add it \
             (a unique text field holding the Knack record id) or set upsert_matching_field to an \
             existing field"
        )),
        Some(f) if !AGOL_MATCHABLE_TYPES.contains(&f.field_type.as_str()) => {
            problems.push(format!(
                "ArcGIS layer {name}: the matching field `{matching_field}` is {}, which cannot \
                 hold a Knack record id or number: match on a text or number field \
                 (upsert_matching_field)",
                f.field_type
            ))
        }
        Some(_) => {}
    }
    problems.extend(missing_capabilities(layer, &["Create", "Update"]));
    problems
}

/// What stops `layer` from taking a full replace, beyond [`agol_problems`]: it must allow deletes.
pub(crate) fn agol_replace_problems(layer: &LayerInfo) -> Vec<String> {
    missing_capabilities(layer, &["Delete"])
        .into_iter()
        .collect()
}

/// The capabilities of `wanted` the layer lists as absent (none when it lists none at all).
fn missing_capabilities(layer: &LayerInfo, wanted: &[&str]) -> Option<String> {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !layer.has_capability(c))
        .collect();
    (layer.capabilities.is_some() && !missing.is_empty()).then(|| {
        format!(
            "ArcGIS layer {} does not allow {}: enable editing with {} in the layer's settings",
            layer.name,
            missing.join(", "),
            wanted.join(", ")
        )
    })
}

/// Everything `aks config check` says about a container's layer, one sentence each, empty when
/// nothing: what stops it from taking upserts matched on `matching_field` (the field must exist
/// and hold a Knack id or a number; Create and Update must be allowed; the checks every run makes
/// before its first write), then the container's fields (`formatter`'s, by output key) the
/// layer has no field for, whose attributes ArcGIS does not store.
pub fn layer_problems(
    layer: &LayerInfo,
    matching_field: &str,
    formatter: &Formatter,
) -> Vec<String> {
    let mut problems = agol_problems(layer, matching_field);
    let has = |name: &str| layer.fields.iter().any(|f| f.name == name);
    let missing: Vec<String> = output_keys(formatter)
        .into_iter()
        .filter(|k| !has(k))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "layer {} lacks fields {}; ArcGIS will not store those attributes",
            layer.name,
            missing.join(", ")
        ));
    }
    problems
}

/// Finds the layer or table of `service_id` and refuses it when [`agol_problems`] finds anything.
/// An item or layer that does not exist is refused too.
pub(crate) async fn layer(
    client: &agol_client::Client,
    service_id: &str,
    selector: LayerSelector,
    matching_field: &str,
) -> Result<agol_client::Layer, Error> {
    let layer = match client.layer_from_item(service_id, selector).await {
        Ok(layer) => layer,
        Err(e @ agol_client::Error::NotFound(_)) => {
            return Err(Error::Preflight(format!(
                "ArcGIS Online item {service_id}: {e}: check service_id, layer_id and item_type"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    refuse(agol_problems(layer.info(), matching_field))?;
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layer(fields: serde_json::Value, capabilities: &str) -> LayerInfo {
        serde_json::from_value(json!({
            "id": 0, "name": "signals", "capabilities": capabilities, "fields": fields
        }))
        .unwrap()
    }

    #[test]
    fn a_layer_needs_a_matching_field_that_can_hold_the_key_and_editing() {
        let ok = layer(
            json!([{"name": "id", "type": "esriFieldTypeString", "length": 24}]),
            "Query,Create,Update,Delete,Editing",
        );
        assert!(agol_problems(&ok, "id").is_empty());
        assert!(agol_replace_problems(&ok).is_empty());
        assert!(agol_problems(&ok, "knack_id")[0].contains("no field `knack_id`"));

        let date = layer(
            json!([{"name": "id", "type": "esriFieldTypeDate"}]),
            "Query,Create,Update",
        );
        let problems = agol_problems(&date, "id");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("esriFieldTypeDate"), "{problems:?}");
        assert!(agol_replace_problems(&date)[0].contains("does not allow Delete"));

        let read_only = layer(
            json!([{"name": "id", "type": "esriFieldTypeInteger"}]),
            "Query",
        );
        assert!(agol_problems(&read_only, "id")[0].contains("does not allow Create, Update"));
    }
}
