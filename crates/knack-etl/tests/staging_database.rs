//! `staging::StagingDatabase` (feature `db`): a failure to connect says what kind it is, so a
//! caller can name the fix; the URL (and a password in it) is never repeated. Applying the schema
//! to a live server is `aks db init`'s end-to-end test.
#![cfg(feature = "db")]

use knack_etl::staging::{ConnectProblem, DatabaseError, StagingDatabase};

async fn connect_error(url: &str, root_cert: Option<&std::path::Path>) -> DatabaseError {
    match StagingDatabase::connect(url, root_cert).await {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn each_failure_says_what_kind_it_is_and_never_shows_the_url() {
    let e = connect_error("postgres://user:s3cr3t@127.0.0.1:9/knack", None).await;
    let DatabaseError::Connect { cause, problem } = &e else {
        panic!("expected a connect error, got {e:?}");
    };
    assert_eq!(*problem, ConnectProblem::Refused, "{cause}");
    assert!(
        !cause.contains("s3cr3t") && !e.to_string().contains("s3cr3t"),
        "{e}"
    );

    let e = connect_error("postgres://h/db?sslmode=bogus", None).await;
    assert!(matches!(e, DatabaseError::Url(_)), "{e:?}");

    let missing = std::path::Path::new("/nonexistent/ca.pem");
    let e = connect_error(
        "postgres://127.0.0.1:9/db?sslmode=verify-full",
        Some(missing),
    )
    .await;
    let DatabaseError::Tls(message) = e else {
        panic!("expected a TLS setup error, got {e:?}");
    };
    assert!(
        message.starts_with("PGSSLROOTCERT=/nonexistent/ca.pem cannot be read"),
        "{message}"
    );
}
