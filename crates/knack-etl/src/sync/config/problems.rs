//! The value-level checks of an app's config (the deserializer has already refused unknown keys
//! and wrong types): one sentence per problem, naming the place and the fix, all of them at once.

use super::{container_at, AppConfig, ContainerConfig};
use crate::socrata::is_dataset_id;

/// `prefix` followed by one or more ASCII digits, e.g. `field_12`.
pub(super) fn is_numbered(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_plain_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A Socrata field name: lowercase letters, digits and `_`, not starting with a digit.
fn is_socrata_field(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The problems of app `name`: its name, its `app_id`, and each container's keys (not the
/// `knack_destinations` maps: [`destination_problems`]).
pub fn app_problems(name: &str, app: &AppConfig) -> Vec<String> {
    let mut out = Vec::new();
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        out.push(format!(
            "app name `{name}` must be non-empty and contain no spaces (e.g. data-tracker)"
        ));
    }
    if let Some(id) = &app.app_id {
        if !is_plain_id(id) {
            out.push(format!(
                "[apps.{name}] app_id `{id}` must be the Knack application id: letters and \
                 digits only (e.g. 5815f29f7f7252cc2ca91c4f)"
            ));
        }
    }
    for (id, c) in &app.containers {
        container(&mut out, &container_at(name, id), id, c);
    }
    out
}

/// The problems of app `name`'s `knack_destinations` maps: the destination's container and
/// object keys, and each field map ([`FieldMap::new`](crate::knack_copy::FieldMap::new)).
pub fn destination_problems(name: &str, app: &AppConfig) -> Vec<String> {
    let mut out = Vec::new();
    for (cid, c) in &app.containers {
        for (dest, d) in &c.knack_destinations {
            let at = format!("[apps.{name}.containers.{cid}.knack_destinations.{dest}]");
            if !is_numbered(&d.container, "object_") && !is_numbered(&d.container, "view_") {
                out.push(format!(
                    "{at} container = {:?} must be the destination's object_N or view_N \
                     whose staged records are compared",
                    d.container
                ));
            }
            if !is_numbered(&d.object, "object_") {
                out.push(format!(
                    "{at} object = {:?} must be the destination object written to (object_N)",
                    d.object
                ));
            }
            if let Err(problems) = d.field_map() {
                out.extend(problems.into_iter().map(|p| format!("{at} {p}")));
            }
        }
    }
    out
}

fn container(out: &mut Vec<String>, at: &str, id: &str, c: &ContainerConfig) {
    let is_view = is_numbered(id, "view_");
    if !is_view && !is_numbered(id, "object_") {
        out.push(format!(
            "{at}: container id `{id}` must be a Knack object or view key, e.g. object_11 or view_197"
        ));
    }
    match (&c.scene_id, is_view) {
        (None, true) => out.push(format!(
            "{at}: a view needs scene_id, the scene that holds it (e.g. scene_id = \"scene_73\")"
        )),
        (Some(s), true) if !is_numbered(s, "scene_") => out.push(format!(
            "{at}: scene_id `{s}` must look like scene_N (e.g. scene_73)"
        )),
        (Some(_), false) if is_numbered(id, "object_") => out.push(format!(
            "{at}: scene_id applies only to views; remove it (objects are read directly)"
        )),
        _ => {}
    }
    match &c.modified_date_field_id {
        None => out.push(format!(
            "{at}: modified_date_field_id is required: the field_N that holds each record's \
             last-modified time (e.g. modified_date_field_id = \"field_205\")"
        )),
        Some(f) if !is_numbered(f, "field_") => out.push(format!(
            "{at}: modified_date_field_id `{f}` must look like field_N (e.g. field_205)"
        )),
        _ => {}
    }
    for f in &c.location_fields {
        if !is_numbered(f, "field_") {
            out.push(format!(
                "{at}: location_fields entry `{f}` must look like field_N (e.g. field_182)"
            ));
        }
    }
    socrata_keys(out, at, c);
    agol_keys(out, at, c);
}

fn socrata_keys(out: &mut Vec<String>, at: &str, c: &ContainerConfig) {
    if let Some(r) = &c.socrata_resource_id {
        if !is_dataset_id(r) {
            out.push(format!(
                "{at}: socrata_resource_id `{r}` must be a Socrata dataset id like p53x-x73x"
            ));
        }
    }
    if c.socrata_resource_id.is_none() {
        if c.no_replace_socrata {
            out.push(format!(
                "{at}: no_replace_socrata has no effect without socrata_resource_id; add the \
                 dataset id or remove it"
            ));
        }
        if c.append_timestamps_socrata.is_some() {
            out.push(format!(
                "{at}: append_timestamps_socrata has no effect without socrata_resource_id; add \
                 the dataset id or remove it"
            ));
        }
    }
    if let Some(a) = &c.append_timestamps_socrata {
        if !is_socrata_field(&a.key) {
            out.push(format!(
                "{at}: append_timestamps_socrata key `{}` must be a Socrata field name \
                 (lowercase letters, digits, _), e.g. {{ key = \"published_date\" }}",
                a.key
            ));
        }
    }
}

fn agol_keys(out: &mut Vec<String>, at: &str, c: &ContainerConfig) {
    if let Some(s) = &c.service_id {
        if !is_plain_id(s) {
            out.push(format!(
                "{at}: service_id `{s}` must be an ArcGIS Online item id (letters and digits)"
            ));
        }
    }
    // The AGOL keys only make sense together: item, which list, which index.
    let agol = [
        ("service_id", c.service_id.is_some()),
        ("layer_id", c.layer_id.is_some()),
        ("item_type", c.item_type.is_some()),
    ];
    if agol.iter().any(|(_, set)| *set) {
        let missing: Vec<&str> = agol.iter().filter(|(_, s)| !s).map(|(k, _)| *k).collect();
        if !missing.is_empty() {
            out.push(format!(
                "{at}: publishing to ArcGIS Online needs service_id, layer_id and item_type \
                 together; add {}",
                missing.join(", ")
            ));
        }
    }
    if c.agol_batch_size == Some(0) {
        out.push(format!(
            "{at}: agol_batch_size must be at least 1 (features per applyEdits call; \
             default {})",
            crate::agol::AgolTarget::DEFAULT_BATCH_SIZE
        ));
    }
    let most = crate::agol::AgolTarget::MAX_IN_FLIGHT;
    if let Some(n) = c.agol_in_flight.filter(|n| *n == 0 || *n as usize > most) {
        out.push(format!(
            "{at}: agol_in_flight is {n}; it must be 1 to {most} (applyEdits batches sent at \
             once; default {})",
            crate::agol::AgolTarget::DEFAULT_IN_FLIGHT
        ));
    }
    if let Some(u) = &c.upsert_matching_field {
        if u.trim().is_empty() {
            out.push(format!(
                "{at}: upsert_matching_field is empty; name the unique AGOL field or remove it"
            ));
        } else if c.service_id.is_none() {
            out.push(format!(
                "{at}: upsert_matching_field applies to ArcGIS Online; add service_id or remove it"
            ));
        }
    }
}
