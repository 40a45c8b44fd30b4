//! A layer or table: queries and paging.

use futures::{Stream, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{Client, Idempotency};
use crate::error::Error;
use crate::response::decode;
use crate::types::{Feature, LayerInfo, WGS84};

/// Page size used when a layer does not state its `maxRecordCount` (restjs does the same).
const FALLBACK_PAGE_SIZE: u32 = 2000;

/// An open layer or table: its URL, its info, and the client to reach it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Layer {
    pub(crate) client: Client,
    pub(crate) url: String,
    pub(crate) info: LayerInfo,
}

/// A query against a layer. Defaults: `where=1=1`, all fields, geometry in wkid 4326.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    where_clause: String,
    out_fields: Vec<String>,
    return_geometry: bool,
    out_sr: Option<i64>,
    object_ids: Vec<i64>,
    order_by: Option<String>,
    page_size: Option<u32>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            where_clause: "1=1".into(),
            out_fields: Vec::new(),
            return_geometry: true,
            out_sr: Some(WGS84),
            object_ids: Vec::new(),
            order_by: None,
            page_size: None,
        }
    }
}

impl Query {
    /// Everything: `where=1=1`, `outFields=*`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The SQL `where` clause, e.g. `id IN ('a','b')`, replacing the earlier one. A blank clause
    /// means every row (`1=1`): ArcGIS refuses an empty `where` with a 400. Quote values with
    /// [`sql_quote`](crate::sql_quote).
    pub fn where_clause(mut self, clause: impl Into<String>) -> Self {
        let clause = clause.into();
        self.where_clause = if clause.trim().is_empty() {
            "1=1".into()
        } else {
            clause
        };
        self
    }

    /// Adds a condition with `AND`. Both sides are parenthesised, so an `OR` in either cannot
    /// bind across the `AND`: `where_clause("a = 1 OR b = 2").and_where("c = 3")` is
    /// `(a = 1 OR b = 2) AND (c = 3)`. The default `1=1` is simply replaced.
    pub fn and_where(mut self, condition: impl AsRef<str>) -> Self {
        let c = condition.as_ref().trim();
        if c.is_empty() {
            return self;
        }
        self.where_clause = if self.where_clause == "1=1" {
            c.to_string()
        } else {
            format!("({}) AND ({c})", self.where_clause)
        };
        self
    }

    /// Only these fields (empty means `*`).
    pub fn out_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.out_fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Whether to return geometries (default true).
    pub fn return_geometry(mut self, yes: bool) -> Self {
        self.return_geometry = yes;
        self
    }

    /// Spatial reference of returned geometries (default 4326; `None` keeps the layer's own).
    pub fn out_sr(mut self, wkid: Option<i64>) -> Self {
        self.out_sr = wkid;
        self
    }

    /// Only these object ids.
    pub fn object_ids(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.object_ids = ids.into_iter().collect();
        self
    }

    /// `orderByFields` (default: the object id field, so pages are stable).
    pub fn order_by(mut self, fields: impl Into<String>) -> Self {
        self.order_by = Some(fields.into());
        self
    }

    /// Rows per page (capped at the layer's `maxRecordCount`, which is the default).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n.max(1));
        self
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("where", self.where_clause.clone()),
            (
                "outFields",
                if self.out_fields.is_empty() {
                    "*".to_string()
                } else {
                    self.out_fields.join(",")
                },
            ),
            ("returnGeometry", self.return_geometry.to_string()),
        ];
        if let Some(sr) = self.out_sr {
            p.push(("outSR", sr.to_string()));
        }
        if !self.object_ids.is_empty() {
            p.push(("objectIds", join_ids(&self.object_ids)));
        }
        p
    }
}

pub(crate) fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct QueryPage {
    /// The features of this page.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// True when more rows match than this page holds: ask again from a higher `resultOffset`.
    #[serde(rename = "exceededTransferLimit", default)]
    pub exceeded_transfer_limit: bool,
}

#[derive(Deserialize)]
struct IdsResponse {
    #[serde(rename = "objectIds", default)]
    object_ids: Option<Vec<i64>>,
}

impl Layer {
    pub(crate) fn new(client: Client, url: String, info: LayerInfo) -> Self {
        Layer { client, url, info }
    }

    /// The layer URL (`.../FeatureServer/{id}`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the service said about this layer when it was opened.
    pub fn info(&self) -> &LayerInfo {
        &self.info
    }

    /// The page size paging uses: `maxRecordCount`, or 2000 when the layer does not say.
    pub fn max_record_count(&self) -> u32 {
        self.info
            .max_record_count
            .filter(|n| *n > 0)
            .unwrap_or(FALLBACK_PAGE_SIZE)
    }

    pub(crate) fn endpoint(&self, op: &str) -> String {
        format!("{}/{op}", self.url)
    }

    /// One page from `offset`. Use [`Layer::features`] to read everything.
    pub async fn query_page(&self, query: &Query, offset: u64) -> Result<QueryPage, Error> {
        let mut params = query.params();
        let size = query
            .page_size
            .unwrap_or(u32::MAX)
            .min(self.max_record_count());
        if let Some(order) = query
            .order_by
            .clone()
            .or_else(|| self.info.object_id_field().map(str::to_string))
        {
            params.push(("orderByFields", order));
        }
        if self.info.advanced_query_capabilities.supports_pagination || offset > 0 {
            params.push(("resultOffset", offset.to_string()));
            params.push(("resultRecordCount", size.to_string()));
        }
        let body = self
            .client
            .post(
                "query",
                &self.endpoint("query"),
                &params,
                Idempotency::Idempotent,
            )
            .await?;
        decode("query", body)
    }

    /// Every page of a query, requested one after another while the service sets
    /// `exceededTransferLimit` (never by comparing row counts with the page size).
    ///
    /// A layer with an object id field is paged by keyset on it: each request asks for the
    /// object ids above the last one read (`where … AND OBJECTID > n`, `orderByFields=OBJECTID`),
    /// so a feature deleted or added while the read is under way cannot shift another out of the
    /// result or into it twice, as `resultOffset` paging can (the object id is asked for even
    /// when `out_fields` leaves it out, and then left out of the features). A query with its own
    /// [`Query::order_by`], or a layer without an object id field, is paged on `resultOffset`.
    pub fn pages(&self, query: Query) -> impl Stream<Item = Result<Vec<Feature>, Error>> + Send {
        let oid = self.info.object_id_field().map(str::to_string);
        match oid.filter(|_| query.order_by.is_none()) {
            Some(oid) => futures::future::Either::Left(self.pages_by_object_id(query, oid)),
            None => futures::future::Either::Right(self.pages_by_offset(query)),
        }
    }

    fn pages_by_object_id(
        &self,
        mut query: Query,
        oid: String,
    ) -> impl Stream<Item = Result<Vec<Feature>, Error>> + Send {
        // The object id is asked for when the fields are listed without it, and taken out of
        // the features again: the caller gets the fields it listed.
        let added = !query.out_fields.is_empty()
            && !query
                .out_fields
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&oid));
        if added {
            query.out_fields.push(oid.clone());
        }
        let layer = self.clone();
        knack_services_core::paginate(layer, move |layer: Layer, last: Option<i64>| {
            let (oid, mut query) = (oid.clone(), query.clone());
            async move {
                if let Some(last) = last {
                    query = query.and_where(format!("{oid} > {last}"));
                }
                let page = layer.query_page(&query, 0).await?;
                let next = if page.exceeded_transfer_limit {
                    let highest = page.features.iter().filter_map(|f| f.integer(&oid)).max();
                    match highest {
                        Some(high) if last.is_none_or(|l| high > l) => Some(high),
                        _ => {
                            return Err(Error::Decode {
                                operation: "query".into(),
                                message: format!(
                                    "exceededTransferLimit is true but the page holds no {oid} \
                                     above {} to go on from",
                                    last.unwrap_or_default()
                                ),
                            })
                        }
                    }
                } else {
                    None
                };
                let mut features = page.features;
                if added {
                    for feature in &mut features {
                        feature.attributes.remove(&oid);
                    }
                }
                Ok((features, layer, next))
            }
        })
    }

    fn pages_by_offset(
        &self,
        query: Query,
    ) -> impl Stream<Item = Result<Vec<Feature>, Error>> + Send {
        let layer = self.clone();
        knack_services_core::paginate(layer, move |layer: Layer, offset: Option<u64>| {
            let query = query.clone();
            async move {
                let offset = offset.unwrap_or(0);
                let page = layer.query_page(&query, offset).await?;
                let next = if page.exceeded_transfer_limit {
                    if page.features.is_empty() {
                        return Err(Error::Decode {
                            operation: "query".into(),
                            message: format!(
                                "exceededTransferLimit is true but the page at offset {offset} is empty"
                            ),
                        });
                    }
                    if !layer.info.advanced_query_capabilities.supports_pagination {
                        tracing::warn!(url = %layer.url, "layer does not advertise supportsPagination; paging anyway");
                    }
                    Some(offset + page.features.len() as u64)
                } else {
                    None
                };
                Ok((page.features, layer, next))
            }
        })
    }

    /// Every feature of a query, as a stream (see [`Layer::pages`] for how it pages).
    pub fn features(&self, query: Query) -> impl Stream<Item = Result<Feature, Error>> + Send {
        self.pages(query)
            .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok)))
            .try_flatten()
    }

    /// The object ids matching a query (`returnIdsOnly=true`; not paged by the service).
    pub async fn object_ids(&self, query: &Query) -> Result<Vec<i64>, Error> {
        let mut params = query.params();
        params.push(("returnIdsOnly", "true".into()));
        let body = self
            .client
            .post(
                "query (ids)",
                &self.endpoint("query"),
                &params,
                Idempotency::Idempotent,
            )
            .await?;
        let ids: IdsResponse = decode("query (ids)", body)?;
        Ok(ids.object_ids.unwrap_or_default())
    }

    /// How many rows match a query (`returnCountOnly=true`).
    pub async fn count(&self, query: &Query) -> Result<u64, Error> {
        let mut params = query.params();
        params.push(("returnCountOnly", "true".into()));
        let body = self
            .client
            .post(
                "query (count)",
                &self.endpoint("query"),
                &params,
                Idempotency::Idempotent,
            )
            .await?;
        body.get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::Decode {
                operation: "query (count)".into(),
                message: "no `count` in the response".into(),
            })
    }
}

#[cfg(test)]
mod where_tests {
    use super::Query;

    fn sent(q: &Query) -> String {
        q.params()
            .into_iter()
            .find(|(k, _)| *k == "where")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    #[test]
    fn every_and_combination_parenthesises_both_sides() {
        let or = "a = 1 OR b = 2";
        assert_eq!(
            sent(&Query::new().where_clause(or).and_where("c = 'x'")),
            "(a = 1 OR b = 2) AND (c = 'x')"
        );
        assert_eq!(
            sent(&Query::new().and_where(or).and_where("c = 3 OR d = 4")),
            "(a = 1 OR b = 2) AND (c = 3 OR d = 4)"
        );
        assert_eq!(
            sent(&Query::new().and_where("c = 3").where_clause(or)),
            or,
            "where_clause replaces"
        );
        assert_eq!(sent(&Query::new().and_where(or)), or);
        assert_eq!(
            sent(
                &Query::new()
                    .and_where("a = 1")
                    .and_where("b = 2")
                    .and_where("c = 3")
            ),
            "((a = 1) AND (b = 2)) AND (c = 3)"
        );
    }

    #[test]
    fn a_blank_where_means_every_row() {
        assert_eq!(sent(&Query::new()), "1=1");
        assert_eq!(sent(&Query::new().where_clause("  ")), "1=1");
        assert_eq!(
            sent(&Query::new().where_clause("a = 1").and_where("")),
            "a = 1"
        );
    }
}
