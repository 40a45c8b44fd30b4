//! The config checked against the services it names, before any run: each container against its
//! Knack app's metadata (its fields), its Socrata dataset and its ArcGIS layer (the checks a run
//! makes before its first write, and what the destination would drop), and each
//! `knack_destinations` map against both apps' metadata. Reads only.

use std::collections::HashMap;

use knack_client::{Container, Formatter, Metadata};

use super::{container_at, AppConfig, Apps, ContainerConfig};
use crate::{agol, knack, knack_copy, socrata, Error};

/// A Knack client for app `app_id`, reading its (public) metadata.
pub type KnackFor<'a> =
    dyn Fn(&str) -> Result<knack_client::Client, knack_client::Error> + Sync + 'a;

/// An app's id by the app's name when its config has no `app_id`, or the problem to list.
pub type AppIdFor<'a> = dyn Fn(&str) -> Result<String, String> + Sync + 'a;

/// What [`check_config`] reads with, and where the app ids come from (the config's `app_id`, or
/// whatever the caller falls back on).
pub struct CheckClients<'a> {
    /// Builds the Knack client of an app.
    pub knack: &'a KnackFor<'a>,
    /// Socrata, for the containers' datasets (metadata is public); `None` skips those checks.
    /// A client that could not be built is listed as a problem of each container it was for.
    pub socrata: Option<Result<socrata_client::Client, socrata_client::Error>>,
    /// ArcGIS Online, for the containers' layers (rarely public, so usually with credentials);
    /// `None` skips those checks.
    pub agol: Option<agol_client::Client>,
    /// A source app's id when its config names none (`aks`: `KNACK_APP_ID`).
    pub app_id: &'a AppIdFor<'a>,
    /// A Knack destination app's id when its config names none (`aks`: `KNACK_APP_ID_DEST`).
    pub dest_app_id: &'a AppIdFor<'a>,
}

/// Why [`check_config`] could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A service gave no answer at all ([`Error::is_unanswered`]), which says nothing about the
    /// config; the error names the service (`Error::Knack`, `Error::Socrata`, `Error::Agol`).
    #[error("{0}")]
    Unreachable(Error),
    /// The Knack client of an app could not be built.
    #[error(transparent)]
    Client(knack_client::Error),
}

/// Every mismatch between `apps` and the services, one sentence each beginning with its place
/// (`[apps.<app>.containers.<id>]`); empty when everything matches. Each app's metadata is read
/// once. Containers are checked app by app, then the `knack_destinations` maps.
///
/// # Errors
/// [`CheckError::Unreachable`] as soon as a service gives no answer; a Knack client that cannot
/// be built.
pub async fn check_config(
    apps: &Apps,
    clients: &CheckClients<'_>,
) -> Result<Vec<String>, CheckError> {
    let mut check = Check {
        clients,
        metadata: HashMap::new(),
        out: Vec::new(),
    };
    for (name, app) in apps {
        check.app(name, app).await?;
    }
    for (name, app) in apps {
        check.destinations(apps, name, app).await?;
    }
    Ok(check.out)
}

/// One run of the check: the clients, each app's metadata once, the problems so far.
struct Check<'a> {
    clients: &'a CheckClients<'a>,
    metadata: HashMap<String, Result<Metadata, String>>,
    out: Vec<String>,
}

impl Check<'_> {
    /// The app's metadata, or (inner `Err`) the problem to list (no such app, ...).
    async fn metadata(&mut self, app_id: &str) -> Result<Result<Metadata, String>, CheckError> {
        if let Some(found) = self.metadata.get(app_id) {
            return Ok(found.clone());
        }
        let client = (self.clients.knack)(app_id).map_err(CheckError::Client)?;
        let found = match client.metadata().await {
            Ok(m) => Ok(m),
            Err(e) => Err(problem(
                format!("Knack metadata for app {app_id} could not be read: "),
                e.into(),
            )?),
        };
        self.metadata.insert(app_id.to_owned(), found.clone());
        Ok(found)
    }

    /// The app `id` names and its metadata, or `None` with why not listed after `at` (no id,
    /// metadata that cannot be read).
    async fn metadata_at(
        &mut self,
        at: &str,
        id: Result<String, String>,
    ) -> Result<Option<(String, Metadata)>, CheckError> {
        let found = match id {
            Ok(id) => self.metadata(&id).await?.map(|m| (id, m)),
            Err(problem) => Err(problem),
        };
        Ok(found.map_err(|p| self.out.push(format!("{at}: {p}"))).ok())
    }

    async fn app(&mut self, name: &str, app: &AppConfig) -> Result<(), CheckError> {
        let id = app_id(app.app_id.as_ref(), name, self.clients.app_id);
        let Some((_, metadata)) = self.metadata_at(&format!("[apps.{name}]"), id).await? else {
            return Ok(());
        };
        for (id, c) in &app.containers {
            let at = container_at(name, id);
            let formatter = Container::parse(id, c.scene_id.as_deref())
                .and_then(|container| Ok((Formatter::new(&metadata, &container)?, container)));
            let (formatter, container) = match formatter {
                Ok(found) => found,
                Err(e) => {
                    self.out.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let fields = c.modified_date_field_id.iter().chain(&c.location_fields);
            let unknown = knack::unknown_fields(&formatter, &container, fields.map(String::as_str));
            self.out
                .extend(unknown.into_iter().map(|p| format!("{at}: {p}")));
            self.socrata(&at, c, &formatter).await?;
            self.agol(&at, c, &formatter).await?;
        }
        Ok(())
    }

    async fn socrata(
        &mut self,
        at: &str,
        c: &ContainerConfig,
        f: &Formatter,
    ) -> Result<(), CheckError> {
        let (Some(client), Some(resource)) = (&self.clients.socrata, &c.socrata_resource_id) else {
            return Ok(());
        };
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                self.out.push(format!("{at}: Socrata client: {e}"));
                return Ok(());
            }
        };
        // The same checks a run makes before its first write, and the columns it would drop.
        let found = client.metadata(resource).await.map_err(Error::from);
        let problems = found.map(|dataset| socrata::dataset_problems(resource, &dataset, f));
        self.add(at, problems, format!("{at}: Socrata dataset {resource}: "))
    }

    async fn agol(
        &mut self,
        at: &str,
        c: &ContainerConfig,
        f: &Formatter,
    ) -> Result<(), CheckError> {
        let Some(client) = &self.clients.agol else {
            return Ok(());
        };
        let (Some(service), Some(index), Some(item_type)) =
            (&c.service_id, c.layer_id, c.item_type)
        else {
            return Ok(());
        };
        // The same checks a run makes before its first write, and the fields it would not store.
        let found = client
            .layer_from_item(service, item_type.selector(index))
            .await;
        let field = c.matching_field();
        let found = found.map(|layer| agol::layer_problems(layer.info(), field, f));
        self.add(
            at,
            found.map_err(Error::from),
            format!("{at}: ArcGIS Online item {service}: "),
        )
    }

    /// `found`'s problems, each after `at`; or the error that stopped them, after `said`.
    fn add(
        &mut self,
        at: &str,
        found: Result<Vec<String>, Error>,
        said: String,
    ) -> Result<(), CheckError> {
        match found {
            Ok(problems) => self
                .out
                .extend(problems.into_iter().map(|p| format!("{at}: {p}"))),
            Err(e) => self.out.push(problem(said, e)?),
        }
        Ok(())
    }

    /// App `name`'s `knack_destinations`: each map against both apps' metadata (source keys in
    /// the source container, destination fields in the destination object, the destination
    /// container in the destination app).
    async fn destinations(
        &mut self,
        apps: &Apps,
        name: &str,
        app: &AppConfig,
    ) -> Result<(), CheckError> {
        for (cid, c) in &app.containers {
            if c.knack_destinations.is_empty() {
                continue;
            }
            let at = container_at(name, cid);
            // Without it, the container check has already said the app cannot be checked.
            let Ok(source_id) = app_id(app.app_id.as_ref(), name, self.clients.app_id) else {
                continue;
            };
            let Some((_, source)) = self.metadata_at(&at, Ok(source_id)).await? else {
                continue;
            };
            let container = Container::parse(cid, c.scene_id.as_deref()).ok();
            for (dest, d) in &c.knack_destinations {
                let at = format!("{at} knack_destinations.{dest}");
                if let Some(container) = &container {
                    let problems = knack_copy::check_source(&source, container, &d.fields);
                    self.out
                        .extend(problems.into_iter().map(|p| format!("{at}: {p}")));
                }
                let configured = apps.get(dest).and_then(|a| a.app_id.as_ref());
                let dest_id = app_id(configured, dest, self.clients.dest_app_id);
                let Some((dest_id, target)) = self.metadata_at(&at, dest_id).await? else {
                    continue;
                };
                let problems = knack_copy::check_destination(
                    &target,
                    &dest_id,
                    &d.container,
                    &d.object,
                    &d.fields,
                );
                self.out
                    .extend(problems.into_iter().map(|p| format!("{at}: {p}")));
            }
        }
        Ok(())
    }
}

/// App `name`'s id: its `configured` `app_id`, else what `fallback` finds for it (or the
/// problem to list).
fn app_id(
    configured: Option<&String>,
    name: &str,
    fallback: &AppIdFor<'_>,
) -> Result<String, String> {
    configured.cloned().map_or_else(|| fallback(name), Ok)
}

/// `said` followed by `e` and the causes (its `source()` chain) the message does not already
/// say, as the problem to list; or, when the service gave no answer, the check's end.
fn problem(said: String, e: Error) -> Result<String, CheckError> {
    if e.is_unanswered() {
        return Err(CheckError::Unreachable(e));
    }
    let message = format!("{said}{e}");
    let causes = e.causes(&message);
    Ok(if causes.is_empty() {
        message
    } else {
        format!("{message} (cause: {})", causes.join(": "))
    })
}
