//! Reads: `GET /resource/{id}.json` pages as a `Stream` of rows.
//!
//! SODA results have no implicit order, so every page carries `$order` (`:id` by default, or
//! the caller's order with `:id` as a tiebreaker) and pages advance by `$offset`. The stream ends
//! on a short page or when the query's `$limit` is reached. [`Client::pages_by_key`] pages by
//! keyset on a unique column instead, for a read that must neither skip nor repeat a row while
//! others write.

use futures::future;
use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use knack_services_core::{paginate, Idempotency};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::client::{check_dataset_id, Client};
use crate::{ident, literal, Error, Query, Result, Row};

/// Where the next page starts: the page token of the shared page stream.
#[derive(Clone, Copy)]
struct NextPage {
    offset: u64,
    /// Rows still wanted under the query's own `$limit`, if it has one.
    remaining: Option<u64>,
}

impl Client {
    /// Streams the rows matching `query` as JSON objects (null fields are absent, numbers arrive
    /// as strings: that is how SODA 2 answers).
    pub fn rows(
        &self,
        dataset: &str,
        query: Query,
    ) -> impl Stream<Item = Result<Row>> + Send + 'static {
        self.rows_as::<Row>(dataset, query)
    }

    /// Streams the rows matching `query`, each deserialised into `T`.
    pub fn rows_as<T>(
        &self,
        dataset: &str,
        query: Query,
    ) -> impl Stream<Item = Result<T>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.pages_as::<T>(dataset, query)
            .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
            .try_flatten()
    }

    /// How many rows the dataset holds: one request, `$select=count(*)`. SODA answers the count
    /// as text in a one-row array (`[{"count": "42"}]`; older endpoints name the column
    /// `count_1`), so the row's only value is read, whatever its name.
    ///
    /// # Errors
    /// As [`Client::rows`]; [`Error::Decode`] when the answer holds no count.
    pub async fn count(&self, dataset: &str) -> Result<u64> {
        self.count_matching(dataset, &Query::new()).await
    }

    /// How many rows match `query`'s `$where` (and `$q`): one request,
    /// `$select=count(*)&$where=...`, instead of reading every matching row.
    ///
    /// ```no_run
    /// # async fn run(client: socrata_client::Client) -> socrata_client::Result<()> {
    /// use socrata_client::Query;
    /// let phb = client.count_matching("p53x-x73x", &Query::new().where_eq("signal_type", "PHB")).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Client::count`].
    pub async fn count_matching(&self, dataset: &str, query: &Query) -> Result<u64> {
        check_dataset_id(dataset)?;
        let mut url = self.url(&format!("resource/{dataset}.json"));
        url.query_pairs_mut().extend_pairs(query.count_params());
        let op = format!("count of {dataset}");
        let body = self
            .send(&op, Method::GET, url, None, Idempotency::Idempotent)
            .await?;
        let rows: Vec<Row> = serde_json::from_slice(&body).map_err(|e| Error::Decode {
            operation: op.clone(),
            message: e.to_string(),
        })?;
        let value = rows.first().and_then(|row| row.values().next());
        let count = match value {
            Some(serde_json::Value::String(text)) => text.parse().ok(),
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        count.ok_or_else(|| Error::Decode {
            operation: op,
            message: format!(
                "no count in the answer ({})",
                String::from_utf8_lossy(&body)
            ),
        })
    }

    /// Streams whole pages (one `Vec` per request), for callers that write in batches.
    pub fn pages_as<T>(
        &self,
        dataset: &str,
        query: Query,
    ) -> impl Stream<Item = Result<Vec<T>>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        let dataset = dataset.to_string();
        let page_size = u64::from(self.inner.page_size);
        let first = NextPage {
            offset: query.start_offset(),
            remaining: query.total_limit(),
        };
        paginate((), move |(), token: Option<NextPage>| {
            let (client, dataset, query) = (client.clone(), dataset.clone(), query.clone());
            async move {
                let at = token.unwrap_or(first);
                if at.remaining == Some(0) {
                    return Ok((Vec::new(), (), None));
                }
                let limit = at.remaining.map_or(page_size, |r| r.min(page_size));
                let params = query.page_params(limit, at.offset);
                let page: Vec<T> = client.page(&dataset, params).await?;
                let got = page.len() as u64;
                // A short page is the last one.
                let next = (got >= limit).then(|| NextPage {
                    offset: at.offset + got,
                    remaining: at.remaining.map(|r| r.saturating_sub(got)),
                });
                Ok((page, (), next))
            }
        })
        // An empty answer (or a `$limit` of 0) ends the stream without yielding a page.
        .try_filter(|page| future::ready(!page.is_empty()))
        .boxed()
    }

    /// Streams whole pages of the rows matching `query`, paging by keyset on `key`, a unique
    /// text column (the row identifier): each request asks for the rows whose `key` is above the
    /// last one read (`$where=(…) AND key > 'last'`, `$order=key`, `$offset=0`). Rows deleted or
    /// added during the read then shift no other row out of it or into it twice, as `$offset`
    /// paging can. `query` must not set an order, limit or offset.
    ///
    /// # Errors
    /// As [`Client::rows`]; [`Error::Decode`] when a full page's last row has no text `key` to go
    /// on from.
    pub fn pages_by_key(
        &self,
        dataset: &str,
        query: Query,
        key: &str,
    ) -> impl Stream<Item = Result<Vec<Row>>> + Send + 'static {
        let client = self.clone();
        let (dataset, key) = (dataset.to_string(), key.to_string());
        let page_size = u64::from(self.inner.page_size);
        let query = query.order(ident(&key));
        paginate((), move |(), last: Option<String>| {
            let (client, dataset, key) = (client.clone(), dataset.clone(), key.clone());
            let mut query = query.clone();
            async move {
                if let Some(last) = &last {
                    query = query.and_where(format!("{} > {}", ident(&key), literal(last)));
                }
                let page: Vec<Row> = client
                    .page(&dataset, query.page_params(page_size, 0))
                    .await?;
                // A short page is the last one.
                let next = if (page.len() as u64) < page_size {
                    None
                } else {
                    let after = page
                        .last()
                        .and_then(|row| row.get(&key))
                        .and_then(|v| v.as_str());
                    match after {
                        Some(after) => Some(after.to_string()),
                        None => {
                            return Err(Error::Decode {
                                operation: format!("read of {dataset}"),
                                message: format!(
                                    "the last row of a full page has no text `{key}` to page on"
                                ),
                            })
                        }
                    }
                };
                Ok((page, (), next))
            }
        })
        .try_filter(|page| future::ready(!page.is_empty()))
        .boxed()
    }

    /// One page: `GET /resource/{dataset}.json` with `params`, its rows read into `T`.
    async fn page<T: DeserializeOwned>(
        &self,
        dataset: &str,
        params: Vec<(&'static str, String)>,
    ) -> Result<Vec<T>> {
        check_dataset_id(dataset)?;
        let mut url = self.url(&format!("resource/{dataset}.json"));
        url.query_pairs_mut().extend_pairs(params);
        let op = format!("read of {dataset}");
        let body = self
            .send(&op, Method::GET, url, None, Idempotency::Idempotent)
            .await?;
        // A 200 with an empty body is SODA's "no rows" (soda-ruby records one,
        // test/resources/empty_body.response), not a malformed answer.
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            operation: op,
            message: e.to_string(),
        })
    }
}
