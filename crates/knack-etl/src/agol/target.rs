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
    /// Most features per `applyEdits` call ([`AgolTarget::DEFAULT_BATCH_SIZE`] unless asked;
    /// `agol_batch_size` in a container's config). The sink sends fewer when the layer's
    /// `maxRecordCount` is smaller, so that a batch's look-up fits in one `query` page.
    pub batch_size: usize,
    /// Most bytes of feature JSON per `applyEdits` call ([`AgolTarget::DEFAULT_BATCH_BYTES`]
    /// unless asked).
    pub batch_bytes: usize,
    /// How many batches are sent at once ([`AgolTarget::DEFAULT_IN_FLIGHT`] unless asked;
    /// `agol_in_flight` in a container's config), 1 to [`AgolTarget::MAX_IN_FLIGHT`].
    pub in_flight: usize,
    /// The other containers (ids) of the same app that publish to this layer; see
    /// [`SocrataTarget::shared_with`](crate::socrata::SocrataTarget::shared_with). Needs
    /// `matching_field` = `id` for a full replace.
    pub shared_with: Vec<String>,
}

impl AgolTarget {
    /// Features per `applyEdits` call when nothing else is asked: 1,000.
    ///
    /// Each call costs a round trip of hundreds of milliseconds to ArcGIS Online, plus the
    /// look-up of the batch's existing features, so the fewer the calls the shorter the stage:
    /// the original's 50 (chosen for the arcgis Python package, not by ArcGIS) makes 100,000
    /// features 2,000 sequential edit calls and 2,000 look-ups. ArcGIS documents no feature limit
    /// for `applyEdits`
    /// (<https://developers.arcgis.com/rest/services-reference/enterprise/apply-edits-feature-service-layer/>);
    /// what bounds a batch is the look-up, a `query` whose answer holds at most the layer's
    /// `maxRecordCount` features
    /// (<https://developers.arcgis.com/rest/services-reference/enterprise/query-feature-service-layer/>,
    /// <https://developers.arcgis.com/rest/services-reference/enterprise/layer-feature-service/>),
    /// 1,000 or 2,000 on hosted layers: 1,000 fits either, and the sink lowers it to a smaller
    /// `maxRecordCount`.
    pub const DEFAULT_BATCH_SIZE: usize = 1_000;

    /// Bytes of feature JSON per `applyEdits` call when nothing else is asked: 5 MB.
    ///
    /// A full-size feature (23 attributes and a point) is about 1–2.5 KB of JSON, so 1,000 of
    /// them weigh 1–2.5 MB and the feature count is what ends a batch; the byte bound ends it
    /// early for features with long text or big shapes (a polygon of thousands of vertices),
    /// keeping each request well under the sizes hosted layers time out on, and bounding what one
    /// request holds in memory (its form-encoded body is up to about twice the JSON).
    pub const DEFAULT_BATCH_BYTES: usize = 5_000_000;

    /// Batches sent at once when nothing else is asked: 4.
    ///
    /// A batch of 1,000 features costs a round trip plus ArcGIS's own work per feature (about
    /// 2.3 s in the crate's latency model), and one batch after another leaves the layer's
    /// hosting tier idle between them. ArcGIS Online serves concurrent requests to one hosted
    /// layer in parallel (its hosting tier is scaled out; Esri's own apps, such as Field Maps,
    /// edit one layer from many clients at once), so 4 batches in flight cut a replace's wall
    /// time about fourfold while keeping at most 4 × 5 MB in memory and well within what one
    /// client may ask of a layer. A layer that serializes edits keeps only the batch-size gain.
    pub const DEFAULT_IN_FLIGHT: usize = 4;

    /// The most batches in flight a target may ask for: 16. Each holds its features and its
    /// request body in memory (up to 5 MB of JSON, about twice that form-encoded), and a hosted
    /// layer's gain from more parallel edits flattens while the load on it does not.
    pub const MAX_IN_FLIGHT: usize = 16;

    /// The layer or table `selector` of item `service_id`, matched on `matching_field`, in
    /// batches of [`AgolTarget::DEFAULT_BATCH_SIZE`], [`AgolTarget::DEFAULT_IN_FLIGHT`] at once,
    /// shared with no other container.
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
            batch_bytes: Self::DEFAULT_BATCH_BYTES,
            in_flight: Self::DEFAULT_IN_FLIGHT,
            shared_with: Vec::new(),
        }
    }
}
