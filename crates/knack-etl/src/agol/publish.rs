//! `api.knack` → ArcGIS Online ([`records_to_agol`]): a container's staged records formatted as
//! knackpy does, built into features as the original builds them, upserted by the matching
//! field batch by batch with rollback, and (without `since`) what the source no longer has
//! deleted last.

use knack_client::RawRecord;

use super::preflight::{agol_replace_problems, layer as checked_layer};
use super::sink::AgolSink;
use super::target::AgolTarget;
use super::transform::{AgolOptions, AgolTransform};
use super::values::AgolFeatureBuilder;
use crate::engine::{run_until, setup, timed, DryRun, RunFailure, RunOptions, RunReport, Sink};
use crate::staging::preflight::staging;
use crate::staging::publication::{format_staged, formatter_for, kept_ids, labels, staged};
use crate::staging::Publication;
use crate::Error;

/// `api.knack` → ArcGIS Online: staged rows formatted as knackpy does and
/// built into features as the original builds them; upserted by the
/// matching field, batch by batch with rollback, and (without `since`) the
/// features the source no longer has deleted last.
pub async fn records_to_agol(
    pgrest: &pgrest_client::Client,
    agol: &agol_client::Client,
    publication: &Publication,
    target: &AgolTarget,
    options: &RunOptions,
) -> Result<RunReport, RunFailure> {
    agol_records(pgrest, agol, publication, target, options, None, None).await
}

/// [`records_to_agol`], reading only the staged records `only` names when given (a drift
/// repair, `agol/drift.rs`), with `layer` when it was already opened and checked (a sync's
/// schema check).
pub(crate) async fn agol_records(
    pgrest: &pgrest_client::Client,
    agol: &agol_client::Client,
    publication: &Publication,
    target: &AgolTarget,
    options: &RunOptions,
    only: Option<Vec<String>>,
    layer: Option<agol_client::Layer>,
) -> Result<RunReport, RunFailure> {
    timed(async move {
        setup(staging(pgrest, &publication.app_id).await)?;
        let layer = match layer {
            Some(layer) => layer,
            None => setup(
                checked_layer(
                    agol,
                    &target.service_id,
                    target.selector,
                    &target.matching_field,
                )
                .await,
            )?,
        };
        if options.mode().is_replace() {
            let problems = agol_replace_problems(layer.info());
            if !problems.is_empty() {
                return setup(Err(Error::Preflight(problems.join("; "))));
            }
        }
        if options.mode().is_replace()
            && !target.shared_with.is_empty()
            && target.matching_field != "id"
        {
            return setup(Err(Error::Preflight(format!(
                "layer {} is shared with container(s) {}, and a full replace can tell their \
             features apart only by the Knack record id: set upsert_matching_field = \"id\" \
             or run with --date",
                layer.info().name,
                target.shared_with.join(", ")
            ))));
        }
        let (formatter, fields) = setup(formatter_for(pgrest, publication).await)?;
        let mut agol_options = AgolOptions::default();
        if let Some(field) = publication.location_fields.first() {
            agol_options = agol_options.location_field(field.clone());
        }
        let has_location = agol_options.location_field.is_some();
        let agol_location = agol_options.location_field.clone();
        let transform = setup(AgolTransform::new(&fields, agol_options))?;
        // One staged page per `in_flight` edit calls, so the reader's pages and the edit calls
        // line up and a page's batches go out together (the sink reports a page that fails
        // part-way as `Error::PartlyWritten`).
        let in_flight = target.in_flight.clamp(1, AgolTarget::MAX_IN_FLIGHT);
        let page = target.batch_size.max(1).saturating_mul(in_flight);
        let source = staged(pgrest, publication, options, only).page_size(page as u64);
        let mut sink: Box<dyn Sink<agol_client::Feature>> = if options.dry_run {
            Box::new(DryRun::new(format!(
                "ArcGIS Online layer {}",
                layer.info().name
            )))
        } else {
            let mut sink = AgolSink::new(layer, &target.matching_field, target.batch_size)
                .batch_bytes(target.batch_bytes)
                .in_flight(in_flight)
                .stop(options.stop)
                .clear_missing_geometry(has_location);
            if options.mode().is_replace() {
                let kept = setup(kept_ids(pgrest, publication, &target.shared_with).await)?;
                sink.keep(kept.iter().map(String::as_str));
            }
            Box::new(sink)
        };
        // As for Socrata: only what the feature reads is parsed, and each value moves once into
        // its attribute.
        let location: Vec<&str> = agol_location.iter().map(String::as_str).collect();
        let selector = formatter.selector(&location);
        let builder = AgolFeatureBuilder::new(transform, &labels(&formatter));
        let features = |batch: Vec<RawRecord>| {
            let features = batch
                .iter()
                .map(|staged| Ok(builder.feature(format_staged(&selector, staged)?)))
                .collect::<Result<Vec<agol_client::Feature>, Error>>()?;
            Ok((features, 0))
        };
        run_until(
            &source,
            features,
            sink.as_mut(),
            options.mode(),
            options.stop,
        )
        .await
    })
    .await
}
