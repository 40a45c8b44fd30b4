//! Watermarks in the fake staging store: stamped by the database's clock, advanced only by a run
//! that succeeded and covered everything since the last one.

use chrono::{DateTime, Duration, Utc};
use knack_etl::pgrest_client::testkit::FakePostgrest;
use knack_etl::sync::{Destination, Since, Watermarks};
use knack_etl::{Error, RunFailure, RunReport};

const APP: &str = "app1";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn store() -> (FakePostgrest, Watermarks) {
    let fake = FakePostgrest::staging("jwt").await;
    let client = fake.client_builder().build().unwrap();
    (fake, Watermarks::new(client, APP))
}

/// A run of `view_1` that succeeds.
async fn succeed(marks: &Watermarks, destination: Destination, since: Since) {
    marks
        .tracked("view_1", destination, since, false, |_| async { ok(1) })
        .await;
}

fn ok(read: u64) -> Result<RunReport, RunFailure> {
    Ok(RunReport {
        read,
        written: read,
        ..RunReport::default()
    })
}

#[tokio::test]
async fn the_watermark_is_the_databases_clock_at_the_start_not_the_local_one() {
    let (fake, marks) = store().await;
    // The database's clock is years away from this machine's.
    let db_start = t("2031-05-01T12:00:00Z");
    fake.set_now(db_start);
    let tracked = marks
        .tracked(
            "view_1",
            Destination::Socrata,
            Since::Watermark {
                margin: Duration::zero(),
            },
            false,
            |since| async move {
                assert_eq!(since, None, "no watermark yet: a full run");
                ok(5)
            },
        )
        .await;
    assert_eq!(tracked.watermark, Some(db_start));
    let row = marks
        .get("view_1", Destination::Socrata)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.watermark, Some(db_start));
    assert_eq!(row.last_run_at, Some(db_start));
    assert_eq!(row.last_result.as_deref(), Some("succeeded"));
    assert_eq!(row.last_report.unwrap()["read"], 5);

    // The next run reads from it (less the margin asked for).
    fake.set_now(db_start + Duration::hours(1));
    let tracked = marks
        .tracked(
            "view_1",
            Destination::Socrata,
            Since::Watermark {
                margin: Duration::minutes(15),
            },
            false,
            |since| async move {
                assert_eq!(since, Some(db_start - Duration::minutes(15)));
                ok(1)
            },
        )
        .await;
    assert_eq!(tracked.watermark, Some(db_start + Duration::hours(1)));
}

#[tokio::test]
async fn a_failed_run_or_failed_records_leave_the_watermark_where_it_was() {
    let (fake, marks) = store().await;
    let first = t("2030-01-01T00:00:00Z");
    fake.set_now(first);
    let since = Since::Watermark {
        margin: Duration::zero(),
    };
    marks
        .tracked("view_1", Destination::Agol, since, false, |_| async {
            ok(3)
        })
        .await;

    fake.set_now(first + Duration::hours(1));
    let tracked = marks
        .tracked("view_1", Destination::Agol, since, false, |_| async {
            Err(RunFailure {
                report: RunReport {
                    read: 2,
                    written: 1,
                    ..RunReport::default()
                },
                error: Box::new(Error::Refused("refused by the test".into())),
            })
        })
        .await;
    assert!(tracked.result.is_err());
    assert_eq!(tracked.watermark, Some(first));
    let row = marks
        .get("view_1", Destination::Agol)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.watermark, Some(first));
    assert_eq!(row.last_result.as_deref(), Some("failed"));
    assert_eq!(row.last_report.unwrap()["error"], "refused by the test");

    fake.set_now(first + Duration::hours(2));
    marks
        .tracked("view_1", Destination::Agol, since, false, |_| async {
            Ok(RunReport {
                read: 2,
                written: 1,
                failed: 1,
                ..RunReport::default()
            })
        })
        .await;
    let row = marks
        .get("view_1", Destination::Agol)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.watermark,
        Some(first),
        "a run with failed records does not advance"
    );
}

#[tokio::test]
async fn an_explicit_date_after_the_watermark_does_not_advance_it_one_before_does() {
    let (fake, marks) = store().await;
    let first = t("2030-01-01T00:00:00Z");
    fake.set_now(first);
    succeed(&marks, Destination::Postgrest, Since::Given(None)).await;
    fake.set_now(first + Duration::days(2));
    // Records between the watermark and this date were not read: the watermark must stay.
    let later = Since::Given(Some(first + Duration::days(1)));
    marks
        .tracked("view_1", Destination::Postgrest, later, false, |_| async {
            ok(1)
        })
        .await;
    let row = marks
        .get("view_1", Destination::Postgrest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.watermark, Some(first));
    let earlier = Since::Given(Some(first - Duration::days(1)));
    fake.set_now(first + Duration::days(3));
    succeed(&marks, Destination::Postgrest, earlier).await;
    let row = marks
        .get("view_1", Destination::Postgrest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.watermark, Some(first + Duration::days(3)));
}

#[tokio::test]
async fn a_dry_run_reads_the_watermark_and_writes_nothing() {
    let (fake, marks) = store().await;
    let first = t("2030-01-01T00:00:00Z");
    fake.set_now(first);
    succeed(&marks, Destination::Socrata, Since::Given(None)).await;
    let rows = fake.rows("knack_sync_state");
    fake.clear_requests();
    let tracked = marks
        .tracked(
            "view_1",
            Destination::Socrata,
            Since::Watermark {
                margin: Duration::zero(),
            },
            true,
            |since| async move {
                assert_eq!(since, Some(first));
                ok(1)
            },
        )
        .await;
    assert_eq!(tracked.watermark, Some(first));
    assert_eq!(fake.rows("knack_sync_state"), rows);
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn a_missing_table_stops_the_stage_before_it_runs_and_names_the_fix() {
    let fake = FakePostgrest::builder().jwt("jwt").start().await;
    let marks = Watermarks::new(fake.client_builder().build().unwrap(), APP);
    let tracked = marks
        .tracked(
            "view_1",
            Destination::Socrata,
            Since::Given(None),
            false,
            |_| async { panic!("the stage must not run") },
        )
        .await;
    let error = tracked.result.unwrap_err().error.to_string();
    assert!(
        error.contains("aks db init") && error.contains("nothing was written"),
        "{error}"
    );
}

/// A store whose `api.knack_sync_state` predates the schema fingerprint columns: the stage does
/// not run, nothing is written, and the error names the column and `aks db init`.
#[tokio::test]
async fn a_sync_state_without_fingerprint_columns_stops_the_stage_and_names_the_fix() {
    use knack_etl::pgrest_client::testkit::TableSpec;
    let old = TableSpec::new("knack_sync_state")
        .primary_key(["app_id", "container_id", "destination"])
        .auto_now("updated_at")
        .columns([
            "app_id",
            "container_id",
            "destination",
            "watermark",
            "last_run_at",
            "last_result",
            "last_report",
            "updated_at",
        ]);
    let fake = FakePostgrest::builder().jwt("jwt").table(old).start().await;
    let marks = Watermarks::new(fake.client_builder().build().unwrap(), APP);
    let tracked = marks
        .tracked(
            "view_1",
            Destination::Socrata,
            Since::Given(None),
            false,
            |_| async { panic!("the stage must not run") },
        )
        .await;
    let error = tracked.result.unwrap_err().error.to_string();
    assert!(
        error.contains("no column schema_fingerprint") && error.contains("aks db init"),
        "{error}"
    );
    assert!(fake.rows("knack_sync_state").is_empty(), "nothing written");
}
