//! `api.knack` → Socrata ([`records_to_socrata`]): a container's staged records formatted as
//! knackpy does, shaped as the original publishes them, written as JSON text; upserted with
//! `since`, replaced (safely) without.

use knack_client::RawRecord;
use socrata_client::DatasetMetadata;

use super::preflight;
use super::sink::SocrataSink;
use super::target::SocrataTarget;
use super::text_row::{SocrataRowWriter, TextRow};
use super::transform::{SocrataColumns, SocrataOptions, SocrataTransform};
use crate::engine::{run_until, setup, timed, DryRun, RunFailure, RunOptions, RunReport, Sink};
use crate::staging::preflight::staging;
use crate::staging::publication::{format_staged, formatter_for, kept_ids, labels, staged};
use crate::staging::Publication;
use crate::Error;

/// `api.knack` → Socrata: staged rows of the container (written on or after
/// `since`), formatted as knackpy does and shaped as the original publishes
/// them; upserted with `since`, replaced (safely) without.
pub async fn records_to_socrata(
    pgrest: &pgrest_client::Client,
    socrata: &socrata_client::Client,
    publication: &Publication,
    target: &SocrataTarget,
    options: &RunOptions,
) -> Result<RunReport, RunFailure> {
    socrata_records(
        pgrest,
        socrata,
        publication,
        target,
        options,
        Read::default(),
    )
    .await
}

/// What [`socrata_records`] reads.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// Only the staged records these name (a drift repair, `socrata/drift.rs`).
    pub(crate) only: Option<Vec<String>>,
    /// The dataset's metadata, already read and checked (a sync's schema check): not read again.
    pub(crate) dataset: Option<DatasetMetadata>,
}

/// [`records_to_socrata`], reading as `read` says.
pub(crate) async fn socrata_records(
    pgrest: &pgrest_client::Client,
    socrata: &socrata_client::Client,
    publication: &Publication,
    target: &SocrataTarget,
    options: &RunOptions,
    Read { only, dataset }: Read,
) -> Result<RunReport, RunFailure> {
    timed(async move {
        setup(staging(pgrest, &publication.app_id).await)?;
        let dataset = match dataset {
            Some(dataset) => dataset,
            None => setup(preflight::dataset(socrata, &target.resource_id).await)?,
        };
        let (formatter, fields) = setup(formatter_for(pgrest, publication).await)?;
        let columns: SocrataColumns = dataset
            .columns
            .iter()
            .map(|c| (c.field_name.clone(), c.data_type.name().to_string()))
            .collect();
        let mut socrata_options = SocrataOptions::default().timezone(formatter.timezone());
        for field in &publication.location_fields {
            socrata_options = socrata_options.location_field(field.clone());
        }
        if let Some(key) = &target.append_timestamp_key {
            socrata_options = socrata_options.append_timestamp(key.clone());
        }
        let transform = setup(SocrataTransform::new(columns, &fields, socrata_options))?;
        let mode = options.mode();
        setup(target.check_mode(mode))?;
        let id_field = preflight::SOCRATA_ROW_IDENTIFIER;
        let source = staged(pgrest, publication, options, only);
        let mut sink: Box<dyn Sink<TextRow>> = if options.dry_run {
            Box::new(DryRun::new(format!(
                "Socrata dataset {}",
                target.resource_id
            )))
        } else {
            let mut sink = SocrataSink::new(socrata.clone(), &target.resource_id, id_field);
            if mode.is_replace() {
                let kept = setup(kept_ids(pgrest, publication, &target.shared_with).await)?;
                sink.keep(kept.iter().map(String::as_str));
            }
            Box::new(sink)
        };
        // Each staged record is parsed only where the row reads it (see `RecordSelector`), and
        // its row written as JSON text without a map in between.
        let locations: Vec<&str> = publication
            .location_fields
            .iter()
            .map(String::as_str)
            .collect();
        let selector = formatter.selector(&locations);
        let writer = SocrataRowWriter::new(transform, &labels(&formatter), id_field);
        let rows = |batch: Vec<RawRecord>| {
            let rows = batch
                .iter()
                .map(|staged| Ok(writer.row(&format_staged(&selector, staged)?)?))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok((rows, 0))
        };
        let mut report = run_until(&source, rows, sink.as_mut(), mode, options.stop).await?;
        let dropped = writer.transform().dropped_fields();
        if !dropped.is_empty() {
            report.notes.push(format!(
                "fields not in the dataset were dropped: {}",
                dropped.join(", ")
            ));
        }
        Ok(report)
    })
    .await
}
