//! [`AgolTarget`]: an ArcGIS Online destination and the original's per-container options, with
//! the defaults the original used.

use agol_client::LayerSelector;

/// An ArcGIS Online destination and the original's per-container options.
#[derive(Debug, Clone)]
pub struct AgolTarget {
    /// The item id of the feature service (`service_id`).
    pub service_id: String,
    /// Which layer or table (`layer_id` + `item_type`).
    pub selector: LayerSelector,
    /// The attribute features are matched on (`upsert_matching_field`, default `id`).
    pub matching_field: String,
    /// Features per `applyEdits` call ([`AgolTarget::DEFAULT_BATCH_SIZE`] unless asked).
    pub batch_size: usize,
    /// The other containers (ids) of the same app that publish to this layer; see
    /// [`SocrataTarget::shared_with`](crate::socrata::SocrataTarget::shared_with). Needs
    /// `matching_field` = `id` for a full replace.
    pub shared_with: Vec<String>,
}

impl AgolTarget {
    /// Features per `applyEdits` call when nothing else is asked: the original sent 50 adds per
    /// call.
    pub const DEFAULT_BATCH_SIZE: usize = 50;

    /// The layer or table `selector` of item `service_id`, matched on `matching_field`, in
    /// batches of [`AgolTarget::DEFAULT_BATCH_SIZE`], shared with no other container.
    pub fn new(
        service_id: impl Into<String>,
        selector: LayerSelector,
        matching_field: impl Into<String>,
    ) -> Self {
        Self {
            service_id: service_id.into(),
            selector,
            matching_field: matching_field.into(),
            batch_size: Self::DEFAULT_BATCH_SIZE,
            shared_with: Vec::new(),
        }
    }
}
