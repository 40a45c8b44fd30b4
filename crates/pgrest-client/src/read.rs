//! Reads: one request, or many rows as a keyset-paged stream.

use futures::stream::{self, Stream, TryStreamExt};
use knack_services_core::paginate;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::client::{Call, Client};
use crate::error::{Error, Result};
use crate::query::{encode, FilterValue, Query};

/// Keyset paging settings: the unique, ordered column to page on and the rows asked for per request.
///
/// Paging by keyset (`id=gt.<last id>&order=id.asc&limit=N`) instead of offset means rows written during
/// the read are neither skipped nor read twice, and each page costs an index seek, not a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    column: String,
    page_size: u64,
}

impl Keyset {
    /// Pages on `column`, which must be unique and not null (the staging table's `id`).
    pub fn on(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            page_size: 1000,
        }
    }
    /// Rows asked for per request (default 1000). The server's `db-max-rows` may return fewer; paging
    /// stays correct either way.
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = n.max(1);
        self
    }
}

impl Default for Keyset {
    fn default() -> Self {
        Self::on("id")
    }
}

struct PageState {
    client: Client,
    table: String,
    query: Query,
    keyset: Keyset,
    last_key: Option<String>,
    /// Smallest short page seen: the server's silent row cap, once learned.
    cap: Option<u64>,
    done: bool,
}

impl Client {
    /// `GET /table?query`: the rows, deserialized into `T`. Retried on transient failures.
    pub async fn select<T: DeserializeOwned>(&self, table: &str, query: &Query) -> Result<Vec<T>> {
        let call = Call {
            method: Method::GET,
            path: table.to_string(),
            query: query.to_query_string(),
            body: None,
            prefer: vec![],
            idempotent: true,
        };
        let answer = self.send(&call).await?;
        serde_json::from_slice(&answer.body).map_err(|source| Error::Decode {
            path: call.path,
            source,
        })
    }

    /// How many rows of `table` match `query`'s filters: one `GET` with `limit=0` and
    /// `Prefer: count=exact`, the total read from `Content-Range` (`*/42`); no row is sent. An
    /// exact count costs PostgreSQL a scan of the matching rows (an index scan when the filters
    /// are indexed), not a transfer.
    ///
    /// # Errors
    /// As [`Client::select`]; [`Error::Decode`] when the answer carries no total.
    pub async fn count(&self, table: &str, query: &Query) -> Result<u64> {
        let call = Call {
            method: Method::GET,
            path: table.to_string(),
            query: query.clone().limit(0).to_query_string(),
            body: None,
            prefer: vec!["count=exact".to_string()],
            idempotent: true,
        };
        let answer = self.send(&call).await?;
        answer
            .content_range
            .as_deref()
            .and_then(|range| range.rsplit_once('/'))
            .and_then(|(_, total)| total.trim().parse().ok())
            .ok_or_else(|| Error::Decode {
                path: call.path,
                source: serde::de::Error::custom(
                    "the answer to a count (Prefer: count=exact) has no total in Content-Range",
                ),
            })
    }

    /// Every row matching `query`, page by page, paging by keyset on `keyset`'s column.
    ///
    /// `query` carries the select and the filters; it must not set order, limit or offset (the stream
    /// sets them). If `query` selects columns, it must include the keyset column.
    pub fn select_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        table: &str,
        query: Query,
        keyset: Keyset,
    ) -> impl Stream<Item = Result<Vec<T>>> + Send + 'static {
        let state = PageState {
            client: self.clone(),
            table: table.to_string(),
            query,
            keyset,
            last_key: None,
            cap: None,
            done: false,
        };
        // The token is "there may be more"; an empty page (the end, reached exactly) is not yielded.
        paginate(state, |mut st: PageState, more: Option<()>| async move {
            if more.is_none() && st.query.has_paging() {
                return Err(Error::Refused(
                    "keyset paging sets its own order and limit: remove order/limit/offset from the query".into(),
                ));
            }
            let rows = st.next_page().await?;
            let next = (!rows.is_empty() && !st.done).then_some(());
            // Each row is read straight from its text into `T`: no tree of values in between.
            let typed = rows
                .iter()
                .map(|row| serde_json::from_str(row.get()))
                .collect::<std::result::Result<Vec<T>, _>>()
                .map_err(|source| Error::Decode {
                    path: st.table.clone(),
                    source,
                })?;
            Ok((typed, st, next))
        })
        .try_filter(|page| futures::future::ready(!page.is_empty()))
    }

    /// Like [`Client::select_pages`], one row at a time.
    pub fn select_stream<T: DeserializeOwned + Send + 'static>(
        &self,
        table: &str,
        query: Query,
        keyset: Keyset,
    ) -> impl Stream<Item = Result<T>> + Send + 'static {
        self.select_pages(table, query, keyset)
            .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
            .try_flatten()
    }
}

impl PageState {
    /// The next page's rows as their JSON texts (a cheap scan of the body), so the caller
    /// parses each once into its own type.
    async fn next_page(&mut self) -> Result<Vec<Box<RawValue>>> {
        let col = self.keyset.column.clone();
        let mut q = self.query.clone();
        if let Some(last) = &self.last_key {
            q = q.gt(&col, last.as_str());
        }
        let mut qs = q.to_query_string();
        if !qs.is_empty() {
            qs.push('&');
        }
        qs.push_str(&format!(
            "order={}.asc&limit={}",
            encode(&col),
            self.keyset.page_size
        ));
        let call = Call {
            method: Method::GET,
            path: self.table.clone(),
            query: qs,
            body: None,
            prefer: vec![],
            idempotent: true,
        };
        let answer = self.client.send(&call).await?;
        let decode_error = |source| Error::Decode {
            path: self.table.clone(),
            source,
        };
        let rows: Vec<Box<RawValue>> =
            serde_json::from_slice(&answer.body).map_err(decode_error)?;
        let n = rows.len() as u64;
        if let Some(last) = rows.last() {
            // Only the last row's key is needed to ask for the next page.
            let last: Map<String, Value> =
                serde_json::from_str(last.get()).map_err(decode_error)?;
            let key = last.get(&col).filter(|v| !v.is_null()).ok_or_else(|| {
                Error::Refused(format!(
                    "keyset column `{col}` is missing or null in rows of `{}`; include it in select \
                     (select: {:?}) and page on a unique, not-null column",
                    self.table,
                    self.query.selected().unwrap_or("*")
                ))
            })?;
            let key = key.to_filter_value();
            if self.last_key.as_deref() == Some(key.as_str()) {
                return Err(Error::Refused(format!(
                    "keyset column `{col}` did not advance; it must be unique and ordered"
                )));
            }
            self.last_key = Some(key);
        }
        // A short page is either the end or the server's silent db-max-rows cap. The first short page
        // teaches the cap; only a page shorter than the cap (or an empty one) proves the end.
        if n < self.keyset.page_size {
            match self.cap {
                Some(cap) if n < cap => self.done = true,
                Some(_) => {}
                None => self.cap = Some(n),
            }
        }
        Ok(rows)
    }
}
