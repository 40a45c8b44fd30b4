//! Where each stage got to: `api.knack_sync_state`, one row per (app, container, destination),
//! read and written through PostgREST with the pipelines' own JWT.
//!
//! A watermark is a time by the **database's** clock, never the machine running the pipeline:
//! opening a run upserts the stage's row, the table's trigger stamps `updated_at = now()`, and that
//! stamp is the run's start. Every row of `api.knack` committed before it has an older
//! `updated_at` (same clock), so a next run reading `updated_at >= watermark` skips nothing that was
//! written before this run started, whatever the skew of the machine running `aks`. The stamp
//! becomes the stage's watermark only when the run succeeded and covered everything since the
//! previous watermark.

use chrono::{DateTime, Duration, Utc};
use pgrest_client::{Client, Query, Upsert};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// The table (in the staging store's schema).
pub(crate) const SYNC_STATE_TABLE: &str = "knack_sync_state";
/// Its primary key, the upserts' conflict target.
pub(crate) const SYNC_STATE_KEY: [&str; 3] = ["app_id", "container_id", "destination"];

/// How far before its watermark the Knack stage reads. Knack stamps modified dates with its own
/// clock, not the database's; Knack filters by whole day anyway, so the margin only matters in the
/// minutes after local midnight, where it absorbs a skew of up to this much between the two.
pub(crate) const KNACK_CLOCK_MARGIN: Duration = Duration::minutes(15);

/// The stage a watermark belongs to, named after where it writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    /// Knack → `api.knack`.
    Postgrest,
    /// `api.knack` → the Socrata dataset.
    Socrata,
    /// `api.knack` → the ArcGIS Online layer or table.
    Agol,
    /// `api.knack` → another Knack app (records-to-knack); holds the stored name,
    /// `knack:<destination app's name in the config>` ([`Destination::knack`]).
    Knack(String),
}

impl Destination {
    /// The copy into the Knack app configured as `[apps.<app_name>]`.
    pub fn knack(app_name: &str) -> Self {
        Destination::Knack(format!("{KNACK_PREFIX}{app_name}"))
    }

    /// `postgrest`, `socrata`, `agol` or `knack:<app name>`, as stored (the table's CHECK allows
    /// only these).
    pub fn as_str(&self) -> &str {
        match self {
            Destination::Postgrest => "postgrest",
            Destination::Socrata => "socrata",
            Destination::Agol => "agol",
            Destination::Knack(stored) => stored,
        }
    }

    /// The stored name back as a destination; `None` for a name the table's CHECK refuses.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "postgrest" => Some(Destination::Postgrest),
            "socrata" => Some(Destination::Socrata),
            "agol" => Some(Destination::Agol),
            knack if knack.len() > KNACK_PREFIX.len() && knack.starts_with(KNACK_PREFIX) => {
                Some(Destination::Knack(knack.to_string()))
            }
            _ => None,
        }
    }
}

/// What a Knack destination's stored name starts with.
const KNACK_PREFIX: &str = "knack:";

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Destination {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Destination {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = String::deserialize(deserializer)?;
        Destination::parse(&stored).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown destination `{stored}`: expected postgrest, socrata, agol or knack:<app>"
            ))
        })
    }
}

/// One row of `api.knack_sync_state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// The Knack application id.
    pub app_id: String,
    /// The container (object or view key).
    pub container_id: String,
    /// The stage.
    pub destination: Destination,
    /// Database time from which the next incremental run reads; `None` before the first success.
    #[serde(default)]
    pub watermark: Option<DateTime<Utc>>,
    /// Database time at which the last finished run started.
    #[serde(default)]
    pub last_run_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    #[serde(default)]
    pub last_result: Option<String>,
    /// The last run's report: counts, seconds, `since`, notes and the error, if any.
    #[serde(default)]
    pub last_report: Option<Value>,
    /// What the stage's last successful run was computed from (a
    /// [`Fingerprint`](super::schema::Fingerprint) as JSON); `None` before the first.
    #[serde(default)]
    pub schema_fingerprint: Option<Value>,
    /// The last schema change found for the stage and republished, in words.
    #[serde(default)]
    pub schema_change: Option<String>,
    /// Database time at which the run that found it started.
    #[serde(default)]
    pub schema_changed_at: Option<DateTime<Utc>>,
    /// Database time of the row's last write.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The opened run of one stage: its start by the database's clock, the watermark and the schema
/// fingerprint it found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Opened {
    /// `updated_at` of the row the opening wrote: the run's start, the database's clock.
    pub started: DateTime<Utc>,
    /// The stage's watermark before this run.
    pub previous: Option<DateTime<Utc>>,
    /// The stage's schema fingerprint before this run.
    pub fingerprint: Option<Value>,
}

/// How a stage's run ended, as [`Watermarks::close`] records it.
pub(crate) struct Ending {
    /// The `last_report` JSON ([`report_json`]).
    pub report: Value,
    /// Whether the run succeeded with no failed or rejected record.
    pub succeeded: bool,
    /// Whether the watermark moves to the run's start.
    pub advance: bool,
    /// The schema fingerprint to store and what changed (dated at the run's start).
    pub schema: Option<(Value, Option<String>)>,
}

/// The watermarks of one app in the staging store.
#[derive(Debug, Clone)]
pub struct Watermarks {
    client: Client,
    app_id: String,
}

#[derive(Serialize)]
struct Key<'a> {
    app_id: &'a str,
    container_id: &'a str,
    destination: &'a Destination,
}

impl Watermarks {
    /// The watermarks of `app_id`, through `client` (the staging store's PostgREST).
    pub fn new(client: Client, app_id: &str) -> Self {
        Self {
            client,
            app_id: app_id.to_string(),
        }
    }

    /// Every row of the app, ordered by container and destination (one request).
    ///
    /// # Errors
    /// [`Error::Postgrest`], e.g. a 404 `PGRST205` when the table is missing (`aks db init`
    /// creates it).
    pub async fn all(&self) -> Result<Vec<SyncState>, Error> {
        let query = Query::new()
            .eq("app_id", self.app_id.as_str())
            .order_asc("container_id")
            .order_asc("destination");
        Ok(self.client.select(SYNC_STATE_TABLE, &query).await?)
    }

    /// The row of one stage, if any (one request).
    ///
    /// # Errors
    /// As [`Watermarks::all`].
    pub async fn get(
        &self,
        container_id: &str,
        destination: Destination,
    ) -> Result<Option<SyncState>, Error> {
        let query = Query::new()
            .eq("app_id", self.app_id.as_str())
            .eq("container_id", container_id)
            .eq("destination", destination.as_str())
            .limit(1);
        let mut rows: Vec<SyncState> = self.client.select(SYNC_STATE_TABLE, &query).await?;
        Ok(rows.pop())
    }

    /// Marks the stage `running` and returns the database's time of that write, the watermark and
    /// the schema fingerprint the row held (one request; the upsert leaves the other columns as
    /// they were).
    ///
    /// # Errors
    /// As [`Watermarks::all`].
    pub(crate) async fn open(
        &self,
        container_id: &str,
        destination: Destination,
    ) -> Result<Opened, Error> {
        #[derive(Serialize)]
        struct Running<'a> {
            #[serde(flatten)]
            key: Key<'a>,
            last_result: &'static str,
        }
        #[derive(Deserialize)]
        struct Stamp {
            watermark: Option<DateTime<Utc>>,
            updated_at: DateTime<Utc>,
            #[serde(default)]
            schema_fingerprint: Option<Value>,
        }
        let row = Running {
            key: self.key(container_id, &destination),
            last_result: "running",
        };
        let returned = ["watermark", "updated_at", "schema_fingerprint"];
        let upsert = Upsert::on_conflict(SYNC_STATE_KEY).returning(returned);
        let mut stamps: Vec<Stamp> = self
            .client
            .upsert_returning(SYNC_STATE_TABLE, &[row], &upsert)
            .await?;
        let stamp = stamps.pop().ok_or_else(|| {
            Error::Staging(format!(
                "PostgREST returned no row for the {SYNC_STATE_TABLE} upsert of {container_id}/{destination}"
            ))
        })?;
        Ok(Opened {
            started: stamp.updated_at,
            previous: stamp.watermark,
            fingerprint: stamp.schema_fingerprint,
        })
    }

    /// Records how the run opened by `opened` ended (one request).
    ///
    /// # Errors
    /// As [`Watermarks::all`].
    pub(crate) async fn close(
        &self,
        container_id: &str,
        destination: Destination,
        opened: &Opened,
        ending: Ending,
    ) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Closed<'a> {
            #[serde(flatten)]
            key: Key<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            watermark: Option<DateTime<Utc>>,
            last_run_at: DateTime<Utc>,
            last_result: &'static str,
            last_report: Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            schema_fingerprint: Option<Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            schema_change: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            schema_changed_at: Option<DateTime<Utc>>,
        }
        let (fingerprint, change) = ending.schema.unzip();
        let change = change.flatten();
        let row = Closed {
            key: self.key(container_id, &destination),
            watermark: ending.advance.then_some(opened.started),
            last_run_at: opened.started,
            last_result: if ending.succeeded {
                "succeeded"
            } else {
                "failed"
            },
            last_report: ending.report,
            schema_fingerprint: fingerprint,
            schema_changed_at: change.as_ref().map(|_| opened.started),
            schema_change: change,
        };
        self.client
            .upsert(
                SYNC_STATE_TABLE,
                &[row],
                &Upsert::on_conflict(SYNC_STATE_KEY),
            )
            .await?;
        Ok(())
    }

    fn key<'a>(&'a self, container_id: &'a str, destination: &'a Destination) -> Key<'a> {
        Key {
            app_id: &self.app_id,
            container_id,
            destination,
        }
    }
}

/// A store without the table (an older staging schema) answers 404, one without its schema
/// fingerprint columns 400 naming the column: say how to add them. Any other error (an expired
/// JWT, a 503) is the store's own and says its own fix.
pub(super) fn explain_missing_table(
    error: Error,
    container_id: &str,
    destination: &Destination,
) -> Error {
    let (what, e) = match &error {
        Error::Postgrest(e) if e.status() == Some(404) => (format!("no api.{SYNC_STATE_TABLE}"), e),
        Error::Postgrest(e)
            if e.status() == Some(400) && e.to_string().contains("schema_fingerprint") =>
        {
            let what = format!("no column schema_fingerprint in api.{SYNC_STATE_TABLE}");
            (what, e)
        }
        _ => return error,
    };
    Error::Staging(format!(
        "cannot read or record the {destination} watermark of {container_id}: the staging store \
         has {what} ({e}); nothing was written. Apply the staging schema again (`aks db init`), \
         which adds it"
    ))
}
