//! An ArcGIS Online layer or table against the staging store: the comparison
//! ([`compare_layer`], counts then ids on the matching field), and the repair `sync` makes after
//! an incremental publish (the staged records the layer lacks re-published; features no
//! container staged reported, never deleted).

use futures::TryStreamExt;

use super::publish::agol_records;
use super::target::AgolTarget;
use crate::engine::{RunFailure, RunOptions, RunReport};
use crate::staging::drift::{failure, first, republish, text_id, upsert, Drift, IdCheck, Staged};
use crate::staging::Publication;
use crate::Error;

/// Compares an ArcGIS Online layer or table with the staging store, on `field` (the Knack
/// record id's attribute): 1 count request, and with ids 1 request per page of features.
///
/// # Errors
/// The staging store's or ArcGIS Online's error.
pub(crate) async fn compare_layer(
    staged: &Staged<'_>,
    layer: &agol_client::Layer,
    field: &str,
    check: IdCheck,
) -> Result<Drift, Error> {
    let found = layer.count(&agol_client::Query::new()).await?;
    staged
        .compare(found, check, || async {
            let query = agol_client::Query::new()
                .out_fields([field.to_string()])
                .return_geometry(false);
            Ok(layer
                .features(query)
                .map_ok(|f| text_id(f.attributes.get(field)))
                .try_collect()
                .await?)
        })
        .await
}

/// The ArcGIS Online stage of a sync: [`records_to_agol`](super::records_to_agol) from `since`,
/// then, after an incremental publish, the repair (not after a stop). `layer`: the layer when
/// the sync already opened and checked it (its schema check), so it is not read twice.
pub(crate) async fn publish(
    pgrest: &pgrest_client::Client,
    client: &agol_client::Client,
    publication: &Publication,
    target: &AgolTarget,
    options: RunOptions,
    layer: Option<agol_client::Layer>,
) -> Result<RunReport, RunFailure> {
    let (since, dry_run) = (options.since, options.dry_run);
    let mut report =
        agol_records(pgrest, client, publication, target, &options, None, layer).await?;
    if since.is_some() {
        report = crate::engine::unless_stopped(report, options.stop)?;
        repair_agol(pgrest, client, publication, target, dry_run, &mut report).await?;
    }
    Ok(report)
}

/// After an incremental ArcGIS Online publish: re-publishes the staged records the layer lacks.
/// Features no container staged are reported, never deleted (a layer's features may carry edits
/// made in ArcGIS; a full run, which checks the layer may be replaced, removes them).
/// Compared on the matching field, so only when that is the record id (`id`).
pub(crate) async fn repair_agol(
    pgrest: &pgrest_client::Client,
    client: &agol_client::Client,
    publication: &Publication,
    target: &AgolTarget,
    dry_run: bool,
    report: &mut RunReport,
) -> Result<(), RunFailure> {
    if target.matching_field != "id" {
        return Ok(());
    }
    let layer = client
        .layer_from_item(&target.service_id, target.selector)
        .await
        .map_err(|e| failure(report, e))?;
    let staged = Staged {
        pgrest,
        app_id: &publication.app_id,
        container_id: publication.container.id(),
        shared_with: &target.shared_with,
    };
    let drift = compare_layer(&staged, &layer, "id", IdCheck::WhenCountsDiffer)
        .await
        .map_err(|e| failure(report, e))?;
    let name = layer.info().name.clone();
    let (missing, extra) = (
        drift.missing.unwrap_or_default(),
        drift.extra.unwrap_or_default(),
    );
    if !missing.is_empty() {
        let what = format!(
            "{} staged record(s) missing from layer {name}",
            missing.len()
        );
        let options = upsert(dry_run);
        let publish = agol_records(
            pgrest,
            client,
            publication,
            target,
            &options,
            Some(missing),
            None,
        );
        republish(report, &what, dry_run, publish).await?;
    }
    if !extra.is_empty() {
        let what = format!(
            "{} feature(s) of layer {name} are staged by no container ({}): kept; a full run \
             removes them",
            extra.len(),
            first(&extra)
        );
        tracing::warn!("{what}");
        report.notes.push(what);
    }
    Ok(())
}
