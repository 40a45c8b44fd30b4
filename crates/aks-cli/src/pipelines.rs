//! The commands' work: settings in, clients built, a knack-etl pipeline run,
//! its report mapped onto the CLI's summary. Everything here runs after
//! validation (config, container, date, environment), so the values are
//! present and well-formed.

use knack_etl::agol::{records_to_agol as agol_pipeline, AgolTarget};
use knack_etl::agol_client;
use knack_etl::socrata::{records_to_socrata as socrata_pipeline, SocrataTarget};
use knack_etl::staging::{
    metadata_to_postgrest as metadata_pipeline, records_to_postgrest as staging_pipeline,
    Publication,
};
use knack_etl::sync::{run_tracked, Destination};
use knack_etl::{knack_client, pgrest_client, socrata_client, RunFailure, RunOptions};
use secrecy::{ExposeSecret, SecretString};

use crate::config::ContainerKind;
use crate::diagnose::{build_failed, explain};
use crate::endpoint::is_insecure;
use crate::env::{AgolSettings, Settings, SocrataSettings};
use crate::error::RunError;
use crate::report::RunReport;
use crate::run::RecordsJob;

pub(crate) fn knack(
    settings: &Settings,
    key: Option<&SecretString>,
) -> Result<knack_client::Client, RunError> {
    let mut builder = knack_client::Client::builder()
        .app_id(settings.app_id.clone())
        .base_url(settings.knack.api_url.as_str())
        // Plain http off loopback got past validation only through the endpoint's opt-in.
        .allow_insecure_http(is_insecure(&settings.knack.api_url));
    if let Some(key) = key {
        builder = builder.api_key(key.clone());
    }
    builder
        .build()
        .map_err(|e| RunError::Message(build_failed("Knack", &settings.knack.api_url_origin, &e)))
}

pub(crate) fn postgrest(settings: &Settings) -> Result<pgrest_client::Client, RunError> {
    pgrest_client::Client::builder()
        .endpoint(settings.postgrest.endpoint.as_str())
        .jwt(settings.postgrest.jwt.expose_secret())
        .allow_insecure_http(is_insecure(&settings.postgrest.endpoint))
        .build()
        .map_err(|e| {
            RunError::Message(build_failed(
                "PostgREST",
                &settings.postgrest.endpoint_origin,
                &e,
            ))
        })
}

fn options(settings: &Settings, job: &RecordsJob) -> RunOptions {
    RunOptions {
        since: job.since,
        allow_empty_replace: false,
        dry_run: settings.dry_run,
    }
}

fn container(job: &RecordsJob) -> Result<knack_client::Container, RunError> {
    knack_container(&job.container)
}

/// The knack-client container of a validated config container.
pub(crate) fn knack_container(
    c: &crate::config::Container,
) -> Result<knack_client::Container, RunError> {
    let scene = match &c.kind {
        ContainerKind::Object => None,
        ContainerKind::View { scene_id } => Some(scene_id.as_str()),
    };
    knack_client::Container::parse(&c.id, scene).map_err(RunError::pipeline)
}

/// A Socrata client with the publishing credentials.
pub(crate) fn socrata(socrata: &SocrataSettings) -> Result<socrata_client::Client, RunError> {
    socrata_client::Client::builder()
        .domain(socrata.url.as_str())
        .api_key(
            socrata.api_key_id.expose_secret(),
            socrata.api_key_secret.expose_secret(),
        )
        .app_token(socrata.app_token.expose_secret())
        .allow_insecure_http(is_insecure(&socrata.url))
        .build()
        .map_err(|e| RunError::Message(build_failed("Socrata", &socrata.url_origin, &e)))
}

/// An ArcGIS Online client with the publishing credentials.
pub(crate) fn agol(agol: &AgolSettings) -> Result<agol_client::Client, RunError> {
    agol_client::Client::builder()
        .portal_url(agol.url.as_str())
        .credentials(agol.username.clone(), agol.password.expose_secret())
        .allow_insecure_http(is_insecure(&agol.url))
        .build()
        .map_err(|e| RunError::Message(build_failed("ArcGIS Online", &agol.url_origin, &e)))
}

fn publication(settings: &Settings, job: &RecordsJob) -> Result<Publication, RunError> {
    Ok(Publication {
        app_id: settings.app_id.clone(),
        container: container(job)?,
        location_fields: job.container.config.location_fields.clone(),
    })
}

/// Maps knack-etl's outcome onto the CLI's report, logging the run's notes. A failure keeps the
/// counts of what happened before it, for the summary, and is explained for the user.
pub(crate) fn report(
    result: Result<knack_etl::RunReport, RunFailure>,
    settings: &Settings,
) -> Result<RunReport, RunError> {
    let etl = result.map_err(|failure| failed(&failure, settings))?;
    for note in &etl.notes {
        tracing::info!("{note}");
    }
    Ok(counts(&etl, settings.dry_run))
}

/// A pipeline's failure for the user: a preflight refusal as is, anything else explained
/// ([`explain`]) with the counts until the failure, its notes logged.
pub(crate) fn failed(failure: &RunFailure, settings: &Settings) -> RunError {
    if let knack_etl::Error::Preflight(message) = &*failure.error {
        return RunError::Preflight(message.clone());
    }
    for note in &failure.report.notes {
        tracing::warn!("{note}");
    }
    RunError::Stopped {
        message: explain(&failure.error, settings),
        report: Box::new(counts(&failure.report, settings.dry_run)),
    }
}

fn counts(etl: &knack_etl::RunReport, dry_run: bool) -> RunReport {
    RunReport {
        read: etl.read,
        // In a dry run, what would have been written (knack-etl's DryRun counts it so).
        written: etl.written,
        deleted: etl.deleted,
        failed: etl.failed,
        rejected: etl.rejected.len() as u64,
        duration: etl.duration,
        dry_run,
        knack_quota: None,
    }
}

/// Knack metadata of `settings.app_id` → `api.knack_metadata` (upsert on `app_id`).
pub async fn metadata_to_postgrest(settings: &Settings) -> Result<RunReport, RunError> {
    let knack = knack(settings, settings.knack.api_key.as_ref())?;
    let pgrest = postgrest(settings)?;
    let mut run = report(
        metadata_pipeline(&knack, &pgrest, settings.dry_run).await,
        settings,
    )?;
    run.knack_quota = knack.quota();
    Ok(run)
}

/// Knack records of `job.container` → `api.knack`; a full (safe) reload when `job.since` is `None`.
pub async fn records_to_postgrest(
    settings: &Settings,
    knack_api_key: &SecretString,
    job: &RecordsJob,
) -> Result<RunReport, RunError> {
    let knack = knack(settings, Some(knack_api_key))?;
    let pgrest = postgrest(settings)?;
    let container = container(job)?;
    let opts = options(settings, job);
    let (app_id, id) = (&settings.app_id, &job.container.id);
    let result = run_tracked(&pgrest, app_id, id, Destination::Postgrest, &opts, || {
        staging_pipeline(
            &knack,
            &pgrest,
            &container,
            Some(job.container.modified_date_field_id.as_str()),
            &opts,
        )
    })
    .await;
    let mut run = report(result, settings)?;
    run.knack_quota = knack.quota();
    Ok(run)
}

/// Staged records of `job.container` → the Socrata dataset (upsert; safe replace without `since`).
pub async fn records_to_socrata(
    settings: &Settings,
    socrata: &SocrataSettings,
    target: &SocrataTarget,
    job: &RecordsJob,
) -> Result<RunReport, RunError> {
    let pgrest = postgrest(settings)?;
    let client = self::socrata(socrata)?;
    let publication = publication(settings, job)?;
    let opts = options(settings, job);
    let (app_id, id) = (&settings.app_id, &job.container.id);
    let result = run_tracked(&pgrest, app_id, id, Destination::Socrata, &opts, || {
        socrata_pipeline(&pgrest, &client, &publication, target, &opts)
    })
    .await;
    report(result, settings)
}

/// Staged records of `job.container` → the AGOL layer or table (upsert by
/// matching field; without `since`, features the source no longer has are deleted last).
pub async fn records_to_agol(
    settings: &Settings,
    agol: &AgolSettings,
    target: &AgolTarget,
    job: &RecordsJob,
) -> Result<RunReport, RunError> {
    let pgrest = postgrest(settings)?;
    let client = self::agol(agol)?;
    let publication = publication(settings, job)?;
    let opts = options(settings, job);
    let (app_id, id) = (&settings.app_id, &job.container.id);
    let result = run_tracked(&pgrest, app_id, id, Destination::Agol, &opts, || {
        agol_pipeline(&pgrest, &client, &publication, target, &opts)
    })
    .await;
    report(result, settings)
}
