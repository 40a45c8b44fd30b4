//! Edits: applyEdits, add/update/delete in batches, truncate.

use serde_json::Value;

use crate::client::Idempotency;
use crate::error::{EditFailure, EditKind, Error};
use crate::layer::{join_ids, Layer};
use crate::response::decode;
use crate::types::{EditResult, EditResults, Edits, Feature, TruncateOutcome};

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::Config(format!("cannot encode edits as JSON: {e}")))
}

/// Quotes a value for an ArcGIS SQL string literal (a `'` becomes `''`).
pub fn sql_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

struct BatchCheck<'a> {
    operation: &'a str,
    batch: usize,
    /// Where this batch starts in the caller's input (so a failure's index is the caller's).
    offset: usize,
    /// What earlier batches applied: carried into `EditsFailed::applied`.
    earlier: Option<&'a EditResults>,
    rollback: bool,
    adds: usize,
    updates: usize,
    deletes: Option<usize>,
}

impl BatchCheck<'_> {
    /// Reads all three result lists and turns every `success: false` into one error, which keeps
    /// what was applied: earlier batches, and this batch's successes unless it was rolled back.
    fn check(&self, body: Value) -> Result<EditResults, Error> {
        if body.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(Error::Api {
                operation: self.operation.into(),
                status: 200,
                code: None,
                message: "the service answered success: false".into(),
                details: vec![],
                retry_after: None,
            });
        }
        let results: EditResults = decode(self.operation, body)?;
        let mut failures = Vec::new();
        let lists = [
            (EditKind::Add, &results.add_results),
            (EditKind::Update, &results.update_results),
            (EditKind::Delete, &results.delete_results),
        ];
        for (kind, list) in lists {
            failures.extend(list.iter().enumerate().filter(|(_, r)| !r.success).map(
                |(index, r): (usize, &EditResult)| {
                    EditFailure {
                        kind,
                        index: self.offset + index,
                        object_id: r.object_id.filter(|id| *id >= 0),
                        global_id: r.global_id.clone(),
                        code: r.error.as_ref().and_then(|e| e.code),
                        description: r
                            .error
                            .as_ref()
                            .map(|e| e.description.clone())
                            .unwrap_or_else(|| "no error description".into()),
                    }
                },
            ));
        }
        let sent = self.adds + self.updates + self.deletes.unwrap_or(0);
        if !failures.is_empty() {
            let mut applied = self.earlier.cloned().unwrap_or_default();
            if !self.rollback {
                applied.extend(results.successes());
            }
            return Err(Error::EditsFailed {
                operation: self.operation.into(),
                batch: self.batch,
                sent,
                rolled_back: self.rollback,
                failures,
                applied: Box::new(applied),
            });
        }
        let counts_ok = results.add_results.len() == self.adds
            && results.update_results.len() == self.updates
            && self
                .deletes
                .is_none_or(|d| d == results.delete_results.len());
        if !counts_ok {
            return Err(Error::Decode {
                operation: self.operation.into(),
                message: format!(
                    "batch {}: expected {} add, {} update, {} delete result(s), got {}, {}, {}",
                    self.batch,
                    self.adds,
                    self.updates,
                    self.deletes.map_or("any".into(), |d| d.to_string()),
                    results.add_results.len(),
                    results.update_results.len(),
                    results.delete_results.len()
                ),
            });
        }
        Ok(results)
    }
}

impl Layer {
    /// One `applyEdits` call (not batched: the caller sizes it). Adds make it non-idempotent,
    /// so a call carrying adds is never re-sent after an ambiguous failure.
    pub async fn apply_edits(&self, edits: &Edits) -> Result<EditResults, Error> {
        let op = "applyEdits";
        let params = vec![
            ("adds", to_json(&edits.adds)?),
            ("updates", to_json(&edits.updates)?),
            ("deletes", join_ids(&edits.deletes)),
            ("rollbackOnFailure", edits.rollback_on_failure.to_string()),
        ];
        let idem = if edits.adds.is_empty() {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        let body = self
            .client
            .post(op, &self.endpoint(op), &params, idem)
            .await?;
        BatchCheck {
            operation: op,
            batch: 1,
            offset: 0,
            earlier: None,
            rollback: edits.rollback_on_failure,
            adds: edits.adds.len(),
            updates: edits.updates.len(),
            deletes: Some(edits.deletes.len()),
        }
        .check(body)
    }

    /// `addFeatures` in batches of [`BatchSizes::adds`](crate::BatchSizes). Stops at the first
    /// failed batch; earlier batches stay applied (the error says which batch failed).
    pub async fn add_features(
        &self,
        features: &[Feature],
        rollback_on_failure: bool,
    ) -> Result<EditResults, Error> {
        self.feature_batches("addFeatures", features, rollback_on_failure)
            .await
    }

    /// `updateFeatures` in batches; each feature carries its object id in `attributes`.
    pub async fn update_features(
        &self,
        features: &[Feature],
        rollback_on_failure: bool,
    ) -> Result<EditResults, Error> {
        self.feature_batches("updateFeatures", features, rollback_on_failure)
            .await
    }

    async fn feature_batches(
        &self,
        op: &'static str,
        features: &[Feature],
        rollback: bool,
    ) -> Result<EditResults, Error> {
        let sizes = self.client.batch_sizes();
        let (size, idem) = if op == "addFeatures" {
            (sizes.adds, Idempotency::NotIdempotent)
        } else {
            (sizes.updates, Idempotency::Idempotent)
        };
        let mut all = EditResults::default();
        for (i, chunk) in features.chunks(size).enumerate() {
            let params = vec![
                ("features", to_json(&chunk)?),
                ("rollbackOnFailure", rollback.to_string()),
            ];
            let body = self
                .client
                .post(op, &self.endpoint(op), &params, idem)
                .await?;
            let is_add = op == "addFeatures";
            let results = BatchCheck {
                operation: op,
                batch: i + 1,
                offset: i * size,
                earlier: Some(&all),
                rollback,
                adds: if is_add { chunk.len() } else { 0 },
                updates: if is_add { 0 } else { chunk.len() },
                deletes: Some(0),
            }
            .check(body)?;
            all.extend(results);
        }
        Ok(all)
    }

    /// `deleteFeatures` by object ids, in batches of [`BatchSizes::deletes`](crate::BatchSizes).
    ///
    /// Repeated like any idempotent call after a transient failure. An id the layer no longer has
    /// (ArcGIS code 1019, "Object is missing": an earlier attempt whose answer was lost deleted
    /// it) counts as deleted: the batch is sent again without those ids, so the others are still
    /// deleted when the refusal rolled the batch back.
    pub async fn delete_object_ids(
        &self,
        ids: &[i64],
        rollback_on_failure: bool,
    ) -> Result<EditResults, Error> {
        let mut all = EditResults::default();
        let size = self.client.batch_sizes().deletes;
        for (i, chunk) in ids.chunks(size).enumerate() {
            let mut pending = chunk.to_vec();
            loop {
                let params = vec![
                    ("objectIds", join_ids(&pending)),
                    ("rollbackOnFailure", rollback_on_failure.to_string()),
                ];
                let batch = (i + 1, i * size, &all);
                let gone = match self.delete_call(params, batch, Some(pending.len())).await {
                    Ok(results) => {
                        all.extend(results);
                        break;
                    }
                    // Only ids of this request count; naming none of them would resend the
                    // same request forever.
                    Err(e) => match already_gone(&e) {
                        Some(gone) if gone.iter().any(|id| pending.contains(id)) => gone
                            .into_iter()
                            .filter(|id| pending.contains(id))
                            .collect::<Vec<_>>(),
                        _ => return Err(e),
                    },
                };
                pending.retain(|id| !gone.contains(id));
                all.delete_results.extend(gone.iter().map(|id| EditResult {
                    object_id: Some(*id),
                    global_id: None,
                    success: true,
                    error: None,
                }));
                if pending.is_empty() {
                    break;
                }
            }
        }
        Ok(all)
    }

    /// `deleteFeatures` with a `where` clause (`1=1` deletes everything).
    pub async fn delete_where(&self, where_clause: &str) -> Result<EditResults, Error> {
        if where_clause.trim().is_empty() {
            return Err(Error::Config(
                "an empty where clause deletes nothing on some servers and everything on others; pass `1=1` to delete all".into(),
            ));
        }
        let none = EditResults::default();
        self.delete_call(
            vec![("where", where_clause.to_string())],
            (1, 0, &none),
            None,
        )
        .await
    }

    /// Deletes rows whose `field` is one of `values` (strings), as the original's incremental mode
    /// does: `field IN ('a','b',...)` in batches of [`BatchSizes::deletes`](crate::BatchSizes).
    pub async fn delete_where_in(
        &self,
        field: &str,
        values: &[String],
    ) -> Result<EditResults, Error> {
        if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::Config(format!(
                "field name {field:?} is not a plain ArcGIS field name"
            )));
        }
        let mut all = EditResults::default();
        let size = self.client.batch_sizes().deletes;
        for (i, chunk) in values.chunks(size).enumerate() {
            let list = chunk
                .iter()
                .map(|v| sql_quote(v))
                .collect::<Vec<_>>()
                .join(",");
            let params = vec![("where", format!("{field} IN ({list})"))];
            let results = self
                .delete_call(params, (i + 1, i * size, &all), None)
                .await?;
            all.extend(results);
        }
        Ok(all)
    }

    /// One `deleteFeatures` call; `batch` is (1-based number, offset in the caller's input,
    /// what earlier batches deleted).
    async fn delete_call(
        &self,
        params: Vec<(&'static str, String)>,
        batch: (usize, usize, &EditResults),
        expected: Option<usize>,
    ) -> Result<EditResults, Error> {
        let op = "deleteFeatures";
        let body = self
            .client
            .post(op, &self.endpoint(op), &params, Idempotency::Idempotent)
            .await?;
        BatchCheck {
            operation: op,
            batch: batch.0,
            offset: batch.1,
            earlier: Some(batch.2),
            rollback: params
                .iter()
                .any(|(k, v)| *k == "rollbackOnFailure" && v == "true"),
            adds: 0,
            updates: 0,
            deletes: expected,
        }
        .check(body)
    }

    /// The admin URL of `truncate`: `.../rest/services/...` becomes `.../rest/admin/services/...`.
    pub fn truncate_url(&self) -> Option<String> {
        let (head, tail) = self.url.split_once("/rest/services/")?;
        Some(format!("{head}/rest/admin/services/{tail}/truncate"))
    }

    /// Empties the layer: the admin `truncate` when the layer says `supportsTruncate`, otherwise
    /// (or when truncate answers "Unable to truncate", e.g. on related layers)
    /// `deleteFeatures where=1=1`.
    pub async fn truncate(&self) -> Result<TruncateOutcome, Error> {
        if let (true, Some(url)) = (self.info.supports_truncate, self.truncate_url()) {
            let params = vec![
                ("attachmentOnly", "false".to_string()),
                ("async", "false".to_string()),
            ];
            match self
                .client
                .post("truncate", &url, &params, Idempotency::Idempotent)
                .await
            {
                Ok(_) => return Ok(TruncateOutcome::Truncated),
                Err(Error::Api {
                    status: 200,
                    code: Some(400),
                    message,
                    details,
                    ..
                }) => {
                    tracing::warn!(%message, ?details, url = %self.url, "truncate refused; deleting where 1=1 instead");
                }
                Err(e) => return Err(e),
            }
        }
        self.delete_where("1=1").await?;
        Ok(TruncateOutcome::DeletedAll)
    }
}

/// ArcGIS's code for a delete of an object id the layer does not have.
const OBJECT_MISSING: i64 = 1019;

/// The object ids a refused `deleteFeatures` names as missing, when missing ids are its only
/// reason (the others failed only as rolled back); `None` for any other failure.
fn already_gone(e: &Error) -> Option<Vec<i64>> {
    let Error::EditsFailed { failures, .. } = e else {
        return None;
    };
    let mut gone = Vec::new();
    for f in failures {
        match f.code {
            Some(OBJECT_MISSING) => gone.push(f.object_id?),
            _ if f.only_rolled_back() => {}
            _ => return None,
        }
    }
    (!gone.is_empty()).then_some(gone)
}
