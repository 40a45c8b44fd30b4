//! Writes: insert, batched upsert, update, delete, rpc.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::future;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{Answer, Call, Client};
use crate::error::{Error, Result};
use crate::query::{encode, Query};

/// Upsert settings: conflict target, batch size and concurrency.
///
/// ```
/// use pgrest_client::Upsert;
/// let u = Upsert::on_conflict(["app_id", "container_id", "record_id"]).batch_size(200).concurrency(4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upsert {
    on_conflict: Vec<String>,
    batch_size: usize,
    concurrency: usize,
    ignore_duplicates: bool,
    returning: Vec<String>,
}

impl Default for Upsert {
    fn default() -> Self {
        // The original used 200 rows per request and 4 threads; more made PostgREST drop connections.
        Self {
            on_conflict: vec![],
            batch_size: 200,
            concurrency: 4,
            ignore_duplicates: false,
            returning: vec![],
        }
    }
}

impl Upsert {
    /// Conflict target = the table's primary key.
    pub fn new() -> Self {
        Self::default()
    }
    /// Conflict target = these columns (a primary key or UNIQUE constraint), sent as `on_conflict`.
    pub fn on_conflict<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            on_conflict: columns.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
    /// Rows per request (default 200, at least 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }
    /// Rows each request carries: request `i` of [`Client::upsert_batches`] holds rows
    /// `i * n .. (i + 1) * n` of the input.
    pub fn rows_per_request(&self) -> usize {
        self.batch_size
    }
    /// Requests in flight at once (default 4, at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Keep existing rows instead of merging (`resolution=ignore-duplicates`).
    pub fn ignore_duplicates(mut self) -> Self {
        self.ignore_duplicates = true;
        self
    }
    /// The columns [`Client::upsert_returning`] and [`Client::upsert_batches`] get back
    /// (`select=`); default every column. A caller that needs only what the database set (an
    /// `updated_at`, an identity) should name it: whole rows double the traffic of a load.
    pub fn returning<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.returning = columns.into_iter().map(Into::into).collect();
        self
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertSummary {
    /// Rows sent.
    pub rows: usize,
    /// Requests made (one per batch).
    pub batches: usize,
}

/// What one request of [`Client::upsert_batches`] wrote.
///
/// It carries the number of rows sent as well as the rows returned because the two differ with
/// [`Upsert::ignore_duplicates`] (PostgREST returns only the rows it inserted), and a caller counting
/// what was written must not have to redo the batching to know how many rows a request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpsertedBatch<R> {
    /// Rows this request sent (at most the batch size).
    pub rows: usize,
    /// The rows PostgREST returned for it (`Prefer: return=representation`), in its order.
    pub returned: Vec<R>,
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<Bytes> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(Error::Encode)
}

fn decode<R: DeserializeOwned>(path: &str, answer: &Answer) -> Result<R> {
    // A void function or a 204 has no body: read it as JSON null so `()` and `Option<_>` work.
    let body: &[u8] = if answer.body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        &answer.body
    };
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        path: path.to_string(),
        source,
    })
}

fn returning(representation: bool) -> String {
    if representation {
        "return=representation"
    } else {
        "return=minimal"
    }
    .to_string()
}

impl Client {
    async fn post_rows<T: Serialize>(
        &self,
        table: &str,
        rows: &[T],
        representation: bool,
    ) -> Result<Answer> {
        let call = Call {
            method: Method::POST,
            path: table.to_string(),
            query: String::new(),
            body: Some(to_json(rows)?),
            prefer: vec![returning(representation)],
            // A plain insert is not idempotent: a retry after a lost answer duplicates rows or hits 409.
            idempotent: false,
        };
        self.send(&call).await
    }

    /// `POST /table` with the rows as one JSON array (a single INSERT). Never retried.
    pub async fn insert<T: Serialize>(&self, table: &str, rows: &[T]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.post_rows(table, rows, false).await.map(|_| ())
    }

    /// Like [`Client::insert`], returning the inserted rows (`Prefer: return=representation`).
    pub async fn insert_returning<T: Serialize, R: DeserializeOwned>(
        &self,
        table: &str,
        rows: &[T],
    ) -> Result<Vec<R>> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        decode(table, &self.post_rows(table, rows, true).await?)
    }

    fn upsert_call(&self, table: &str, body: Bytes, opts: &Upsert, representation: bool) -> Call {
        let resolution = if opts.ignore_duplicates {
            "resolution=ignore-duplicates"
        } else {
            "resolution=merge-duplicates"
        };
        let mut params = Vec::new();
        if !opts.on_conflict.is_empty() {
            let cols: Vec<String> = opts.on_conflict.iter().map(|c| encode(c)).collect();
            params.push(format!("on_conflict={}", cols.join(",")));
        }
        if representation && !opts.returning.is_empty() {
            let cols: Vec<String> = opts.returning.iter().map(|c| encode(c)).collect();
            params.push(format!("select={}", cols.join(",")));
        }
        let query = params.join("&");
        Call {
            method: Method::POST,
            path: table.to_string(),
            query,
            body: Some(body),
            prefer: vec![resolution.to_string(), returning(representation)],
            // An upsert converges to the same rows however often it runs.
            idempotent: true,
        }
    }

    /// Upserts `rows` in batches of `opts.batch_size`, at most `opts.concurrency` requests at once.
    ///
    /// Stops at the first failed batch (after its retries); batches already written stay written.
    pub async fn upsert<T: Serialize + Sync>(
        &self,
        table: &str,
        rows: &[T],
        opts: &Upsert,
    ) -> Result<UpsertSummary> {
        let calls = rows
            .chunks(opts.batch_size)
            .map(|chunk| Ok(self.upsert_call(table, to_json(chunk)?, opts, false)))
            .collect::<Result<Vec<_>>>()?;
        let batches = calls.len();
        stream::iter(calls.into_iter().map(Ok))
            .try_for_each_concurrent(opts.concurrency, |call| async move {
                self.send(&call).await.map(|_| ())
            })
            .await?;
        Ok(UpsertSummary {
            rows: rows.len(),
            batches,
        })
    }

    /// Like [`Client::upsert`], returning the written rows (in batch order).
    ///
    /// Fails with the first failed request (in request order); use [`Client::upsert_batches`] to
    /// know which rows were written before it.
    pub async fn upsert_returning<T: Serialize + Sync, R: DeserializeOwned + Send>(
        &self,
        table: &str,
        rows: &[T],
        opts: &Upsert,
    ) -> Result<Vec<R>> {
        let batches: Vec<UpsertedBatch<R>> =
            self.upsert_batches(table, rows, opts).try_collect().await?;
        Ok(batches.into_iter().flat_map(|b| b.returned).collect())
    }

    /// Upserts `rows` like [`Client::upsert_returning`], reporting each request separately: one
    /// item per request of `opts.batch_size` rows, in request order, at most `opts.concurrency`
    /// requests in flight.
    ///
    /// A failed upsert of several requests is partly applied: the requests that succeeded stay
    /// written. This stream lets a caller say exactly which, so:
    /// - once a request has failed (after its retries), no further request is started, because
    ///   the caller is going to stop and every extra request would only widen the partial write;
    /// - requests already in flight are still awaited and reported (they may well have been
    ///   applied), so a caller that reads the stream to its end knows every request's outcome.
    ///   Dropping the stream early cancels them, which leaves their outcome unknown.
    ///
    /// Rows that cannot be serialised fail the whole call before any request (a single `Err`). An
    /// answer that does not decode into `R` is an `Err` too, although PostgREST applied that request.
    pub fn upsert_batches<'a, T: Serialize, R: DeserializeOwned + Send + 'a>(
        &'a self,
        table: &'a str,
        rows: &[T],
        opts: &Upsert,
    ) -> BoxStream<'a, Result<UpsertedBatch<R>>> {
        // Serialise everything first, so a bad row fails the call before anything is written.
        let calls = rows
            .chunks(opts.batch_size)
            .map(|chunk| {
                let call = self.upsert_call(table, to_json(chunk)?, opts, true);
                Ok((chunk.len(), call))
            })
            .collect::<Result<Vec<_>>>();
        let calls = match calls {
            Ok(calls) => calls,
            Err(e) => return stream::once(future::ready(Err(e))).boxed(),
        };
        // `buffered` starts the next request as soon as the oldest one is answered, even if a later
        // one has already failed: this flag, checked before a request is started, prevents that.
        let failed = Arc::new(AtomicBool::new(false));
        let stop = failed.clone();
        stream::iter(calls)
            .take_while(move |_| future::ready(!stop.load(Ordering::Acquire)))
            .map(move |(n, call)| {
                let failed = failed.clone();
                async move {
                    let answer = match self.send(&call).await {
                        Ok(answer) => decode::<Vec<R>>(table, &answer),
                        Err(e) => Err(e),
                    };
                    if answer.is_err() {
                        failed.store(true, Ordering::Release);
                    }
                    answer.map(|returned| UpsertedBatch { rows: n, returned })
                }
            })
            .buffered(opts.concurrency)
            .boxed()
    }

    fn filtered_call(
        &self,
        method: Method,
        table: &str,
        filter: &Query,
        body: Option<Bytes>,
        repr: bool,
    ) -> Result<Call> {
        if !filter.has_filters() {
            let verb = if method == Method::DELETE {
                "delete"
            } else {
                "update"
            };
            return Err(Error::Refused(format!(
                "{verb} without a filter would touch every row of `{table}`; add a filter such as \
                 Query::new().eq(\"app_id\", …)"
            )));
        }
        Ok(Call {
            method,
            path: table.to_string(),
            query: filter.to_query_string(),
            body,
            prefer: vec![returning(repr)],
            idempotent: true,
        })
    }

    /// `PATCH /table?filters`: sets the columns in `patch` on every matching row. Refuses an empty filter.
    pub async fn update<T: Serialize>(&self, table: &str, filter: &Query, patch: &T) -> Result<()> {
        let call =
            self.filtered_call(Method::PATCH, table, filter, Some(to_json(patch)?), false)?;
        self.send(&call).await.map(|_| ())
    }

    /// Like [`Client::update`], returning the updated rows.
    pub async fn update_returning<T: Serialize, R: DeserializeOwned>(
        &self,
        table: &str,
        filter: &Query,
        patch: &T,
    ) -> Result<Vec<R>> {
        let call = self.filtered_call(Method::PATCH, table, filter, Some(to_json(patch)?), true)?;
        decode(table, &self.send(&call).await?)
    }

    /// `DELETE /table?filters`. Refuses an empty filter (PostgREST itself would delete every row).
    pub async fn delete(&self, table: &str, filter: &Query) -> Result<()> {
        let call = self.filtered_call(Method::DELETE, table, filter, None, false)?;
        self.send(&call).await.map(|_| ())
    }

    /// Like [`Client::delete`], returning the deleted rows (use the filter's `select` to keep it small).
    pub async fn delete_returning<R: DeserializeOwned>(
        &self,
        table: &str,
        filter: &Query,
    ) -> Result<Vec<R>> {
        let call = self.filtered_call(Method::DELETE, table, filter, None, true)?;
        decode(table, &self.send(&call).await?)
    }

    /// `POST /rpc/function` with named arguments. Never retried: a function may have side effects.
    pub async fn rpc<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        function: &str,
        args: &A,
    ) -> Result<R> {
        self.rpc_call(function, args, false).await
    }

    /// Like [`Client::rpc`], retried on transient failures: only for functions safe to run twice.
    pub async fn rpc_idempotent<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        function: &str,
        args: &A,
    ) -> Result<R> {
        self.rpc_call(function, args, true).await
    }

    async fn rpc_call<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        function: &str,
        args: &A,
        idempotent: bool,
    ) -> Result<R> {
        let call = Call {
            method: Method::POST,
            path: format!("rpc/{function}"),
            query: String::new(),
            body: Some(to_json(args)?),
            prefer: vec![],
            idempotent,
        };
        decode(&call.path, &self.send(&call).await?)
    }
}
