//! `aks config check` online: Knack's metadata read once per app, and an unreachable service is a
//! runtime failure (exit 1) naming the setting to check, not a config problem (exit 2).

mod common;

use common::knack_dest::add_destination;
use common::{stderr, Fakes, APP_ID};

/// The containers' check and the `knack_destinations` check share one read of each app.
#[tokio::test(flavor = "multi_thread")]
async fn each_app_s_metadata_is_read_once() {
    let fakes = Fakes::start().await;
    let _dest = add_destination(&fakes).await;
    fakes.knack.clear_requests();
    let out = fakes.run(&["config", "check"]).await;
    let reads: Vec<String> = fakes
        .knack
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(&format!("applications/{APP_ID}")))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}\n{}", stderr(&out));
}

/// Knack refusing connections says nothing about the config: exit 1, the service and the
/// setting named, no problem list.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_knack_is_a_runtime_failure_naming_knack_api_url() {
    let fakes = Fakes::start().await;
    let out = fakes
        .run_with(
            &[("KNACK_API_URL", "http://127.0.0.1:9/v1")],
            &["config", "check"],
        )
        .await;
    let err = stderr(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(!stdout.contains("problem(s)"), "{stdout}");
    assert!(err.contains("could not reach Knack"), "{err}");
    assert!(
        err.contains("check: KNACK_API_URL (http://127.0.0.1:9/v1)"),
        "{err}"
    );
    assert!(!err.contains("does not match"), "{err}");
}
