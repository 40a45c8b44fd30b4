//! What a Knack → Knack copy is ([`KnackDestination`]: both sides and the field map) and what it
//! did ([`KnackReport`], [`RecordFailure`]).

use knack_client::Container;
use serde_json::Value;

use super::map::FieldMap;
use crate::engine::RunReport;

/// Where a container's records go in another Knack app.
#[derive(Debug, Clone)]
pub struct KnackDestination {
    /// The source app's id (its rows in `api.knack`).
    pub source_app_id: String,
    /// The source container (`view_N` / `object_N`) whose staged rows are read.
    pub source_container: String,
    /// The destination app's id.
    pub dest_app_id: String,
    /// The destination container whose staged rows are compared.
    pub dest_container: String,
    /// The destination object written through the API.
    pub dest_object: Container,
    /// The field map.
    pub fields: FieldMap,
}

/// What a run does (or, in a dry run, would do) with one source record.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// No destination record has the primary key: create one.
    Create,
    /// The destination record differs in `changed` (destination keys): update it.
    Update {
        /// The destination record's id.
        dest_record_id: String,
        /// The compared fields that differ.
        changed: Vec<String>,
    },
    /// Nothing to write.
    Unchanged {
        /// The destination record's id.
        dest_record_id: String,
    },
}

/// One line of a dry run's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The source record's Knack id.
    pub source_record_id: String,
    /// The primary key's value.
    pub primary_key: Value,
    /// What would happen.
    pub action: Action,
}

impl std::fmt::Display for Planned {
    /// The plan's line for this record: `create    source <id> (primary key <pk>)`, `update
    /// source <id> -> <dest id> (primary key <pk>): <fields that differ>`, or `unchanged source
    /// <id> = <dest id> (primary key <pk>)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (source, pk) = (&self.source_record_id, &self.primary_key);
        match &self.action {
            Action::Create => write!(f, "create    source {source} (primary key {pk})"),
            Action::Update {
                dest_record_id,
                changed,
            } => write!(
                f,
                "update    source {source} -> {dest_record_id} (primary key {pk}): {}",
                changed.join(", ")
            ),
            Action::Unchanged { dest_record_id } => write!(
                f,
                "unchanged source {source} = {dest_record_id} (primary key {pk})"
            ),
        }
    }
}

/// A record the destination refused; the others were still written.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFailure {
    /// The source record's Knack id.
    pub source_record_id: String,
    /// The destination record's id (for an update).
    pub dest_record_id: Option<String>,
    /// The field Knack's message names, else every field sent.
    pub fields: Vec<String>,
    /// Knack's reason.
    pub reason: String,
}

impl std::fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.dest_record_id {
            Some(id) => format!("update of {id}"),
            None => "create".to_string(),
        };
        write!(
            f,
            "record {} ({target}, fields {}): {}",
            self.source_record_id,
            self.fields.join(", "),
            self.reason
        )
    }
}

/// The outcome of [`records_to_knack`](super::records_to_knack).
#[derive(Debug, Clone, Default)]
pub struct KnackReport {
    /// Counts: `read` source records, `written` = created + updated, `skipped` = unchanged
    /// (in a dry run: every record), `failed` = records not delivered this time (a transient
    /// failure that outlived its retries; the next run sends them again). Refused records are in
    /// [`KnackReport::failures`], not counted here.
    pub run: RunReport,
    /// Records created (in a dry run: to create).
    pub created: u64,
    /// Records updated (in a dry run: to update).
    pub updated: u64,
    /// Records left alone.
    pub unchanged: u64,
    /// Every record's action, in a dry run only.
    pub plan: Vec<Planned>,
    /// Every refused record.
    pub failures: Vec<RecordFailure>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_planned_record_is_one_line_of_the_plan() {
        let planned = |action| Planned {
            source_record_id: "s1".into(),
            primary_key: json!("A-1"),
            action,
        };
        assert_eq!(
            planned(Action::Create).to_string(),
            r#"create    source s1 (primary key "A-1")"#
        );
        let update = Action::Update {
            dest_record_id: "d1".into(),
            changed: vec!["field_2".into(), "field_3".into()],
        };
        assert_eq!(
            planned(update).to_string(),
            r#"update    source s1 -> d1 (primary key "A-1"): field_2, field_3"#
        );
        let same = Action::Unchanged {
            dest_record_id: "d1".into(),
        };
        assert_eq!(
            planned(same).to_string(),
            r#"unchanged source s1 = d1 (primary key "A-1")"#
        );
    }
}
