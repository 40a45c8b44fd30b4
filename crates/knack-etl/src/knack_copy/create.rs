//! A create that lands once: a create whose outcome is unknown is resolved by looking the record
//! up in the destination, and every record created is written through to the destination
//! container's staged rows at once.
//!
//! knack-client never repeats a create after a 5xx, a timeout or a dropped connection (Knack may
//! have made the record). The field map's primary key says which record it would be: a Knack
//! filter `<primary key field> is <value>` on the destination object finds it if the lost create
//! made it; only when it is absent is the create sent again. Bounded ([`MAX_ROUNDS`]), logged once
//! per record.
//!
//! Write-through: the next run decides create or update from the destination container's staged
//! rows, refreshed incrementally by its modified-date field. A destination app that does not stamp
//! that field on create (no rule) would never show the new record to that refresh, and the next
//! run would create it again. So the record Knack answered is upserted into `api.knack` under the
//! destination container right away.

use futures::TryStreamExt;
use knack_client::{Filter, Operator, Record, RecordsQuery, Rule};
use serde_json::{Map, Value};

use super::canonical;
use super::destination::KnackDestination;
use super::map::write_key;
use crate::engine::Sink;
use crate::staging::{StagingRow, StagingSink};

/// How often one record's unknown create is looked up before its error is reported.
const MAX_ROUNDS: u32 = 3;

/// Whether a failed create may or may not have made the record, and may pass when sent again: a
/// 5xx, a timeout, a connection dropped after sending (the client's retryable errors; the daily
/// limit is not one).
fn outcome_unknown(e: &knack_client::Error) -> bool {
    e.is_retryable()
}

/// Creates `body` in `dest.dest_object` once: after a create with an unknown outcome, the record
/// is looked up by the primary key (`pk`, a destination field key, and its canonical `key`) and
/// created again only when absent. Returns the record as Knack has it.
///
/// # Errors
/// The create's error when it is not about an unknown outcome, or outlived [`MAX_ROUNDS`]; the
/// look-up's own error.
pub(super) async fn create_once(
    knack: &knack_client::Client,
    dest: &KnackDestination,
    pk: &str,
    key: &str,
    body: &Map<String, Value>,
) -> Result<Record, knack_client::Error> {
    let mut rounds = 0;
    loop {
        let err = match knack.create(&dest.dest_object, body).await {
            Ok(record) => return Ok(record),
            Err(e) if rounds < MAX_ROUNDS && outcome_unknown(&e) => e,
            Err(e) => return Err(e),
        };
        rounds += 1;
        let found = find(knack, dest, pk, key, body).await?;
        tracing::warn!(
            object = %dest.dest_object,
            primary_key = %key,
            error = %err,
            found = found.is_some(),
            "the outcome of a Knack create is unknown ({err}); looked up by {pk}: {}",
            if found.is_some() {
                "the record is there, not created again"
            } else {
                "absent, creating it again"
            }
        );
        if let Some(record) = found {
            return Ok(record);
        }
    }
}

/// The destination record whose primary key is `key`, if any.
async fn find(
    knack: &knack_client::Client,
    dest: &KnackDestination,
    pk: &str,
    key: &str,
    body: &Map<String, Value>,
) -> Result<Option<Record>, knack_client::Error> {
    let field = write_key(pk);
    let value = body.get(field).cloned().unwrap_or(Value::Null);
    let query = RecordsQuery::new().filter(Filter::and([Rule::new(field, Operator::Is, value)]));
    let candidates: Vec<Record> = knack
        .records(&dest.dest_object, query)
        .try_collect()
        .await?;
    // Knack's `is` may match loosely (case, formatting): the canonical key decides.
    Ok(candidates.into_iter().find(|r| {
        let raw = r.raw();
        // The raw value, as the staged rows compare it, when Knack sends one.
        let value = raw
            .get(&format!("{field}_raw"))
            .or_else(|| raw.get(pk))
            .or_else(|| raw.get(field));
        canonical::key(value.unwrap_or(&Value::Null)).as_deref() == Some(key)
    }))
}

/// Upserts a created record into the destination container's staged rows (see the module docs).
/// A failure is logged, not fatal: the record exists in Knack, and a destination with a
/// modified-date rule shows it to the next refresh anyway.
pub(super) async fn write_through(
    pgrest: &pgrest_client::Client,
    dest: &KnackDestination,
    record: &Record,
) {
    let row = StagingRow::new(&dest.dest_app_id, &dest.dest_container, record.clone());
    let mut sink = StagingSink::new(pgrest.clone(), &dest.dest_app_id, &dest.dest_container);
    if let Err(e) = Sink::<StagingRow>::write(&mut sink, vec![row]).await {
        tracing::warn!(
            record_id = %record.id(),
            container = %dest.dest_container,
            error = %e,
            "a created record could not be written to the destination's staged rows; a \
             destination without a modified-date rule may see it created again"
        );
    }
}
