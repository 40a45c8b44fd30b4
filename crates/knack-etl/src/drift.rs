//! Whether a destination is in step with the staging store, and the repair `sync` makes when it
//! is not.
//!
//! An incremental publish only sends what was staged since its watermark, so rows removed from a
//! destination behind `aks`'s back (a hand edit, a restore) stay missing until a full run. The
//! check compares counts first (one request per side) and reads ids only when they differ, so a
//! destination in step costs a few count requests. It cannot see a swap that keeps the count (one
//! row missing, one foreign row added); `aks status --verify` compares ids always and does.
//!
//! A destination several containers publish to (`shared_with`) is compared with all their staged
//! rows: a row one of them staged is neither missing nor foreign.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use pgrest_client::Query;

use crate::pipelines::{self, AgolTarget, Publication, RunOptions, SocrataTarget};
use crate::run::RunFailure;
use crate::staging::{self, RECORDS_TABLE};
use crate::{Error, RunReport};

/// When the ids of both sides are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCheck {
    /// Always (`status --verify`: finds a swap that keeps the count).
    Always,
    /// Only when the counts differ (`sync`: a destination in step costs count requests only).
    WhenCountsDiffer,
}

/// One destination compared with the staging store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Rows staged for the container and the containers sharing the destination.
    pub staged: u64,
    /// Rows in the destination.
    pub found: u64,
    /// Ids this container staged that the destination lacks, sorted; `None` when ids were not
    /// compared.
    pub missing: Option<Vec<String>>,
    /// Ids in the destination that none of the sharing containers staged, sorted; `None` when
    /// ids were not compared.
    pub extra: Option<Vec<String>>,
}

impl Drift {
    /// Whether the destination is out of step: by ids when they were compared, else by counts.
    pub fn is_drift(&self) -> bool {
        match (&self.missing, &self.extra) {
            (Some(missing), Some(extra)) => !missing.is_empty() || !extra.is_empty(),
            _ => self.staged != self.found,
        }
    }
}

/// The staged side of a comparison: a container and the containers sharing its destination.
#[derive(Debug, Clone, Copy)]
pub struct Staged<'a> {
    /// The staging store.
    pub pgrest: &'a pgrest_client::Client,
    /// The Knack application id the records are staged under.
    pub app_id: &'a str,
    /// The container.
    pub container_id: &'a str,
    /// The other containers publishing to the same destination.
    pub shared_with: &'a [String],
}

impl Staged<'_> {
    fn containers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.container_id).chain(
            self.shared_with
                .iter()
                .map(String::as_str)
                .filter(|c| *c != self.container_id),
        )
    }

    /// Staged rows of every container: one count request each.
    pub async fn count(&self) -> Result<u64, Error> {
        let mut total = 0;
        for container in self.containers() {
            let query = Query::new()
                .eq("app_id", self.app_id)
                .eq("container_id", container);
            total += self.pgrest.count(RECORDS_TABLE, &query).await?;
        }
        Ok(total)
    }

    /// This container's staged ids, and those of every sharing container with them.
    async fn ids(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), Error> {
        let own: BTreeSet<String> =
            staging::record_ids(self.pgrest, self.app_id, self.container_id)
                .await?
                .into_iter()
                .collect();
        let mut all = own.clone();
        for container in self.containers().skip(1) {
            all.extend(staging::record_ids(self.pgrest, self.app_id, container).await?);
        }
        Ok((own, all))
    }

    /// Compares with a destination holding `found` rows, whose ids `read_ids` reads.
    async fn compare<F, Fut>(&self, found: u64, check: IdCheck, read_ids: F) -> Result<Drift, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<BTreeSet<String>, Error>>,
    {
        let staged = self.count().await?;
        let mut drift = Drift {
            staged,
            found,
            missing: None,
            extra: None,
        };
        if check == IdCheck::WhenCountsDiffer && staged == found {
            return Ok(drift);
        }
        let (own, all) = self.ids().await?;
        let there = read_ids().await?;
        drift.missing = Some(own.difference(&there).cloned().collect());
        drift.extra = Some(there.difference(&all).cloned().collect());
        Ok(drift)
    }
}

fn text_id(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Compares a Socrata dataset (row identifier `id`) with the staging store: 1 count request
/// each side, and with ids 1 request per 1,000 rows (10,000 staged).
///
/// # Errors
/// The staging store's or Socrata's error.
pub async fn socrata(
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

/// Compares an ArcGIS Online layer or table with the staging store, on `field` (the Knack
/// record id's attribute): 1 count request, and with ids 1 request per page of features.
///
/// # Errors
/// The staging store's or ArcGIS Online's error.
pub async fn agol(
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

/// Adds a repair's counts and rejections to the stage's report.
fn absorb(report: &mut RunReport, repair: RunReport) {
    report.read += repair.read;
    report.written += repair.written;
    report.skipped += repair.skipped;
    report.failed += repair.failed;
    report.rejected.extend(repair.rejected);
    report.notes.extend(repair.notes);
    report.duration += repair.duration;
}

/// Options for re-publishing named records: an upsert (never a replace).
fn upsert(dry_run: bool) -> RunOptions {
    RunOptions {
        since: Some(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH),
        allow_empty_replace: false,
        dry_run,
    }
}

fn first(ids: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(", …");
    }
    text
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
    let drift = socrata(
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
        let publish = pipelines::socrata_records(
            pgrest,
            client,
            publication,
            target,
            &options,
            Some(missing),
        );
        republish(report, &what, dry_run, publish).await?;
    }
    if !extra.is_empty() {
        let what = format!(
            "{} row(s) of dataset {} are staged by no container ({})",
            extra.len(),
            target.resource_id,
            first(&extra)
        );
        if target.no_replace {
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
                .delete(
                    &target.resource_id,
                    crate::preflight::SOCRATA_ROW_IDENTIFIER,
                    &extra,
                )
                .await
                .map_err(|e| failure(report, e))?;
            tracing::info!(dataset = %target.resource_id, "repaired: {what}, deleted");
            report.deleted += extra.len() as u64;
            report.notes.push(format!("repaired: {what}, deleted"));
        }
    }
    Ok(())
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
    let drift = agol(&staged, &layer, "id", IdCheck::WhenCountsDiffer)
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
        let publish =
            pipelines::agol_records(pgrest, client, publication, target, &options, Some(missing));
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

/// Runs `publish` (the re-publication of the missing records) and adds what it did to `report`.
async fn republish(
    report: &mut RunReport,
    what: &str,
    dry_run: bool,
    publish: impl std::future::Future<Output = Result<RunReport, RunFailure>>,
) -> Result<(), RunFailure> {
    let repaired = publish.await.map_err(|f| merged(report, f))?;
    note_repair(report, what, dry_run);
    absorb(report, repaired);
    Ok(())
}

fn note_repair(report: &mut RunReport, what: &str, dry_run: bool) {
    if dry_run {
        report
            .notes
            .push(format!("dry run: {what} would be re-published"));
    } else {
        tracing::info!("repaired: {what}, re-published");
        report.notes.push(format!("repaired: {what}, re-published"));
    }
}

/// The stage's report with the check's error.
fn failure(report: &RunReport, error: impl Into<Error>) -> RunFailure {
    RunFailure {
        report: report.clone(),
        error: Box::new(error.into()),
    }
}

/// The stage's report plus what a failed repair did before failing.
fn merged(report: &RunReport, f: RunFailure) -> RunFailure {
    let mut all = report.clone();
    absorb(&mut all, f.report);
    RunFailure {
        report: all,
        error: f.error,
    }
}
