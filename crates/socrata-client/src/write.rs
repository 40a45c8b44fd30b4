//! Writes (SODA Producer): upsert (`POST`), replace (`PUT`), deletes (`":deleted": true`),
//! sent in batches bounded by row count and body size.

use bytes::Bytes;
use futures::future;
use futures::stream::{self, BoxStream, StreamExt};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::client::{check_dataset_id, Client};
use crate::summary::WriteSummary;
use crate::{Error, Result};
use knack_services_core::Idempotency;

/// One request of [`Client::upsert_batches`]: how many rows it carried and what Socrata did with
/// them. The row count is what a caller needs to tell written rows from failed ones: batches are
/// also capped by bytes, so it cannot be derived from the batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WrittenBatch {
    /// Rows this request sent: the next `rows` rows of the input, in order.
    pub rows: usize,
    /// Socrata's counts for this request alone (`batches` is 1).
    pub summary: WriteSummary,
}

/// One request's JSON array body and the number of rows in it.
pub(crate) struct Body {
    pub(crate) rows: usize,
    pub(crate) json: Vec<u8>,
}

/// Splits serialised rows into JSON array bodies of at most `max_rows` rows and, unless one row
/// alone is bigger, at most `max_bytes` bytes.
pub(crate) fn batch_bodies<R: Serialize>(
    rows: &[R],
    max_rows: usize,
    max_bytes: usize,
) -> Result<Vec<Body>> {
    let mut bodies = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut n = 0usize;
    let mut written = 0usize;
    for (i, row) in rows.iter().enumerate() {
        // Each row is written straight into the body, and the body sized up front from the rows
        // so far: a body of megabytes grown by doubling is copied a dozen times.
        let start = cur.len();
        cur.push(if n == 0 { b'[' } else { b',' });
        serde_json::to_writer(&mut cur, row).map_err(|e| {
            Error::InvalidValue(format!("a row could not be serialised to JSON: {e}"))
        })?;
        let len = cur.len() - start - 1;
        written += len;
        // "[" + rows joined by "," + "]"
        let would_be = start.max(1) + len + 1;
        if n > 0 && (n >= max_rows || would_be > max_bytes) {
            let row_text = cur.split_off(start + 1);
            cur.truncate(start);
            cur.push(b']');
            bodies.push(Body {
                rows: n,
                json: std::mem::take(&mut cur),
            });
            cur.reserve(body_capacity(
                written / (i + 1),
                rows.len() - i,
                max_rows,
                max_bytes,
            ));
            cur.push(b'[');
            cur.extend_from_slice(&row_text);
            n = 0;
        } else if i == 0 {
            cur.reserve(
                body_capacity(len, rows.len(), max_rows, max_bytes).saturating_sub(cur.len()),
            );
        }
        n += 1;
    }
    if n > 0 {
        cur.push(b']');
        bodies.push(Body { rows: n, json: cur });
    }
    Ok(bodies)
}

/// Bytes to reserve for a body of rows averaging `row_len` bytes, with `left` rows still to
/// write: an eighth over the estimate, and never more than the cap allows.
fn body_capacity(row_len: usize, left: usize, max_rows: usize, max_bytes: usize) -> usize {
    let ahead = left.min(max_rows.max(1));
    let estimate = (row_len + 1).saturating_mul(ahead + ahead / 8) + 2;
    estimate.min(max_bytes.saturating_add(row_len + 2))
}

impl Client {
    /// Upserts rows (`POST /resource/{id}.json`) in batches, returning the summed counts.
    ///
    /// Rows are matched on the dataset's row identifier, which makes the call idempotent, so 429,
    /// 5xx, timeouts and connection errors are retried. On a dataset without a row identifier an
    /// upsert appends; use [`Client::append`] there so nothing is retried blindly.
    ///
    /// `Errors > 0` in any batch stops the call with [`Error::RowErrors`]. Batches sent before a
    /// failure stay written; [`Client::upsert_batches`] tells which.
    pub async fn upsert<R: Serialize>(&self, dataset: &str, rows: &[R]) -> Result<WriteSummary> {
        let mut total = WriteSummary::default();
        let mut batches = self.upsert_batches(dataset, rows);
        while let Some(batch) = batches.next().await {
            total += batch?.summary;
        }
        Ok(total)
    }

    /// Upserts `rows` like [`Client::upsert`], reporting each request separately: one item per
    /// request, in order, each telling how many rows it carried and Socrata's counts for it.
    ///
    /// A failed upsert of several requests is partly applied: the requests before the failure
    /// stay written, and this stream lets a caller count exactly those. Requests are sent one at a
    /// time; the stream ends after the first `Err`, because the caller is going to stop and every
    /// further request would only widen the partial write. An [`Error::RowErrors`] item carries
    /// the counts summed over every request so far (as [`Client::upsert`]'s error does); its
    /// request was applied in part, and Socrata does not say which rows.
    ///
    /// An invalid dataset id or a row that cannot be serialised fails before any request.
    pub fn upsert_batches<'a, R: Serialize>(
        &'a self,
        dataset: &'a str,
        rows: &[R],
    ) -> BoxStream<'a, Result<WrittenBatch>> {
        let bodies = check_dataset_id(dataset)
            .and_then(|()| batch_bodies(rows, self.inner.batch_size, self.inner.batch_bytes));
        let bodies = match bodies {
            Ok(bodies) => bodies,
            Err(e) => return stream::once(future::ready(Err(e))).boxed(),
        };
        // State: the bodies still to send, the counts so far and the input rows sent so far;
        // `None` once a request failed.
        let start = Some((bodies.into_iter(), WriteSummary::default(), 0));
        stream::unfold(start, move |state| async move {
            let (mut bodies, mut total, sent) = state?;
            let body = bodies.next()?;
            let rows = body.rows;
            let item = self
                .write_batch(
                    dataset,
                    ("upsert", Method::POST),
                    (body, sent),
                    Idempotency::Idempotent,
                    &mut total,
                )
                .await
                .map(|summary| WrittenBatch { rows, summary });
            let next = item.is_ok().then_some((bodies, total, sent + rows));
            Some((item, next))
        })
        .boxed()
    }

    /// Like [`Client::upsert`] but for datasets without a row identifier, where every POST adds
    /// rows: a batch is retried only on 429 (rejected, not applied) or 202 (Socrata asks for it).
    pub async fn append<R: Serialize>(&self, dataset: &str, rows: &[R]) -> Result<WriteSummary> {
        check_dataset_id(dataset)?;
        let bodies = batch_bodies(rows, self.inner.batch_size, self.inner.batch_bytes)?;
        let mut total = WriteSummary::default();
        self.write_bodies(
            dataset,
            "append",
            Idempotency::NotIdempotent,
            (bodies, 0),
            &mut total,
        )
        .await?;
        Ok(total)
    }

    /// Replaces the whole dataset with `rows`: the first batch is a `PUT` (which drops every
    /// existing row), the following batches are upserts, exactly as the original publisher did.
    ///
    /// The `PUT` is never retried after a 5xx, timeout or broken connection (it may have been
    /// applied, and a later repeat after other batches would truncate them); only 429 and 202,
    /// where Socrata says the request was not (yet) applied, repeat it. With zero rows a single
    /// `PUT []` empties the dataset. Replace is not atomic: a failure after the `PUT` leaves the
    /// dataset partly loaded, and the error says so.
    pub async fn replace<R: Serialize>(&self, dataset: &str, rows: &[R]) -> Result<WriteSummary> {
        check_dataset_id(dataset)?;
        let mut bodies =
            batch_bodies(rows, self.inner.batch_size, self.inner.batch_bytes)?.into_iter();
        let first = bodies.next().unwrap_or(Body {
            rows: 0,
            json: b"[]".to_vec(),
        });
        let mut total = WriteSummary::default();
        let first_rows = first.rows;
        self.write_batch(
            dataset,
            ("replace", Method::PUT),
            (first, 0),
            Idempotency::NotIdempotent,
            &mut total,
        )
        .await?;
        if let Err(e) = self
            .write_bodies(
                dataset,
                "upsert",
                Idempotency::Idempotent,
                (bodies, first_rows),
                &mut total,
            )
            .await
        {
            tracing::warn!(
                dataset,
                rows_written = total.applied(),
                "replace of {dataset} failed after its PUT; the dataset is partly loaded: {e}"
            );
            return Err(e);
        }
        Ok(total)
    }

    /// Deletes rows by row identifier, sending `{"<id_field>": id, ":deleted": true}` upserts in
    /// batches. Retried like upserts. Note that Socrata counts a delete of a missing row in
    /// `Errors`, which this call reports as [`Error::RowErrors`].
    pub async fn delete<I: Serialize>(
        &self,
        dataset: &str,
        id_field: &str,
        ids: &[I],
    ) -> Result<WriteSummary> {
        check_dataset_id(dataset)?;
        let rows = ids
            .iter()
            .map(|id| {
                let mut m = Map::new();
                let v = serde_json::to_value(id).map_err(|e| {
                    Error::InvalidValue(format!("a row id could not be serialised: {e}"))
                })?;
                m.insert(id_field.to_string(), v);
                m.insert(":deleted".to_string(), Value::Bool(true));
                Ok(m)
            })
            .collect::<Result<Vec<_>>>()?;
        let bodies = batch_bodies(&rows, self.inner.batch_size, self.inner.batch_bytes)?;
        let mut total = WriteSummary::default();
        self.write_bodies(
            dataset,
            "delete",
            Idempotency::Idempotent,
            (bodies, 0),
            &mut total,
        )
        .await?;
        Ok(total)
    }

    /// POSTs `bodies` one after another, adding each one's counts to `total`; stops at the first
    /// failure. `bodies.1` is how many input rows came before the first body.
    async fn write_bodies(
        &self,
        dataset: &str,
        verb: &str,
        idempotency: Idempotency,
        bodies: (impl IntoIterator<Item = Body>, usize),
        total: &mut WriteSummary,
    ) -> Result<()> {
        let (bodies, mut sent) = bodies;
        for body in bodies {
            let rows = body.rows;
            let call = (verb, Method::POST);
            self.write_batch(dataset, call, (body, sent), idempotency, total)
                .await?;
            sent += rows;
        }
        Ok(())
    }

    /// Sends one batch (`call`: verb and method; `body`: the body and how many input rows came
    /// before it), adds its counts to `total` and returns them; `Errors > 0` is
    /// [`Error::RowErrors`] carrying `total` and the batch's rows.
    async fn write_batch(
        &self,
        dataset: &str,
        call: (&str, Method),
        body: (Body, usize),
        idempotency: Idempotency,
        total: &mut WriteSummary,
    ) -> Result<WriteSummary> {
        let ((verb, method), (body, first)) = (call, body);
        let rows = first..first + body.rows;
        let counts = self
            .send_batch(dataset, verb, method, body.json, idempotency)
            .await?;
        *total += counts;
        if counts.errors > 0 {
            return Err(Error::RowErrors {
                dataset: dataset.to_string(),
                summary: *total,
                rows,
            });
        }
        Ok(counts)
    }

    /// Sends one batch and returns Socrata's counts for it, whatever its `Errors`.
    async fn send_batch(
        &self,
        dataset: &str,
        verb: &str,
        method: Method,
        body: Vec<u8>,
        idempotency: Idempotency,
    ) -> Result<WriteSummary> {
        let url = self.url(&format!("resource/{dataset}.json"));
        let op = format!("{verb} to {dataset}");
        let resp = self
            .send(&op, method, url, Some(Bytes::from(body)), idempotency)
            .await?;
        let mut counts: WriteSummary =
            serde_json::from_slice(&resp).map_err(|e| Error::Decode {
                operation: op.clone(),
                message: format!("write result: {e}"),
            })?;
        counts.batches = 1;
        tracing::debug!(dataset, verb, ?counts, "Socrata batch written");
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_by_rows_and_bytes() {
        let rows: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
        let b = batch_bodies(&rows, 2, usize::MAX).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].json, br#"[{"id":0},{"id":1}]"#.to_vec());
        assert_eq!(b[2].json, br#"[{"id":4}]"#.to_vec());
        assert_eq!(b.iter().map(|b| b.rows).collect::<Vec<_>>(), [2, 2, 1]);
        // {"id":0} is 8 bytes: "[" + 8 + "," + 8 + "]" = 19 fits 19, three would not.
        let b = batch_bodies(&rows, 100, 19).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b.iter().map(|b| b.rows).collect::<Vec<_>>(), [2, 2, 1]);
        for body in &b {
            assert!(body.json.len() <= 19);
            let parsed: Vec<Value> = serde_json::from_slice(&body.json).unwrap();
            assert_eq!(parsed.len(), body.rows);
        }
        // A row bigger than the cap is still sent, alone.
        let b = batch_bodies(&rows, 100, 3).unwrap();
        assert_eq!(b.len(), 5);
        assert!(batch_bodies::<Value>(&[], 10, 10).unwrap().is_empty());
    }

    #[test]
    fn summary_keys_are_optional() {
        let s: WriteSummary = serde_json::from_str(r#"{"Rows Created": 2, "Errors": 1}"#).unwrap();
        assert_eq!((s.rows_created, s.rows_updated, s.errors), (2, 0, 1));
        let s: WriteSummary = serde_json::from_str("{}").unwrap();
        assert_eq!(s, WriteSummary::default());
    }
}
