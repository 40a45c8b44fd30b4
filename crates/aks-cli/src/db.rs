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
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        // The URL may hold a password: name the variable, not its value.
        .map_err(|e| {
            RunError::Message(format!("cannot connect to DATABASE_URL: {}", redact(&e)))
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

fn redact(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
