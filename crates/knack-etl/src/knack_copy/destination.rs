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
    /// (in a dry run: every record), `failed` = refused records.
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
