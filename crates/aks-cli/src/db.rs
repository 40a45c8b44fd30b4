//! `aks db init`: the staging schema that pgrest-client ships, applied or printed.

use knack_etl::pgrest_client::schema::STAGING_SQL;

use crate::env::EnvVars;
use crate::error::{CliError, RunError};

/// Prints the SQL (`--print`, for `psql -f -`), or applies it to the
/// database named by `DATABASE_URL` (a libpq URL such as
/// `postgres://postgres@127.0.0.1:5432/knack`). The SQL is idempotent, so
/// running it on an initialised database changes nothing.
pub async fn init(print: bool, vars: &EnvVars) -> Result<(), CliError> {
    if print {
        print!("{STAGING_SQL}");
        return Ok(());
    }
    let url = vars.get("DATABASE_URL").ok_or_else(|| {
        CliError::Usage(
            "aks db init needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/knack), \
             or --print to write the SQL to stdout for psql"
                .to_owned(),
        )
    })?;
    let config: tokio_postgres::Config = url.parse().map_err(|e| {
        CliError::Usage(format!(
            "DATABASE_URL is not a PostgreSQL URL ({}); expected e.g. \
             postgres://postgres@127.0.0.1:5432/knack",
            redact(&e)
        ))
    })?;
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        // The URL may hold a password: name the variable, not its value.
        .map_err(|e| {
            RunError::Message(format!(
                "cannot connect to DATABASE_URL: {}; check that PostgreSQL is running at the host \
                 and port it names and accepts that user and database, or use --print and apply \
                 the SQL with psql",
                redact(&e)
            ))
        })?;
    let driver = tokio::spawn(connection);
    client.batch_execute(STAGING_SQL).await.map_err(|e| {
        RunError::Message(format!(
            "applying the staging schema failed: {}",
            redact(&e)
        ))
    })?;
    drop(client);
    let _ = driver.await;
    println!("staging schema applied (schema api: tables knack, knack_metadata; roles my_api_user, web_anon, authenticator)");
    Ok(())
}

/// The server's message and SQLSTATE, or the error with its cause ("error connecting to server:
/// Connection refused"): tokio-postgres's own Display stops before the cause. Neither form
/// contains the URL, so a password in it is never shown.
fn redact(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}
