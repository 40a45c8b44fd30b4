//! A container's configured fields checked against the Knack app's metadata before any run (what
//! `aks config check` reports).

use std::collections::BTreeSet;

use knack_client::{Container, Formatter};

/// The field keys of `fields` (a modified-date field, location fields) that `container` does not
/// show (`formatter` is its formatter), one sentence each.
pub fn unknown_fields<'a>(
    formatter: &Formatter,
    container: &Container,
    fields: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let keys: BTreeSet<&str> = formatter.fields().iter().map(|f| f.key.as_str()).collect();
    fields
        .into_iter()
        .filter(|field| !keys.contains(field))
        .map(|field| format!("field {field} is not in {container} (check the key in Knack)"))
        .collect()
}
