//! Reading the staging store: the staged records of a container as a [`Source`], and their ids.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use knack_client::{RawRecord, Record};
use pgrest_client::{Client, Keyset, Query};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::tables::RECORDS_TABLE;
use crate::engine::{BatchStream, Source};
use crate::Error;

/// The Knack record ids staged for `container_id` of `app_id`, page by page (ids only).
///
/// A replace of a destination that several containers publish to keeps every record one of
/// them still has: this is how it knows.
pub(crate) async fn record_ids(
    client: &Client,
    app_id: &str,
    container_id: &str,
) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Row {
        record_id: String,
    }
    let query = Query::new()
        .select("id,record_id")
        .eq("app_id", app_id)
        .eq("container_id", container_id);
    let mut pages = Box::pin(client.select_pages::<Row>(
        RECORDS_TABLE,
        query,
        Keyset::on("id").page_size(10_000),
    ));
    let mut ids = Vec::new();
    while let Some(page) = pages.try_next().await? {
        ids.extend(page.into_iter().map(|r| r.record_id));
    }
    Ok(ids)
}

/// The staged records of one container, optionally only those written on or
/// after an instant, paged by keyset on `id`.
#[derive(Debug, Clone)]
pub struct StagingSource {
    client: Client,
    app_id: String,
    container_id: String,
    since: Option<DateTime<Utc>>,
    page_size: u64,
    only: Option<Vec<String>>,
}

/// Record ids named per request by [`StagingSource::only`]: 200 Knack ids are about 5 kB of
/// URL, well under the 8 kB a proxy in front of PostgREST commonly accepts.
const IDS_PER_REQUEST: usize = 200;

impl StagingSource {
    /// Reads `container_id` of `app_id`; `since` keeps rows whose `updated_at`
    /// (the time they were last written to the store) is on or after it.
    pub fn new(
        client: Client,
        app_id: &str,
        container_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            client,
            app_id: app_id.to_string(),
            container_id: container_id.to_string(),
            since,
            page_size: 1000,
            only: None,
        }
    }

    /// Reads only the staged records with these Knack ids (`record_id=in.(…)`, 200 ids per
    /// request): the records a destination was found to lack. `since` still applies.
    pub fn only(mut self, record_ids: Vec<String>) -> Self {
        self.only = Some(record_ids);
        self
    }

    /// Rows per request (default 1000).
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = n;
        self
    }

    /// The container's rows (written on or after `since`, among `only`), `id` and `record`,
    /// page by page, each row read into `R`.
    fn pages<R: serde::de::DeserializeOwned + Send + 'static>(
        &self,
    ) -> impl futures::Stream<Item = Result<Vec<R>, pgrest_client::Error>> + Send + 'static {
        let mut query = Query::new()
            .select("id,record")
            .eq("app_id", self.app_id.as_str())
            .eq("container_id", self.container_id.as_str());
        if let Some(since) = self.since {
            query = query.gte("updated_at", since.to_rfc3339());
        }
        let queries: Vec<Query> = match &self.only {
            None => vec![query],
            Some(ids) => ids
                .chunks(IDS_PER_REQUEST)
                .map(|chunk| {
                    query
                        .clone()
                        .in_("record_id", chunk.iter().map(String::as_str))
                })
                .collect(),
        };
        let (client, keyset) = (
            self.client.clone(),
            Keyset::on("id").page_size(self.page_size),
        );
        futures::stream::iter(queries)
            .map(move |query| client.select_pages::<R>(RECORDS_TABLE, query, keyset.clone()))
            .flatten()
    }
}

#[async_trait]
impl Source<Record> for StagingSource {
    fn describe(&self) -> String {
        format!(
            "PostgREST {RECORDS_TABLE} ({} of app {})",
            self.container_id, self.app_id
        )
    }

    async fn batches(&self) -> Result<BatchStream<Record>, Error> {
        #[derive(Deserialize)]
        struct Row {
            record: Map<String, Value>,
        }
        let pages = self
            .pages::<Row>()
            .map_ok(|rows| rows.into_iter().map(|r| Record::new(r.record)).collect())
            .map_err(Error::from);
        Ok(pages.boxed())
    }
}

/// The staged records as the JSON text the store returned, for readers that parse only what
/// they use ([`knack_client::RecordSelector`]): one allocation a record instead of a tree.
#[async_trait]
impl Source<RawRecord> for StagingSource {
    fn describe(&self) -> String {
        <Self as Source<Record>>::describe(self)
    }

    async fn batches(&self) -> Result<BatchStream<RawRecord>, Error> {
        #[derive(Deserialize)]
        struct Row {
            record: RawRecord,
        }
        let pages = self
            .pages::<Row>()
            .map_ok(|rows| rows.into_iter().map(|r| r.record).collect())
            .map_err(Error::from);
        Ok(pages.boxed())
    }
}
