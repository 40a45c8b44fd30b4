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

/// The record ids the other containers publishing to the same destination have staged: a
/// replace keeps them.
pub(crate) async fn kept_ids(
    pgrest: &pgrest_client::Client,
    publication: &Publication,
    shared_with: &[String],
) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    for container in shared_with
        .iter()
        .filter(|c| *c != publication.container.id())
    {
        ids.extend(record_ids(pgrest, &publication.app_id, container).await?);
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
