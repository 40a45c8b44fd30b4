//! Query an ArcGIS Online layer, then apply adds, updates and deletes in one call.
//!
//! ```sh
//! cargo run --example agol_edits
//! ```
//!
//! Runs against the fake ArcGIS Online of `agol-client`'s `testkit` feature;
//! against the real one, build the client with `.credentials(user, password)`.

use std::io::Write;

use agol_client::testkit::{FakeAgol, ITEM_ID, OBJECT_ID_FIELD};
use agol_client::{Edits, Feature, Geometry, LayerSelector, Query};
use futures::TryStreamExt;
use serde_json::{json, Map};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A point feature on an east-west line through downtown Austin.
fn signal(id: &str, kind: &str, lon: f64) -> Feature {
    let attributes = Map::from_iter([
        ("id".into(), json!(id)),
        ("signal_type".into(), json!(kind)),
    ]);
    Feature::new(attributes).with_geometry(Geometry::point(lon, 30.27))
}

/// Queries the PHB signals, then adds one, updates one and deletes one in one
/// `applyEdits`; returns (PHB features read, features in the layer at the end).
pub async fn run(out: &mut impl Write) -> Result<(usize, usize)> {
    // The fake serves one feature service item; layer 0 holds points.
    let fake = FakeAgol::start().await;
    let seeded = (0..12).map(|n| {
        let kind = if n % 3 == 0 { "PHB" } else { "TRAFFIC" };
        signal(&format!("SIG-{n:03}"), kind, -97.74 + f64::from(n) / 100.0)
    });
    fake.seed(0, seeded);

    // The client signs in (generateToken) by itself; the item id leads to the
    // service, and the selector to its first layer.
    let client = fake.client_builder().build()?;
    let layer = client
        .layer_from_item(ITEM_ID, LayerSelector::LayerIndex(0))
        .await?;
    writeln!(
        out,
        "layer {:?}, max {} features per query",
        layer.info().name,
        layer.max_record_count()
    )?;

    // `features` pages on `exceededTransferLimit` until the layer says it is done.
    let phb: Vec<Feature> = layer
        .features(Query::new().where_clause("signal_type = 'PHB'"))
        .try_collect()
        .await?;
    writeln!(out, "{} PHB signals", phb.len())?;

    // Updates carry the object id; deletes are object ids. With rollback,
    // ArcGIS applies the whole call or nothing.
    let mut updated = phb[0].clone();
    updated
        .attributes
        .insert("signal_type".into(), json!("FLASHER"));
    let delete = phb[1]
        .integer(OBJECT_ID_FIELD)
        .ok_or("a feature without an object id")?;
    let edits = Edits {
        adds: vec![signal("SIG-100", "PHB", -97.70)],
        updates: vec![updated],
        deletes: vec![delete],
        rollback_on_failure: true,
    };
    // ArcGIS reports failures inside HTTP 200; the client turns them into errors.
    let results = layer.apply_edits(&edits).await?;
    writeln!(
        out,
        "added object ids {:?}, {} updated, {} deleted",
        results.added_object_ids(),
        results.update_results.len(),
        results.delete_results.len()
    )?;

    let total = fake.features(0).len();
    writeln!(out, "the layer holds {total} features")?;
    Ok((phb.len(), total))
}

#[tokio::main]
async fn main() -> Result<()> {
    run(&mut std::io::stdout()).await?;
    Ok(())
}
