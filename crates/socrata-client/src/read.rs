//! Reads: `GET /resource/{id}.json` pages as a `Stream` of rows.
//!
//! SODA results have no implicit order, so every page carries `$order` (`:id` by default, or
//! the caller's order with `:id` as a tiebreaker) and pages advance by `$offset`. The stream ends
//! on a short page or when the query's `$limit` is reached.

use futures::stream::{self, Stream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::client::{check_dataset_id, Client};
use crate::retry::Idempotency;
use crate::{Error, Query, Result, Row};

struct PageState {
    offset: u64,
    remaining: Option<u64>,
    done: bool,
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
        let init = PageState {
            offset: query.start_offset(),
            remaining: query.total_limit(),
            done: false,
        };
        stream::try_unfold(init, move |state| {
            let client = client.clone();
            let dataset = dataset.clone();
            let query = query.clone();
            async move {
                if state.done || state.remaining == Some(0) {
                    return Ok(None);
                }
                check_dataset_id(&dataset)?;
                let limit = state.remaining.map_or(page_size, |r| r.min(page_size));
                let mut url = client.url(&format!("resource/{dataset}.json"));
                url.query_pairs_mut()
                    .extend_pairs(query.page_params(limit, state.offset));
                let op = format!("read of {dataset}");
                let body = client
                    .send(&op, Method::GET, url, None, Idempotency::Idempotent)
                    .await?;
                let page: Vec<T> = serde_json::from_slice(&body).map_err(|e| Error::Decode {
                    operation: op,
                    message: e.to_string(),
                })?;
                let got = page.len() as u64;
                let next = PageState {
                    offset: state.offset + got,
                    remaining: state.remaining.map(|r| r.saturating_sub(got)),
                    done: got < limit,
                };
                if got == 0 {
                    return Ok(None);
                }
                Ok(Some((page, next)))
            }
        })
        .boxed()
    }
}
