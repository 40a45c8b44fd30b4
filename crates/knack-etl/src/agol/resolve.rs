//! An `applyEdits` with adds whose outcome is unknown (its answer was lost, or a 5xx): read the
//! layer back by the batch's matching values, then send again only what is not there.
//!
//! The client never repeats a request with adds blindly (ArcGIS would add the features twice);
//! it returns the error instead. Every request of more than one feature carries
//! `rollbackOnFailure=true`, so a lost request applied whole or not at all, and a read-back by the
//! matching field (`upsert_matching_field`, the Knack record id by default) says which: each add
//! found in the layer becomes an update of that object id (the same content, sent again), each add
//! not found stays an add. The part is then sent again through the sink's ordinary path, so a
//! feature ArcGIS refuses is still isolated and named.

use serde_json::Value;

use super::keys::raw_text;
use super::send::Edit;
use super::sink::AgolSink;

/// How often one batch's unknown outcome is read back before the error stops the stage: each
/// round is itself a failed request after the client's own retries, so a third is a service in
/// trouble, not chance.
pub(super) const MAX_ROUNDS: u32 = 3;

/// Whether `e`, the answer to an `applyEdits`, leaves its outcome unknown and may pass when sent
/// again: the client's [`agol_client::Error::OutcomeUnknown`] (5xx, a dropped connection, a
/// timeout on a request with adds), or any failure still retryable after the client's own
/// retries (a rate limit, a request with updates only). Failures that surely applied nothing (a
/// refused connection) are included: the read-back then finds nothing and the adds are sent as
/// they were.
pub(super) fn outcome_unknown(e: &agol_client::Error) -> bool {
    matches!(e, agol_client::Error::OutcomeUnknown { .. }) || e.is_retryable()
}

/// Reads the layer back for the adds of `part` and turns each one found into an update of its
/// object id. Logged once per batch.
///
/// # Errors
/// The read-back's own failure.
pub(super) async fn read_back(
    sink: &AgolSink,
    part: &mut [Edit],
    cause: &agol_client::Error,
) -> Result<(), crate::Error> {
    let wanted: Vec<String> = part
        .iter()
        .filter(|e| e.add)
        .filter_map(|e| raw_text(e.feature.attributes.get(sink.matching_field())))
        .collect();
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let found = sink.lookup(&wanted).await?;
    let oid_field = sink.object_id_field();
    let mut there = 0;
    for edit in part.iter_mut().filter(|e| e.add) {
        if let Some(oid) = found.get(&edit.key) {
            edit.feature
                .attributes
                .insert(oid_field.clone(), Value::from(oid));
            edit.add = false;
            there += 1;
        }
    }
    let adds = wanted.len();
    tracing::warn!(
        layer = %sink.layer_name(),
        error = %cause,
        adds,
        already_there = there,
        resent_as_adds = adds - there,
        "the outcome of an applyEdits with {adds} adds is unknown ({cause}); read back by `{}`: \
         {there} already in the layer (sent again as updates), {} sent again as adds",
        sink.matching_field(),
        adds - there,
    );
    Ok(())
}
