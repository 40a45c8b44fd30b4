//! Knack → the staging store: an app's metadata into `api.knack_metadata`, and a container's
//! records, untouched, into `api.knack` (an upsert with `since`, a safe replace without).

use std::sync::{Arc, Mutex};

use chrono_tz::Tz;
use knack_client::{Container, Filter, RawRecord, RecordsQuery, MAX_ROWS_PER_PAGE};

use super::confirm::Confirmation;
use super::metadata::store_metadata;
use super::preflight;
use super::sink::StagingSink;
use crate::engine::{run_until, setup, timed, DryRun, RunFailure, RunOptions, RunReport, Sink};
use crate::knack::seen::ReadSeen;
use crate::knack::KnackSource;

/// Metadata → `api.knack_metadata`: the app's whole metadata JSON, upserted on `app_id`.
pub async fn metadata_to_postgrest(
    knack: &knack_client::Client,
    pgrest: &pgrest_client::Client,
    dry_run: bool,
) -> Result<RunReport, RunFailure> {
    refresh_metadata(knack, pgrest, dry_run)
        .await
        .map(|(report, _)| report)
}

/// [`metadata_to_postgrest`], also handing back the metadata it read, so a caller running more
/// stages of the app (`sync`) needs no second metadata request for its timezone.
pub(crate) async fn refresh_metadata(
    knack: &knack_client::Client,
    pgrest: &pgrest_client::Client,
    dry_run: bool,
) -> Result<(RunReport, knack_client::Metadata), RunFailure> {
    timed(async move {
        let started = std::time::Instant::now();
        // Parsed before it is stored (the publishers will need it parsed); the
        // stored JSON is the untouched body Knack sent.
        let metadata = setup(knack.metadata().await)?;
        let mut report = RunReport {
            read: 1,
            dry_run,
            ..RunReport::default()
        };
        if dry_run {
            report.written = 1;
            report
                .notes
                .push("dry run: the metadata was not stored".into());
        } else {
            store_metadata(pgrest, knack.app_id(), metadata.raw())
                .await
                .map_err(|error| RunFailure {
                    report: report.clone(),
                    error: Box::new(error),
                })?;
            report.written = 1;
        }
        report.duration = started.elapsed();
        Ok((report, metadata))
    })
    .await
}

/// Knack container → `api.knack`: raw records, untouched, under
/// (app_id, container_id, record_id).
///
/// With `since`, Knack's whole-day filter on `modified_date_field` in the
/// app's timezone, then an upsert; without, a full reload that deletes the
/// container's rows Knack no longer has only after every upsert succeeded, and only those
/// Knack confirmed gone: a staged record the read did not return is looked up in Knack (or
/// the container read again), and staged again when Knack still has it (the report's
/// `recovered`). The confirmation's requests go through `knack`, its rate limit and the app's
/// daily quota, and are logged with their number.
pub async fn records_to_postgrest(
    knack: &knack_client::Client,
    pgrest: &pgrest_client::Client,
    container: &Container,
    modified_date_field: Option<&str>,
    options: &RunOptions,
) -> Result<RunReport, RunFailure> {
    records_to_postgrest_in(knack, pgrest, container, modified_date_field, None, options).await
}

/// [`records_to_postgrest`] with the app's timezone already known (`timezone`), so an incremental
/// run sends Knack no metadata request of its own: `sync` reads the metadata once per app and
/// hands its timezone to every container. With `None`, the metadata is read when the run is
/// incremental, as [`records_to_postgrest`] does.
pub(crate) async fn records_to_postgrest_in(
    knack: &knack_client::Client,
    pgrest: &pgrest_client::Client,
    container: &Container,
    modified_date_field: Option<&str>,
    timezone: Option<Tz>,
    options: &RunOptions,
) -> Result<RunReport, RunFailure> {
    timed(async move {
        let mut query = RecordsQuery::new().rows_per_page(MAX_ROWS_PER_PAGE);
        if let (Some(since), Some(field)) = (options.since, modified_date_field) {
            let tz = match timezone {
                Some(tz) => tz,
                None => setup(setup(knack.metadata().await)?.timezone())?,
            };
            query = query.filter(Filter::modified_since(field, since, tz));
        }
        if !options.dry_run {
            setup(preflight::staging(pgrest, knack.app_id()).await)?;
        }
        // Records move as the JSON text Knack sent: only their ids are read. A replace notes
        // what the read saw, to confirm its deletes with Knack.
        let seen = Arc::new(Mutex::new(ReadSeen::default()));
        let mut source = KnackSource::new(knack.clone(), container.clone(), query.clone()).raw();
        let (app_id, container_id) = (knack.app_id(), container.id());
        let mut sink: Box<dyn Sink<RawRecord>> = if options.dry_run {
            Box::new(DryRun::new(format!("PostgREST knack ({container_id})")))
        } else if options.mode().is_replace() {
            source = source.observed(Arc::clone(&seen));
            let confirmation = Confirmation::new(knack.clone(), container.clone(), query, seen);
            Box::new(
                StagingSink::new(pgrest.clone(), app_id, container_id).confirming(confirmation),
            )
        } else {
            Box::new(StagingSink::new(pgrest.clone(), app_id, container_id))
        };
        let transform = |batch: Vec<RawRecord>| Ok((batch, 0));
        run_until(
            &source,
            transform,
            sink.as_mut(),
            options.mode(),
            options.stop,
        )
        .await
    })
    .await
}
