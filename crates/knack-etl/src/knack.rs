//! Knack as a [`Source`]: a container's records, page by page.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use knack_client::{Client, Container, Record, RecordsQuery};

use crate::stage::{BatchStream, Source};
use crate::Error;

/// The records of one Knack container, one batch per Knack page.
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
}
