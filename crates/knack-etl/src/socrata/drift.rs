//! A Socrata dataset against the staging store: the comparison ([`compare_dataset`], counts then
//! ids), and the repair `sync` makes after an incremental publish (the staged records the dataset
//! lacks re-published, the rows no container staged deleted unless the dataset forbids it).

use futures::TryStreamExt;

use super::preflight::SOCRATA_ROW_IDENTIFIER;
use socrata_client::DatasetMetadata;

use super::publish::{socrata_records, Read};
use super::target::SocrataTarget;
use crate::engine::{RunFailure, RunOptions, RunReport};
use crate::staging::drift::{failure, first, republish, text_id, upsert, Drift, IdCheck, Staged};
use crate::staging::Publication;
use crate::Error;

/// Compares a Socrata dataset (row identifier `id`) with the staging store: 1 count request
/// each side, and with ids 1 request per 1,000 rows (10,000 staged).
///
/// # Errors
/// The staging store's or Socrata's error.
pub(crate) async fn compare_dataset(
    staged: &Staged<'_>,
    client: &socrata_client::Client,
    dataset: &str,
    check: IdCheck,
) -> Result<Drift, Error> {
    let found = client.count(dataset).await?;
    staged
        .compare(found, check, || async {
            Ok(client
                .rows(dataset, socrata_client::Query::new().select("id"))
                .map_ok(|row| text_id(row.get("id")))
                .try_collect()
                .await?)
        })
        .await
}

/// The Socrata stage of a sync: [`records_to_socrata`](super::records_to_socrata) from `since`
/// (a dataset that forbids a replace gets an upsert of every staged row instead of a full run:
/// [`SocrataTarget::sync_since`]), then, after an incremental publish, which cannot see rows
/// removed behind its back, the repair. `dataset`: the dataset's metadata when the sync already
/// read it (its schema check), so it is not read twice.
pub(crate) async fn publish(
    pgrest: &pgrest_client::Client,
    client: &socrata_client::Client,
    publication: &Publication,
    target: &SocrataTarget,
    options: RunOptions,
    dataset: Option<DatasetMetadata>,
) -> Result<RunReport, RunFailure> {
    let (since, dry_run) = (target.sync_since(options.since), options.dry_run);
    let options = RunOptions { since, ..options };
    let read = Read {
        only: None,
        dataset,
    };
    let mut report = socrata_records(pgrest, client, publication, target, &options, read).await?;
    if since.is_some() {
        report = crate::engine::unless_stopped(report, options.stop)?;
        repair_socrata(pgrest, client, publication, target, dry_run, &mut report).await?;
    }
    Ok(report)
}

/// After an incremental Socrata publish: re-publishes the staged records the dataset lacks and,
/// unless `no_replace_socrata`, deletes the rows no sharing container staged (otherwise they are
/// reported). What it did goes into `report` (counts and a note).
pub(crate) async fn repair_socrata(
    pgrest: &pgrest_client::Client,
    client: &socrata_client::Client,
    publication: &Publication,
    target: &SocrataTarget,
    dry_run: bool,
    report: &mut RunReport,
) -> Result<(), RunFailure> {
    let staged = Staged {
        pgrest,
        app_id: &publication.app_id,
        container_id: publication.container.id(),
        shared_with: &target.shared_with,
    };
    let drift = compare_dataset(
        &staged,
        client,
        &target.resource_id,
        IdCheck::WhenCountsDiffer,
    )
    .await
    .map_err(|e| failure(report, e))?;
    let (missing, extra) = (
        drift.missing.unwrap_or_default(),
        drift.extra.unwrap_or_default(),
    );
    if !missing.is_empty() {
        let what = format!(
            "{} staged record(s) missing from dataset {}",
            missing.len(),
            target.resource_id
        );
        let options = upsert(dry_run);
        let read = Read {
            only: Some(missing),
            dataset: None,
        };
        let publish = socrata_records(pgrest, client, publication, target, &options, read);
        republish(report, &what, dry_run, publish).await?;
    }
    if !extra.is_empty() {
        let what = format!(
            "{} row(s) of dataset {} are staged by no container ({})",
            extra.len(),
            target.resource_id,
            first(&extra)
        );
        if !target.may_delete() {
            tracing::warn!(dataset = %target.resource_id, "{what}: kept (no_replace_socrata)");
            report
                .notes
                .push(format!("{what}: kept, no_replace_socrata"));
        } else if dry_run {
            report
                .notes
                .push(format!("dry run: {what} would be deleted"));
        } else {
            client
                .delete(&target.resource_id, SOCRATA_ROW_IDENTIFIER, &extra)
                .await
                .map_err(|e| failure(report, e))?;
            tracing::info!(dataset = %target.resource_id, "repaired: {what}, deleted");
            report.deleted += extra.len() as u64;
            report.notes.push(format!("repaired: {what}, deleted"));
        }
    }
    Ok(())
}
