//! A staged container as the publishers read it: which container ([`Publication`]), its
//! formatter and fields from the stored metadata, its staged records (all, since an instant, or
//! only named ones) formatted one by one, and the ids the containers sharing its destination keep.

use knack_client::{Container, FormattedValues, Formatter, RawRecord, RecordSelector};

use super::metadata::load_metadata;
use super::source::{record_ids, StagingSource};
use crate::engine::RunOptions;
use crate::transform::FieldSpec;
use crate::Error;

/// The formatter's labels in its order (the first is the record id's, `id`).
pub(crate) fn labels(formatter: &Formatter) -> Vec<&str> {
    formatter
        .fields()
        .iter()
        .map(|f| f.label.as_str())
        .collect()
}

/// A staged record formatted straight from its text (see [`RecordSelector::format`]).
pub(crate) fn format_staged(
    selector: &RecordSelector,
    staged: &RawRecord,
) -> Result<FormattedValues, Error> {
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
pub(crate) async fn formatter_for(
    pgrest: &pgrest_client::Client,
    publication: &Publication,
) -> Result<(Formatter, Vec<FieldSpec>), Error> {
    let metadata = load_metadata(pgrest, &publication.app_id).await?;
    let formatter = Formatter::new(&metadata, &publication.container)?;
    let fields = formatter
        .fields()
        .iter()
        .filter(|f| f.key != "id")
        .map(|f| FieldSpec::new(&f.key, &f.label, f.field_type.as_str()))
        .collect();
    Ok((formatter, fields))
}

/// The app and container a `shared_with` entry names: `container_id` (a container of app
/// `app_id`) or `<app id>/<container_id>` (a container of another app).
pub(crate) fn sharer<'a>(app_id: &'a str, entry: &'a str) -> (&'a str, &'a str) {
    entry.split_once('/').unwrap_or((app_id, entry))
}

/// The (app, container) pairs of `shared_with` other than (`app_id`, `container_id`) itself.
pub(crate) fn sharers<'a>(
    app_id: &'a str,
    container_id: &'a str,
    shared_with: &'a [String],
) -> impl Iterator<Item = (&'a str, &'a str)> {
    shared_with
        .iter()
        .map(move |e| sharer(app_id, e))
        .filter(move |pair| *pair != (app_id, container_id))
}

/// The record ids the other containers publishing to the same destination have staged, whichever
/// app they belong to: a replace keeps them.
pub(crate) async fn kept_ids(
    pgrest: &pgrest_client::Client,
    publication: &Publication,
    shared_with: &[String],
) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    let own = (publication.app_id.as_str(), publication.container.id());
    for (app, container) in sharers(own.0, own.1, shared_with) {
        ids.extend(record_ids(pgrest, app, container).await?);
    }
    Ok(ids)
}

/// The container's staged records a publisher reads: written on or after `options.since`, and
/// only those `only` names when given.
pub(crate) fn staged(
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
