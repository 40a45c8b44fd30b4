//! A field map checked against both apps' metadata before any copy (what `aks config check`
//! reports): each source key must be a field of the source container, the destination container
//! and object must be in the destination app, and each destination field a field of the object.

use std::collections::BTreeSet;

use knack_client::{Container, Formatter, Metadata};

use super::map::{write_key, FieldMapping};

/// The entries of `fields` whose `src` is not a field of `container` in `metadata` (the source
/// app's), one sentence each. Nothing when the container cannot be formatted: the container's
/// own check reports that.
pub fn check_source(
    metadata: &Metadata,
    container: &Container,
    fields: &[FieldMapping],
) -> Vec<String> {
    let Ok(formatter) = Formatter::new(metadata, container) else {
        return Vec::new();
    };
    let keys: BTreeSet<&str> = formatter.fields().iter().map(|f| f.key.as_str()).collect();
    fields
        .iter()
        .filter_map(|f| f.src.as_deref())
        .filter(|src| !keys.contains(write_key(src)))
        .map(|src| format!("src {src} is not a field of {}", container.id()))
        .collect()
}

/// What the destination app `dest_app_id` (its metadata: `metadata`) lacks for a copy into
/// `object` compared through `container`: the container, the object, or a `dest` field of the
/// object; one sentence each.
pub fn check_destination(
    metadata: &Metadata,
    dest_app_id: &str,
    container: &str,
    object: &str,
    fields: &[FieldMapping],
) -> Vec<String> {
    let mut out = Vec::new();
    if metadata.object(container).is_none() && metadata.view_by_key(container).is_none() {
        out.push(format!("container {container} is not in app {dest_app_id}"));
    }
    let Some(found) = metadata.object(object) else {
        out.push(format!("object {object} is not in app {dest_app_id}"));
        return out;
    };
    for f in fields {
        let key = write_key(&f.dest);
        if !found.fields.iter().any(|g| g.key == key) {
            out.push(format!("dest {} is not a field of {object}", f.dest));
        }
    }
    out
}
