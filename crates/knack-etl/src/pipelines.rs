//! The original's four jobs, composed from the sources, transforms and sinks.
//!
//! Each returns a [`RunReport`] on success and a [`RunFailure`] (with the
//! report of what happened before the failure) otherwise.

use agol_client::LayerSelector;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use knack_client::{
    Container, Filter, FormattedValues, Formatter, RawRecord, RecordSelector, RecordsQuery,
    MAX_ROWS_PER_PAGE,
};

use crate::agol::AgolSink;
use crate::dry_run::DryRun;
use crate::knack::KnackSource;
use crate::preflight;
use crate::run::{run, timed, RunFailure};
use crate::socrata::SocrataSink;
use crate::stage::{Sink, WriteMode};
use crate::staging::{self, StagingSink, StagingSource};
use crate::transform::{
    AgolFeatureBuilder, AgolOptions, AgolTransform, FieldSpec, SocrataColumns, SocrataOptions,
    SocrataRowWriter, SocrataTransform, TextRow,
};
use crate::{Error, RunReport};

/// What every run shares: incremental or full, and whether to write at all.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only records modified (Knack) or staged (publishers) on or after this
    /// instant, upserted; `None` is a full replace.
    pub since: Option<DateTime<Utc>>,
    /// Let a full replace whose source is empty empty the destination too.
    pub allow_empty_replace: bool,
    /// Read and transform, write nothing.
    pub dry_run: bool,
}

impl RunOptions {
    fn mode(&self) -> WriteMode {
        match self.since {
            Some(_) => WriteMode::Upsert,
            None => WriteMode::Replace {
                allow_empty: self.allow_empty_replace,
            },
        }
    }
}

fn setup<T>(result: Result<T, impl Into<Error>>) -> Result<T, RunFailure> {
    result.map_err(|e| RunFailure {
        report: RunReport::default(),
        error: Box::new(e.into()),
    })
}

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
            staging::store_metadata(pgrest, knack.app_id(), metadata.raw())
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
/// container's rows Knack no longer has only after every upsert succeeded.
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
pub async fn records_to_postgrest_in(
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
        // Records move as the JSON text Knack sent: only their ids are read.
        let source = KnackSource::new(knack.clone(), container.clone(), query).raw();
        let (app_id, container_id) = (knack.app_id(), container.id());
        let mut sink: Box<dyn Sink<RawRecord>> = if options.dry_run {
            Box::new(DryRun::new(format!("PostgREST knack ({container_id})")))
        } else {
            Box::new(StagingSink::new(pgrest.clone(), app_id, container_id))
        };
        let transform = |batch: Vec<RawRecord>| Ok((batch, 0));
        run(&source, transform, sink.as_mut(), options.mode()).await
    })
    .await
}

/// The formatter's labels in its order (the first is the record id's, `id`).
fn labels(formatter: &Formatter) -> Vec<&str> {
    formatter
        .fields()
        .iter()
        .map(|f| f.label.as_str())
        .collect()
}

/// A staged record formatted straight from its text (see [`RecordSelector::format`]).
fn format_staged(selector: &RecordSelector, staged: &RawRecord) -> Result<FormattedValues, Error> {
    selector.format(staged.raw().get()).map_err(|e| match e {
        knack_client::Error::Decode { message: detail, .. } => Error::Staging(format!(
            "staged record {} is not a JSON object ({detail}): re-stage it with records-to-postgrest",
            staged.id()
        )),
        other => other.into(),
    })
}

/// Which staged container to publish.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The Knack application id the records were staged under.
    pub app_id: String,
    /// The container.
    pub container: Container,
    /// Location fields (`field_N`) to turn into geometry.
    pub location_fields: Vec<String>,
}

/// Loads the stored metadata and builds the container's formatter and field list.
async fn formatter_for(
    pgrest: &pgrest_client::Client,
    publication: &Publication,
) -> Result<(Formatter, Vec<FieldSpec>), Error> {
    let metadata = staging::load_metadata(pgrest, &publication.app_id).await?;
    let formatter = Formatter::new(&metadata, &publication.container)?;
    let fields = formatter
        .fields()
        .iter()
        .filter(|f| f.key != "id")
        .map(|f| FieldSpec::new(&f.key, &f.label, f.field_type.as_str()))
        .collect();
    Ok((formatter, fields))
}

/// The record ids the other containers publishing to the same destination have staged: a
/// replace keeps them.
async fn kept_ids(
    pgrest: &pgrest_client::Client,
    publication: &Publication,
    shared_with: &[String],
) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    for container in shared_with
        .iter()
        .filter(|c| *c != publication.container.id())
    {
        ids.extend(staging::record_ids(pgrest, &publication.app_id, container).await?);
    }
    Ok(ids)
}

/// The container's staged records a publisher reads: written on or after `options.since`, and
/// only those `only` names when given.
fn staged(
    pgrest: &pgrest_client::Client,
    publication: &Publication,
    options: &RunOptions,
    only: Option<Vec<String>>,
) -> StagingSource {
    let source = StagingSource::new(
        pgrest.clone(),
        &publication.app_id,
        publication.container.id(),
        options.since,
    );
    match only {
        Some(ids) => source.only(ids),
        None => source,
    }
}

/// A Socrata destination and the original's per-container options.
#[derive(Debug, Clone, Default)]
pub struct SocrataTarget {
    /// The dataset id (4x4).
    pub resource_id: String,
    /// `append_timestamps_socrata.key`: a column set to the run's time on every row.
    pub append_timestamp_key: Option<String>,
    /// `no_replace_socrata`: refuse a full replace.
    pub no_replace: bool,
    /// The other containers (ids) of the same app that publish to this dataset. A full replace
    /// deletes only rows none of them has staged, so one container's replace never empties
    /// another's rows.
    pub shared_with: Vec<String>,
}

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
    socrata_records(pgrest, socrata, publication, target, options, None).await
}

/// [`records_to_socrata`], reading only the staged records `only` names when given (a drift
/// repair: [`crate::drift`]).
pub(crate) async fn socrata_records(
    pgrest: &pgrest_client::Client,
    socrata: &socrata_client::Client,
    publication: &Publication,
    target: &SocrataTarget,
    options: &RunOptions,
    only: Option<Vec<String>>,
) -> Result<RunReport, RunFailure> {
    timed(async move {
        setup(preflight::staging(pgrest, &publication.app_id).await)?;
        let dataset = setup(preflight::socrata(socrata, &target.resource_id).await)?;
        let (formatter, fields) = setup(formatter_for(pgrest, publication).await)?;
        let columns: SocrataColumns = dataset
            .columns
            .iter()
            .map(|c| (c.field_name.clone(), c.data_type.name().to_string()))
            .collect();
        let mut socrata_options = SocrataOptions::default()
            .timezone(formatter.timezone())
            .no_replace(target.no_replace);
        for field in &publication.location_fields {
            socrata_options = socrata_options.location_field(field.clone());
        }
        if let Some(key) = &target.append_timestamp_key {
            socrata_options = socrata_options.append_timestamp(key.clone());
        }
        let transform = setup(SocrataTransform::new(columns, &fields, socrata_options))?;
        let mode = options.mode();
        if mode.is_replace() {
            setup(transform.check_replace_allowed())?;
        }
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
        let mut report = run(&source, rows, sink.as_mut(), mode).await?;
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

/// An ArcGIS Online destination and the original's per-container options.
#[derive(Debug, Clone)]
pub struct AgolTarget {
    /// The item id of the feature service (`service_id`).
    pub service_id: String,
    /// Which layer or table (`layer_id` + `item_type`).
    pub selector: LayerSelector,
    /// The attribute features are matched on (`upsert_matching_field`, default `id`).
    pub matching_field: String,
    /// Features per `applyEdits` call.
    pub batch_size: usize,
    /// The other containers (ids) of the same app that publish to this layer; see
    /// [`SocrataTarget::shared_with`]. Needs `matching_field` = `id` for a full replace.
    pub shared_with: Vec<String>,
}

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
    agol_records(pgrest, agol, publication, target, options, None).await
}

/// [`records_to_agol`], reading only the staged records `only` names when given (a drift
/// repair: [`crate::drift`]).
pub(crate) async fn agol_records(
    pgrest: &pgrest_client::Client,
    agol: &agol_client::Client,
    publication: &Publication,
    target: &AgolTarget,
    options: &RunOptions,
    only: Option<Vec<String>>,
) -> Result<RunReport, RunFailure> {
    timed(async move {
        setup(preflight::staging(pgrest, &publication.app_id).await)?;
        let layer = setup(
            preflight::agol(
                agol,
                &target.service_id,
                target.selector,
                &target.matching_field,
            )
            .await,
        )?;
        if options.mode().is_replace() {
            let problems = preflight::agol_replace_problems(layer.info());
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
        // One staged page per edit call, so the reader's pages and the edit calls line up (the
        // sink also reports a bigger batch that fails part-way, as `Error::PartlyWritten`).
        let source =
            staged(pgrest, publication, options, only).page_size(target.batch_size.max(1) as u64);
        let mut sink: Box<dyn Sink<agol_client::Feature>> = if options.dry_run {
            Box::new(DryRun::new(format!(
                "ArcGIS Online layer {}",
                layer.info().name
            )))
        } else {
            let mut sink = AgolSink::new(layer, &target.matching_field, target.batch_size)
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
        run(&source, features, sink.as_mut(), options.mode()).await
    })
    .await
}
