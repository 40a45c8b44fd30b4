//! Schema fingerprints: what each stage's last successful run was computed from (the container's
//! fields as the metadata defines them and, for a publisher, the destination's columns or
//! fields), kept in the stage's own row of `api.knack_sync_state` (read by the upsert that opens
//! the stage and written by the one that closes it: no request of its own), and how each stage
//! tells what changed and what it therefore reloads or republishes in full (`check.rs`; a
//! per-stage command: `single.rs`).
//!
//! The seed README's "Dealing with schema changes" asks a person to run a full replacement after
//! every schema change; a sync does it itself: a change on the Knack side of a container reloads
//! its staged records in full and republishes it to every destination in full, a change on a
//! destination's side only republishes that destination in full, and no change runs
//! incrementally with no request more to Knack, Socrata or ArcGIS than before.

mod check;
mod single;

use serde::{Deserialize, Serialize};

use crate::transform::field_key;

pub(crate) use check::{dest_schemas, line, Decision, DestSchemas, SchemaNow};
pub(crate) use single::Single;

/// One field of a container as the metadata defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldPrint {
    /// `field_N`.
    pub key: String,
    /// The label (the formatted record's key, from which a destination column's name follows).
    pub label: String,
    /// Knack's field type (`short_text`, `number`, ...).
    #[serde(rename = "type")]
    pub field_type: String,
}

/// One column of a Socrata dataset or field of an ArcGIS layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnPrint {
    /// The column's API name (`fieldName`) or the layer field's name.
    pub name: String,
    /// Its type (`text`, `esriFieldTypeString`, ...).
    #[serde(rename = "type")]
    pub column_type: String,
}

/// What a stage's run was computed from. Fields sorted by key and columns by name, so an order
/// change (a view's columns moved) is no change: rows are keyed by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The container's fields (without the record id).
    pub fields: Vec<FieldPrint>,
    /// The destination in words (`socrata acc1-0001`, `agol signals`); `None` for the staging
    /// load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The destination's columns or fields; empty for the staging load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnPrint>,
}

impl Fingerprint {
    /// The fields of `container` as `metadata` defines them (a view's: its columns).
    ///
    /// # Errors
    /// knack-client's, when the metadata does not hold the container.
    pub fn of_container(
        metadata: &knack_client::Metadata,
        container: &knack_client::Container,
    ) -> Result<Self, knack_client::Error> {
        let mut fields: Vec<FieldPrint> = metadata
            .fields_of(container)?
            .into_iter()
            .map(|f| FieldPrint {
                key: f.key.clone(),
                label: f.label().to_string(),
                field_type: f.field_type.as_str().to_string(),
            })
            .collect();
        fields.sort_by(|a, b| a.key.cmp(&b.key));
        fields.dedup_by(|a, b| a.key == b.key);
        Ok(Self {
            fields,
            target: None,
            columns: Vec::new(),
        })
    }

    /// These fields published to `target`, which has `columns` (`(name, type)`).
    pub fn at(&self, target: String, columns: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut columns: Vec<ColumnPrint> = columns
            .into_iter()
            .map(|(name, column_type)| ColumnPrint { name, column_type })
            .collect();
        columns.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            fields: self.fields.clone(),
            target: Some(target),
            columns,
        }
    }
}

/// What changed in the fields from `old` to `new`, one phrase each: `field_11 renamed "Contact
/// Email" -> "Email"`, `field_5 type number -> short_text`, `field_30 "Notes" added`,
/// `field_7 "Old" removed`.
pub fn field_changes(old: &[FieldPrint], new: &[FieldPrint]) -> Vec<String> {
    let mut out = Vec::new();
    for n in new {
        match old.iter().find(|o| o.key == n.key) {
            Some(o) => {
                if o.label != n.label {
                    out.push(format!("{} renamed {:?} -> {:?}", n.key, o.label, n.label));
                }
                if o.field_type != n.field_type {
                    out.push(format!(
                        "{} type {} -> {}",
                        n.key, o.field_type, n.field_type
                    ));
                }
            }
            None => out.push(format!("{} {:?} added", n.key, n.label)),
        }
    }
    for o in old.iter().filter(|o| !new.iter().any(|n| n.key == o.key)) {
        out.push(format!("{} {:?} removed", o.key, o.label));
    }
    out
}

/// What changed on the destination's side from `old` to `new` (fields aside), one phrase each:
/// `socrata acc1-0001 gained column email`, `... lost column x`, `... column n type number ->
/// text`, or that the destination itself is another one.
pub fn column_changes(old: &Fingerprint, new: &Fingerprint) -> Vec<String> {
    let target = new.target.as_deref().unwrap_or("destination");
    if old.target != new.target {
        let was = old.target.as_deref().unwrap_or("nothing");
        return vec![format!("{target} replaces {was}")];
    }
    let word = if target.starts_with("agol") {
        "field"
    } else {
        "column"
    };
    let mut out = Vec::new();
    for n in &new.columns {
        match old.columns.iter().find(|o| o.name == n.name) {
            Some(o) if o.column_type != n.column_type => out.push(format!(
                "{target} {word} {} type {} -> {}",
                n.name, o.column_type, n.column_type
            )),
            Some(_) => {}
            None => out.push(format!("{target} gained {word} {}", n.name)),
        }
    }
    for o in old.columns.iter() {
        if !new.columns.iter().any(|n| n.name == o.name) {
            out.push(format!("{target} lost {word} {}", o.name));
        }
    }
    out
}

/// The columns a Knack change leaves behind at destination `new` (fields were `old_fields`):
/// one warning each naming the column to add or drop. A renamed field whose old column the
/// destination has and whose new one it lacks is never written again; a removed field's column
/// stays empty for new rows; an added field without a column is dropped.
pub fn breaks(old_fields: &[FieldPrint], new: &Fingerprint) -> Vec<String> {
    let target = new.target.as_deref().unwrap_or("destination");
    let word = if target.starts_with("agol") {
        "field"
    } else {
        "column"
    };
    let has = |name: &str| new.columns.iter().any(|c| c.name == name);
    let written = |name: &str| new.fields.iter().any(|f| field_key(&f.label) == name);
    let mut out = Vec::new();
    for o in old_fields {
        let old_col = field_key(&o.label);
        let now = new.fields.iter().find(|n| n.key == o.key);
        if now.is_some_and(|n| n.label == o.label) || !has(&old_col) || written(&old_col) {
            continue;
        }
        out.push(match now {
            Some(n) if !has(&field_key(&n.label)) => format!(
                "{target}: {word} {old_col} is no longer written ({} renamed {:?} -> {:?}): add \
                 {word} {} to the destination and drop {old_col}",
                o.key,
                o.label,
                n.label,
                field_key(&n.label)
            ),
            Some(n) => format!(
                "{target}: {word} {old_col} is no longer written ({} renamed {:?} -> {:?}, \
                 published as {}): drop {old_col}",
                o.key,
                o.label,
                n.label,
                field_key(&n.label)
            ),
            None => format!(
                "{target}: {word} {old_col} is no longer written ({} {:?} removed): drop \
                 {old_col}",
                o.key, o.label
            ),
        });
    }
    for n in &new.fields {
        let col = field_key(&n.label);
        if !old_fields.iter().any(|o| o.key == n.key) && !has(&col) {
            out.push(format!(
                "{target}: no {word} {col} for the new field {} {:?}: add {word} {col} to \
                 publish it",
                n.key, n.label
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, label: &str, kind: &str) -> FieldPrint {
        FieldPrint {
            key: key.into(),
            label: label.into(),
            field_type: kind.into(),
        }
    }

    fn at(fields: Vec<FieldPrint>, columns: &[&str]) -> Fingerprint {
        let base = Fingerprint {
            fields,
            ..Fingerprint::default()
        };
        base.at(
            "socrata acc1-0001".into(),
            columns.iter().map(|c| (c.to_string(), "text".to_string())),
        )
    }

    #[test]
    fn a_rename_a_type_change_an_addition_and_a_removal_are_each_named() {
        let old = [
            field("field_1", "Contact Email", "email"),
            field("field_2", "Count", "number"),
            field("field_3", "Old", "short_text"),
        ];
        let new = [
            field("field_1", "Email", "email"),
            field("field_2", "Count", "short_text"),
            field("field_4", "Notes", "paragraph_text"),
        ];
        assert_eq!(
            field_changes(&old, &new),
            [
                r#"field_1 renamed "Contact Email" -> "Email""#,
                "field_2 type number -> short_text",
                r#"field_4 "Notes" added"#,
                r#"field_3 "Old" removed"#,
            ]
        );
        assert!(field_changes(&new, &new).is_empty());
    }

    #[test]
    fn columns_gained_lost_and_retyped_are_named_with_the_destination() {
        let old = at(Vec::new(), &["id", "contact_email"]);
        let mut new = at(Vec::new(), &["id", "email"]);
        assert_eq!(
            column_changes(&old, &new),
            [
                "socrata acc1-0001 gained column email",
                "socrata acc1-0001 lost column contact_email"
            ]
        );
        new.columns[1].column_type = "number".into();
        assert_eq!(new.columns[1].name, "id");
        assert_eq!(
            column_changes(&old, &new)[1],
            "socrata acc1-0001 column id type text -> number"
        );
        let other = Fingerprint {
            target: Some("socrata wxyz-9876".into()),
            ..old.clone()
        };
        assert_eq!(
            column_changes(&old, &other),
            ["socrata wxyz-9876 replaces socrata acc1-0001"]
        );
    }

    #[test]
    fn a_rename_whose_new_column_is_missing_names_the_column_to_add_and_to_drop() {
        let old = [field("field_1", "Contact Email", "email")];
        let renamed = at(
            vec![field("field_1", "Email", "email")],
            &["id", "contact_email"],
        );
        let warnings = breaks(&old, &renamed);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("column contact_email is no longer written"));
        assert!(warnings[0].contains("add column email"));
        let ready = at(
            vec![field("field_1", "Email", "email")],
            &["id", "contact_email", "email"],
        );
        assert!(breaks(&old, &ready)[0].ends_with("drop contact_email"));
        let added = at(
            vec![
                field("field_1", "Contact Email", "email"),
                field("field_2", "Notes", "paragraph_text"),
            ],
            &["id", "contact_email"],
        );
        assert_eq!(
            breaks(&old, &added),
            [
                r#"socrata acc1-0001: no column notes for the new field field_2 "Notes": add column notes to publish it"#
            ]
        );
        assert!(breaks(&old, &at(old.to_vec(), &["contact_email"])).is_empty());
    }
}
