//! Discovery: item id → service → layer or table.

use crate::client::{Client, Idempotency};
use crate::error::Error;
use crate::layer::Layer;
use crate::response::decode;
use crate::types::{Item, LayerInfo, ServiceInfo};

/// Which layer or table of a service to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSelector {
    /// Position in the service's `layers` list (the original's `item.layers[layer_id]`).
    LayerIndex(usize),
    /// Position in the service's `tables` list (the original's `item.tables[layer_id]`).
    TableIndex(usize),
    /// The REST layer id, i.e. the number in `.../FeatureServer/{id}`.
    Id(u32),
}

impl LayerSelector {
    /// The original's config pair: `item_type` (`layer` or `table`) and `layer_id`, which is a
    /// **list index** into the item's layers or tables, not necessarily the REST layer id.
    pub fn from_original(item_type: &str, layer_id: usize) -> Result<Self, Error> {
        match item_type.trim().to_ascii_lowercase().as_str() {
            "layer" => Ok(LayerSelector::LayerIndex(layer_id)),
            "table" => Ok(LayerSelector::TableIndex(layer_id)),
            other => Err(Error::Config(format!(
                "item_type {other:?} is neither \"layer\" nor \"table\"; fix the container config"
            ))),
        }
    }
}

/// A feature service: its root URL and what it lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// The `.../FeatureServer` root, without a trailing slash.
    pub url: String,
    /// The service JSON.
    pub info: ServiceInfo,
}

impl Service {
    /// The REST layer id a selector points at.
    pub fn layer_id(&self, selector: LayerSelector) -> Result<u32, Error> {
        let pick = |list: &[crate::types::LayerRef], kind: &str, i: usize| {
            list.get(i).map(|l| l.id).ok_or_else(|| {
                Error::NotFound(format!(
                    "the service {} has {} {kind}(s); index {i} does not exist (layer_id is a \
                     0-based list index: fix it in the config, or check item_type)",
                    self.url,
                    list.len()
                ))
            })
        };
        match selector {
            LayerSelector::LayerIndex(i) => pick(&self.info.layers, "layer", i),
            LayerSelector::TableIndex(i) => pick(&self.info.tables, "table", i),
            LayerSelector::Id(id) => self
                .info
                .layers
                .iter()
                .chain(&self.info.tables)
                .find(|l| l.id == id)
                .map(|l| l.id)
                .ok_or_else(|| {
                    let ids: Vec<u32> = self
                        .info
                        .layers
                        .iter()
                        .chain(&self.info.tables)
                        .map(|l| l.id)
                        .collect();
                    Error::NotFound(format!(
                        "the service {} has no layer or table with id {id}; use one of {ids:?}",
                        self.url
                    ))
                }),
        }
    }

    /// The URL of the layer a selector points at.
    pub fn layer_url(&self, selector: LayerSelector) -> Result<String, Error> {
        Ok(format!("{}/{}", self.url, self.layer_id(selector)?))
    }
}

fn validate_url(what: &str, url: &str) -> Result<String, Error> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed)
        .map_err(|e| Error::Config(format!("{what} {trimmed:?} is not a URL ({e})")))?;
    if parsed.query().is_some() {
        return Err(Error::Config(format!(
            "{what} {trimmed:?} must not carry a query string; pass the bare REST URL"
        )));
    }
    Ok(trimmed.to_string())
}

impl Client {
    /// Reads a portal item (`/sharing/rest/content/items/{id}`).
    pub async fn item(&self, item_id: &str) -> Result<Item, Error> {
        let id = item_id.trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::Config(format!(
                "item id {id:?} is not an ArcGIS item id (32 hex characters, e.g. from the item page URL)"
            )));
        }
        let url = format!("{}/sharing/rest/content/items/{id}", self.portal_url());
        let body = self
            .post("item", &url, &[], Idempotency::Idempotent)
            .await?;
        decode("item", body)
    }

    /// Reads a feature service root (`.../FeatureServer`).
    pub async fn service(&self, service_url: &str) -> Result<Service, Error> {
        let url = validate_url("service URL", service_url)?;
        let body = self
            .post("service info", &url, &[], Idempotency::Idempotent)
            .await?;
        Ok(Service {
            info: decode("service info", body)?,
            url,
        })
    }

    /// Resolves an item id to its feature service (the item's `url`) and reads the service.
    pub async fn service_from_item(&self, item_id: &str) -> Result<Service, Error> {
        let item = self.item(item_id).await?;
        let url = item.url.filter(|u| !u.is_empty()).ok_or_else(|| {
            Error::NotFound(format!(
                "item {item_id} ({:?}, type {:?}) has no service URL; is it a Feature Service item?",
                item.title, item.item_type
            ))
        })?;
        self.service(&url).await
    }

    /// Opens a layer or table by its full URL (`.../FeatureServer/{id}`), reading its info.
    pub async fn layer(&self, layer_url: &str) -> Result<Layer, Error> {
        let url = validate_url("layer URL", layer_url)?;
        let body = self
            .post("layer info", &url, &[], Idempotency::Idempotent)
            .await?;
        let info: LayerInfo = decode("layer info", body)?;
        Ok(Layer::new(self.clone(), url, info))
    }

    /// Item id + selector → an open layer: the original's `gis.content.get(id).layers[i]`.
    pub async fn layer_from_item(
        &self,
        item_id: &str,
        selector: LayerSelector,
    ) -> Result<Layer, Error> {
        let service = self.service_from_item(item_id).await?;
        self.layer(&service.layer_url(selector)?).await
    }
}
