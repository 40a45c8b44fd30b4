//! `aks sync` and `aks status` end to end: the real binary against the four fakes, watermarks
//! kept in the fake staging store's `knack_sync_state`.

mod common;

use std::time::Duration;

use common::sync::{
    change_in_knack, counts, mark_no_replace, row, run, socrata_client, socrata_upserted_ids,
    state, stdout, SYNC,
};
use common::{fixture, stderr, Fakes, APP, APP_ID, DATASET, RECORDS, VIEW};
use knack_etl::knack_client::Container;
use knack_etl::socrata_client::testkit::Fault;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn first_sync_without_watermarks_is_a_full_load_and_safe_replace() {
    let fakes = Fakes::start().await;
    fakes.knack.set_plan_limit(5000, 5000);
    // A row the source does not have: a replace removes it, only after every upsert.
    socrata_client(&fakes)
        .upsert(DATASET, &[json!({"id": "stale-row"})])
        .await
        .unwrap();
    fakes.socrata.clear_requests();

    let out = run(&fakes, SYNC, 0).await;
    let n = RECORDS as u64;
    assert_eq!(row(&out, VIEW, "postgrest")[2], "full");
    assert_eq!(counts(&out, VIEW, "postgrest"), [n, n, 0]);
    assert_eq!(counts(&out, VIEW, "socrata"), [n, n, 1]);
    assert_eq!(counts(&out, VIEW, "agol")[..2], [n, n]);
    // The one Knack client's last reading: the fake counts down one per request.
    let left = 5000 - fakes.knack.requests().len();
    assert!(
        stdout(&out).contains(&format!("Knack quota left {left} of 5000")),
        "{}",
        stdout(&out)
    );
    let rows = fakes.socrata.rows(DATASET);
    assert_eq!(rows.len(), RECORDS, "the stale row is gone: {rows:?}");
    assert_eq!(fakes.agol.features(0).len(), RECORDS);

    for dest in ["postgrest", "socrata", "agol"] {
        let s = state(&fakes, dest);
        assert_eq!(s["app_id"], APP_ID);
        assert_eq!(s["last_result"], "succeeded", "{s}");
        assert!(s["watermark"].is_string(), "{dest}: {s}");
        assert_eq!(s["last_report"]["read"], RECORDS as u64, "{s}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mis_set_destination_stops_the_whole_sync_before_any_write() {
    let fakes = Fakes::start().await;
    let mut meta = fixture("socrata_dataset.json");
    meta.as_object_mut().unwrap().remove("row_identifier");
    fakes
        .socrata
        .add_dataset(knack_etl::socrata_client::testkit::FakeDataset::from_metadata(&meta));

    let out = run(&fakes, SYNC, 2).await;
    let err = stderr(&out);
    assert!(
        err.contains(&format!("Socrata dataset {DATASET}")) && err.contains("text column `id`"),
        "{err}"
    );
    assert!(
        fakes.writes().is_empty(),
        "checked before the first write, staging and watermarks included: {:?}",
        fakes.writes()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_that_may_not_be_replaced_gets_an_upsert_of_everything_on_its_first_sync() {
    let fakes = Fakes::start().await;
    mark_no_replace(&fakes);
    socrata_client(&fakes)
        .upsert(DATASET, &[json!({"id": "kept-row"})])
        .await
        .unwrap();

    let out = run(&fakes, SYNC, 0).await;
    assert_eq!(counts(&out, VIEW, "socrata"), [60, 60, 0]);
    assert_eq!(
        fakes.socrata.rows(DATASET).len(),
        RECORDS + 1,
        "nothing deleted"
    );
    assert_eq!(state(&fakes, "socrata")["last_result"], "succeeded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sync_republishes_only_what_changed_in_knack() {
    let fakes = Fakes::start().await;
    run(&fakes, SYNC, 0).await;
    let first = state(&fakes, "socrata")["watermark"].clone();
    let changed = change_in_knack(&fakes, 10);
    fakes.socrata.clear_requests();
    fakes.knack.clear_requests();

    let out = run(&fakes, SYNC, 0).await;
    for stage in ["postgrest", "socrata", "agol"] {
        assert_eq!(counts(&out, VIEW, stage), [10, 10, 0], "{stage}");
    }
    // Knack was asked for records modified on or after the watermark's day only.
    let filters: Vec<String> = fakes
        .knack
        .requests()
        .iter()
        .filter_map(|r| r.query_param("filters").map(str::to_string))
        .collect();
    assert!(
        !filters.is_empty() && filters.iter().all(|f| f.contains("field_21")),
        "{filters:?}"
    );
    assert_eq!(socrata_upserted_ids(&fakes), changed);
    let published: Vec<Value> = fakes
        .socrata
        .rows(DATASET)
        .into_iter()
        .filter(|r| changed.contains(r["id"].as_str().unwrap_or_default()))
        .map(Value::Object)
        .collect();
    assert_eq!(published.len(), 10);
    assert_ne!(
        state(&fakes, "socrata")["watermark"],
        first,
        "the watermark advanced"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_publisher_keeps_its_watermark_and_the_next_sync_catches_up() {
    let fakes = Fakes::start().await;
    run(&fakes, SYNC, 0).await;
    let before = state(&fakes, "socrata");
    let changed = change_in_knack(&fakes, 10);
    // The Socrata write of this run is refused for the whole run (a 403 is neither retried nor
    // narrowed down to records, unlike a 400: knack-etl's README, "When a record is rejected").
    fakes
        .socrata
        .inject(Fault::status(403).on_method("POST").times(1));

    let out = run(&fakes, SYNC, 1).await;
    assert!(row(&out, VIEW, "socrata")[8].starts_with("FAILED"));
    assert_eq!(
        row(&out, VIEW, "agol")[8],
        "ok",
        "the other publisher still ran"
    );
    assert!(
        stderr(&out).contains("1 stage(s) failed or were skipped (every stage not listed ran)"),
        "{}",
        stderr(&out)
    );
    let after = state(&fakes, "socrata");
    assert_eq!(
        after["watermark"], before["watermark"],
        "unchanged on failure"
    );
    assert_eq!(after["last_result"], "failed");
    assert!(after["last_report"]["error"].is_string(), "{after}");

    // Clear what is left of the fault, then sync again: the missed rows are published.
    let client = socrata_client(&fakes);
    while client
        .upsert(DATASET, &[json!({"id": "probe"})])
        .await
        .is_err()
    {}
    client.delete(DATASET, "id", &["probe"]).await.unwrap();
    fakes.socrata.clear_requests();
    let out = run(&fakes, SYNC, 0).await;
    assert_eq!(counts(&out, VIEW, "socrata")[1], 10);
    assert_eq!(socrata_upserted_ids(&fakes), changed);
    assert_eq!(state(&fakes, "socrata")["last_result"], "succeeded");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_containers_synced_at_once_share_one_knack_budget() {
    let fakes = Fakes::start().await;
    fakes.knack.set_rate_limit(Some(10));
    // Two containers with 6,000 records each: 6 pages of 1,000 apiece, 13 Knack requests with the
    // metadata, more than one second's worth.
    let template = fixture("records_view_1.json")[0].clone();
    for (n, container) in [
        (1, Container::object("object_1").unwrap()),
        (2, Container::object("object_2").unwrap()),
    ] {
        let records = (0..6000)
            .map(|i| {
                let mut r = template.clone();
                r["id"] = json!(format!("{n:02x}{i:022x}"));
                r
            })
            .collect();
        fakes.knack.set_records(&container, records);
    }
    let mut config = std::fs::read_to_string(&fakes.config).unwrap();
    for object in ["object_1", "object_2"] {
        config.push_str(&format!(
            "\n[apps.{APP}.containers.{object}]\nmodified_date_field_id = \"field_21\"\n"
        ));
    }
    std::fs::write(&fakes.config, config).unwrap();
    fakes.knack.clear_requests();

    let out = run(
        &fakes,
        &[
            "sync",
            "-a",
            APP,
            "-e",
            "dev",
            "-c",
            "object_1",
            "-c",
            "object_2",
            "--concurrency",
            "2",
        ],
        0,
    )
    .await;
    assert_eq!(counts(&out, "object_1", "postgrest")[1], 6000);
    assert_eq!(counts(&out, "object_2", "postgrest")[1], 6000);
    let requests = fakes.knack.requests();
    assert!(requests.len() >= 13, "{}", requests.len());
    assert!(
        requests.iter().all(|r| r.status != 429),
        "Knack answered 429"
    );
    let most = fakes.knack.max_requests_in_window(Duration::from_secs(1));
    assert!(most <= 10, "{most} requests within one second");
    // Both containers were read during the same stretch of time (not one after the other).
    let first_of = |o: &str| requests.iter().position(|r| r.path.contains(o)).unwrap();
    let last_of = |o: &str| requests.iter().rposition(|r| r.path.contains(o)).unwrap();
    assert!(
        first_of("object_2") < last_of("object_1"),
        "containers ran concurrently"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_sync_writes_nothing_and_bad_containers_are_usage_errors() {
    let fakes = Fakes::start().await;
    run(&fakes, SYNC, 0).await;
    let states = fakes.pg.rows("knack_sync_state");
    change_in_knack(&fakes, 10);
    let writes = fakes.writes();
    let out = run(&fakes, &["--dry-run", "sync", "-a", APP, "-e", "dev"], 0).await;
    println!("{}", stdout(&out));
    assert_eq!(row(&out, VIEW, "postgrest")[8], "ok");
    // Read from the watermark, written nowhere, watermarks untouched.
    assert_eq!(counts(&out, VIEW, "postgrest"), [10, 10, 0]);
    assert_eq!(fakes.writes(), writes, "a dry run writes nothing");
    assert_eq!(fakes.pg.rows("knack_sync_state"), states);

    let out = run(
        &fakes,
        &["sync", "-a", APP, "-e", "dev", "-c", "view_999"],
        2,
    )
    .await;
    assert!(
        stderr(&out).contains("unknown container `view_999`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fakes.writes(), writes);
    let out = fakes.run_with(&[("KNACK_API_KEY", "")], SYNC).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KNACK_API_KEY"), "{}", stderr(&out));
    assert_eq!(fakes.writes(), writes);
}

/// An endpoint allowed plain http off loopback by its opt-in is logged as a warning by `sync`
/// and `status` too, as by the per-stage commands. 0.0.0.0 is not loopback by aks's rule, yet
/// connects to this machine, so the runs reach the fake and succeed.
#[tokio::test(flavor = "multi_thread")]
async fn sync_and_status_warn_when_an_endpoint_allows_insecure_http() {
    let fakes = Fakes::start().await;
    let port = fakes.pg.uri().rsplit(':').next().unwrap().to_string();
    let endpoint = format!("http://0.0.0.0:{port}");
    let over = [
        ("PGREST_ENDPOINT", endpoint.as_str()),
        ("PGREST_ALLOW_INSECURE_HTTP", "true"),
    ];
    for command in [SYNC, &["status", "-a", APP, "-e", "dev"]] {
        let out = fakes.run_with(&over, command).await;
        assert_eq!(out.status.code(), Some(0), "{command:?}: {}", stderr(&out));
        let warned = stderr(&out).lines().any(|l| {
            l.contains("WARN")
                && l.contains("PGREST_ENDPOINT uses plain http:// to 0.0.0.0")
                && l.contains("allowed by PGREST_ALLOW_INSECURE_HTTP")
        });
        assert!(warned, "{command:?}: no warning in\n{}", stderr(&out));
        let plain = fakes.run(command).await;
        assert!(
            !stderr(&plain).contains("plain http://"),
            "no warning without the opt-in: {}",
            stderr(&plain)
        );
    }
}

/// The app's metadata is read once per sync, however many containers load incrementally (each
/// needs the app's timezone for Knack's date filter).
#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_sync_of_two_containers_reads_the_metadata_once() {
    let fakes = Fakes::start().await;
    let template = fixture("records_view_1.json")[0].clone();
    fakes
        .knack
        .set_records(&Container::object("object_1").unwrap(), vec![template]);
    let mut config = std::fs::read_to_string(&fakes.config).unwrap();
    config.push_str(&format!(
        "\n[apps.{APP}.containers.object_1]\nmodified_date_field_id = \"field_21\"\n"
    ));
    std::fs::write(&fakes.config, config).unwrap();
    run(&fakes, SYNC, 0).await;
    fakes.knack.clear_requests();

    let out = run(&fakes, SYNC, 0).await;
    for container in [VIEW, "object_1"] {
        assert_ne!(row(&out, container, "postgrest")[2], "full", "incremental");
    }
    let requests = fakes.knack.requests();
    let metadata = requests
        .iter()
        .filter(|r| r.path.contains("/applications/"))
        .count();
    assert_eq!(
        metadata,
        1,
        "{:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(requests.iter().any(|r| r.path.contains("object_1")));
    assert!(requests.iter().any(|r| r.path.contains(VIEW)));
}

/// When the metadata refresh fails, every other stage is skipped: the error says so, and does not
/// claim that "the others ran".
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_metadata_refresh_says_nothing_else_ran() {
    let fakes = Fakes::start().await;
    fakes.knack.inject(
        knack_etl::knack_client::testkit::Fault::status(404)
            .times(100)
            .on_path("applications"),
    );
    let out = fakes.run(SYNC).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(stdout(&out).contains("metadata"), "{}", stdout(&out));
    assert!(
        err.contains("the metadata refresh failed, so nothing else ran"),
        "{err}"
    );
    assert!(!err.contains("the others ran"), "{err}");
    assert!(fakes.writes().is_empty(), "{:?}", fakes.writes());
}
