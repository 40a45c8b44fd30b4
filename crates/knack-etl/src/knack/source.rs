//! Knack as a [`Source`]: a container's records, page by page.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use knack_client::{Client, Container, RawRecord, Record, RecordsQuery};

use super::seen::ReadSeen;
use crate::engine::{BatchStream, Source};
use crate::Error;

/// The records of one Knack container, one batch per Knack page: as [`Record`]s, or (through
/// [`KnackSource::raw`]) as the JSON texts Knack sent.
#[derive(Debug, Clone)]
pub struct KnackSource {
    client: Client,
    container: Container,
    query: RecordsQuery,
}

impl KnackSource {
    /// Reads `container` with `query` (filters, page size).
    pub fn new(client: Client, container: Container, query: RecordsQuery) -> Self {
        Self {
            client,
            container,
            query,
        }
    }

    /// The same records as the JSON texts Knack sent, with only their ids read.
    pub fn raw(self) -> RawKnackSource {
        RawKnackSource {
            source: self,
            seen: None,
        }
    }
}

/// A [`KnackSource`] whose records stay the JSON text Knack sent ([`RawRecord`]): what a copy
/// that never looks inside the records (Knack → PostgREST) reads.
#[derive(Debug, Clone)]
pub struct RawKnackSource {
    source: KnackSource,
    /// Where the read's pages are noted, when a replace needs to know what the read saw.
    seen: Option<Arc<Mutex<ReadSeen>>>,
}

impl RawKnackSource {
    /// Notes every page of the read in `seen` (its counters and ids).
    pub(crate) fn observed(mut self, seen: Arc<Mutex<ReadSeen>>) -> Self {
        self.seen = Some(seen);
        self
    }
}

#[async_trait]
impl Source<RawRecord> for RawKnackSource {
    fn describe(&self) -> String {
        self.source.describe()
    }

    async fn batches(&self) -> Result<BatchStream<RawRecord>, Error> {
        let KnackSource {
            client,
            container,
            query,
        } = &self.source;
        let seen = self.seen.clone();
        let pages = client
            .raw_pages(container, query.clone())
            .map_ok(move |page| {
                if let Some(seen) = &seen {
                    seen.lock().unwrap_or_else(|e| e.into_inner()).page(&page);
                }
                page.records
            })
            .map_err(Error::from);
        Ok(pages.boxed())
    }

    fn read_ahead_bytes(&self) -> usize {
        self.source.client.read_ahead_bytes()
    }
}

#[async_trait]
impl Source<Record> for KnackSource {
    fn describe(&self) -> String {
        format!("Knack {} of app {}", self.container, self.client.app_id())
    }

    async fn batches(&self) -> Result<BatchStream<Record>, Error> {
        let pages = self
            .client
            .pages(&self.container, self.query.clone())
            .map_ok(|page| page.records)
            .map_err(Error::from);
        Ok(pages.boxed())
    }

    fn read_ahead_bytes(&self) -> usize {
        self.client.read_ahead_bytes()
    }
}
