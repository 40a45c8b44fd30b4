//! Reading records: a query, and paging as a `Stream`.

use std::future::Future;

use futures::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::client::{Auth, Call};
use crate::prefetch::Prefetch;
use crate::record::RawRecord;
use crate::{Client, Container, Error, Filter, Record, Result};

/// Knack's largest page.
pub const MAX_ROWS_PER_PAGE: u32 = 1000;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// What to read from a container: page size, filter, sort, limit.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordsQuery {
    rows_per_page: u32,
    filter: Option<Filter>,
    sort: Option<(String, SortOrder)>,
    limit: Option<usize>,
}

impl Default for RecordsQuery {
    fn default() -> Self {
        Self {
            rows_per_page: MAX_ROWS_PER_PAGE,
            filter: None,
            sort: None,
            limit: None,
        }
    }
}

impl RecordsQuery {
    /// Every record, 1000 per page (the fewest requests).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records per page, 1 to 1000 (checked when the stream starts).
    pub fn rows_per_page(mut self, n: u32) -> Self {
        self.rows_per_page = n;
        self
    }

    /// Only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sorts on a field (`sort_field` / `sort_order`).
    pub fn sort(mut self, field_key: impl Into<String>, order: SortOrder) -> Self {
        self.sort = Some((field_key.into(), order));
        self
    }

    /// Stops after `n` records (fewer pages are fetched when `n` is small).
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    fn params(&self, page: u32) -> Vec<(&'static str, String)> {
        let rows = match self.limit {
            Some(l) if (l as u64) < u64::from(self.rows_per_page) => l.max(1) as u32,
            _ => self.rows_per_page,
        };
        let mut q = vec![
            ("rows_per_page", rows.to_string()),
            ("page", page.to_string()),
        ];
        if let Some(f) = &self.filter {
            q.push(("filters", f.to_json_string()));
        }
        if let Some((field, order)) = &self.sort {
            q.push(("sort_field", field.clone()));
            q.push((
                "sort_order",
                if *order == SortOrder::Asc {
                    "asc"
                } else {
                    "desc"
                }
                .into(),
            ));
        }
        q
    }
}

/// One page of records, with Knack's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The page number, from 1.
    pub number: u32,
    /// Knack's `total_pages`.
    pub total_pages: u32,
    /// Knack's `total_records`: an estimate, Knack sometimes delivers fewer.
    pub total_records: u64,
    /// The records of the page, untouched.
    pub records: Vec<Record>,
}

/// One page of records as the JSON texts Knack sent (see [`Client::raw_pages`]).
#[derive(Debug, Clone)]
pub struct RawPage {
    /// The page number, from 1.
    pub number: u32,
    /// Knack's `total_pages`.
    pub total_pages: u32,
    /// Knack's `total_records`: an estimate, Knack sometimes delivers fewer.
    pub total_records: u64,
    /// The size of Knack's answer in bytes, which the records' texts take about as much of:
    /// what a reader bounds its read-ahead by.
    pub bytes: usize,
    /// The records of the page, byte for byte.
    pub records: Vec<RawRecord>,
}

/// What paging needs to know of a page.
trait Paged: Send + 'static {
    fn total_pages(&self) -> u32;
    fn is_empty(&self) -> bool;
}

impl Paged for Page {
    fn total_pages(&self) -> u32 {
        self.total_pages
    }
    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl Paged for RawPage {
    fn total_pages(&self) -> u32 {
        self.total_pages
    }
    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[derive(Deserialize)]
struct Envelope<R> {
    #[serde(default, deserialize_with = "lenient_u64")]
    total_pages: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    total_records: u64,
    records: Vec<R>,
}

/// Knack has been seen sending counters as strings; accept both.
fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

impl Client {
    /// The records of a container, in Knack's order, as a stream.
    ///
    /// Page 1 is fetched first to learn `total_pages`; the rest are fetched ahead of the
    /// consumer, up to `page_concurrency` pages and `read_ahead_bytes` at a time
    /// ([`ClientBuilder::read_ahead_bytes`](crate::ClientBuilder::read_ahead_bytes)), and
    /// yielded in order. Paging stops at `total_pages` or on the first empty page, whichever
    /// comes first (`total_records` is only an estimate; knackpy looped forever on it once). The
    /// stream ends after the first error.
    pub fn records(
        &self,
        container: &Container,
        query: RecordsQuery,
    ) -> impl Stream<Item = Result<Record>> + Send + 'static {
        let limit = query.limit.unwrap_or(usize::MAX);
        self.pages(container, query)
            .map_ok(|p| stream::iter(p.records.into_iter().map(Ok)))
            .try_flatten()
            .take(limit)
    }

    /// The pages of a container (see [`Client::records`]); empty pages are
    /// not yielded.
    pub fn pages(
        &self,
        container: &Container,
        query: RecordsQuery,
    ) -> impl Stream<Item = Result<Page>> + Send + 'static {
        self.paged(container, query, |client, container, query, n| async move {
            let (bytes, env) = client.envelope(&container, &query, n).await?;
            let page = Page {
                number: n,
                total_pages: env.pages(),
                total_records: env.total_records,
                records: env.records.into_iter().map(Record::new).collect(),
            };
            Ok((bytes, page))
        })
    }

    /// The pages of a container like [`Client::pages`], each record kept as the JSON text
    /// Knack sent with only its id read: for copying records untouched, at a fraction of the
    /// cost of building [`Record`]s.
    pub fn raw_pages(
        &self,
        container: &Container,
        query: RecordsQuery,
    ) -> impl Stream<Item = Result<RawPage>> + Send + 'static {
        self.paged(container, query, |client, container, query, n| async move {
            let (bytes, env) = client.envelope(&container, &query, n).await?;
            let page = RawPage {
                number: n,
                total_pages: env.pages(),
                total_records: env.total_records,
                bytes,
                records: env.records,
            };
            Ok((bytes, page))
        })
    }

    /// Page 1, then the rest fetched ahead (up to `page_concurrency` pages and
    /// `read_ahead_bytes`, see [`Prefetch`]), in order, until `total_pages`, an empty page or an
    /// error.
    fn paged<P, F, Fut>(
        &self,
        container: &Container,
        query: RecordsQuery,
        fetch: F,
    ) -> impl Stream<Item = Result<P>> + Send + 'static
    where
        P: Paged,
        F: Fn(Client, Container, RecordsQuery, u32) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(usize, P)>> + Send + 'static,
    {
        let client = self.clone();
        let container = container.clone();
        let max_pages = query
            .limit
            .map(|l| l.div_ceil(query.rows_per_page.max(1) as usize).max(1));
        let first = {
            let (client, container, query) = (client.clone(), container.clone(), query.clone());
            let fetch = fetch.clone();
            async move {
                if !(1..=MAX_ROWS_PER_PAGE).contains(&query.rows_per_page) {
                    return Err(Error::InvalidQuery(format!(
                        "rows_per_page is {}: Knack serves 1 to {MAX_ROWS_PER_PAGE} records per page",
                        query.rows_per_page
                    )));
                }
                fetch(client, container, query, 1).await
            }
        };
        stream::once(first)
            .map(move |first| -> BoxStream<'static, Result<P>> {
                let (p1_bytes, p1) = match first {
                    Ok(p) => p,
                    Err(e) => return stream::iter([Err(e)]).boxed(),
                };
                let mut last = p1.total_pages().max(1);
                if let Some(m) = max_pages {
                    last = last.min(u32::try_from(m).unwrap_or(u32::MAX));
                }
                let (concurrency, budget) =
                    (client.inner.page_concurrency, client.inner.read_ahead_bytes);
                let (client, container, query) = (client.clone(), container.clone(), query.clone());
                let fetch = fetch.clone();
                let rest = Prefetch::new(2, last, concurrency, budget, p1_bytes, move |n| {
                    fetch(client.clone(), container.clone(), query.clone(), n)
                });
                stream::iter([Ok(p1)]).chain(rest).boxed()
            })
            .flatten()
            // Stop on the first empty page and after the first error.
            .scan(false, |done, item| {
                if *done {
                    return futures::future::ready(None);
                }
                let keep = match &item {
                    Ok(p) if p.is_empty() => None,
                    Ok(_) => Some(item),
                    Err(_) => {
                        *done = true;
                        Some(item)
                    }
                };
                futures::future::ready(keep)
            })
    }

    /// One page's answer decoded as an envelope of `R`, and its size in bytes.
    async fn envelope<R: DeserializeOwned>(
        &self,
        container: &Container,
        query: &RecordsQuery,
        number: u32,
    ) -> Result<(usize, Envelope<R>)> {
        let path = container.records_path();
        let body = self
            .execute_bytes(&Call {
                method: Method::GET,
                path: path.clone(),
                query: query.params(number),
                body: None,
                auth: auth_for(container),
                idempotency: knack_services_core::Idempotency::Idempotent,
            })
            .await?;
        let env = serde_json::from_slice(&body).map_err(|e| Error::Decode {
            path,
            message: format!("not a page of records ({e})"),
        })?;
        Ok((body.len(), env))
    }
}

impl<R> Envelope<R> {
    fn pages(&self) -> u32 {
        u32::try_from(self.total_pages).unwrap_or(u32::MAX)
    }
}

pub(crate) fn auth_for(container: &Container) -> Auth {
    match container {
        Container::Object { .. } => Auth::Object,
        Container::View { .. } => Auth::View,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Operator, Rule};

    #[test]
    fn params_carry_paging_filters_and_sort() {
        let q = RecordsQuery::new()
            .rows_per_page(500)
            .filter(Filter::and([Rule::new("field_1", Operator::Is, "x")]))
            .sort("field_2", SortOrder::Desc);
        let p = q.params(3);
        assert_eq!(p[0], ("rows_per_page", "500".into()));
        assert_eq!(p[1], ("page", "3".into()));
        assert_eq!(
            p[2].1,
            r#"{"match":"and","rules":[{"field":"field_1","operator":"is","value":"x"}]}"#
        );
        assert_eq!(p[3], ("sort_field", "field_2".into()));
        assert_eq!(p[4], ("sort_order", "desc".into()));
        // A small limit asks for a small page.
        assert_eq!(RecordsQuery::new().limit(7).params(1)[0].1, "7");
    }
}
