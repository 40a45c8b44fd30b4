//! `aks db init`: the staging schema that pgrest-client ships, applied, previewed or printed.

mod tls;

use std::error::Error as _;
use std::future::poll_fn;
use std::path::Path;

use knack_etl::pgrest_client::schema::STAGING_SQL;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, Connection};

use crate::error::{CliError, RunError};
use crate::settings::EnvVars;

const EXAMPLE_URL: &str = "postgres://postgres@127.0.0.1:5432/knack";

/// Prints the SQL (`print`, for `psql -f -`), or applies it to the database named by
/// `DATABASE_URL` (a libpq URL such as `postgres://postgres@127.0.0.1:5432/knack`). The SQL is
/// idempotent, so running it on an initialised database changes nothing.
///
/// With `dry_run` it connects (so the URL, TLS and login are checked), prints the SQL it would
/// apply and which staging tables already exist, and applies nothing.
///
/// `sslmode=require` (or `verify-ca`/`verify-full`) connects over TLS and always verifies the
/// server's certificate, against Mozilla's and the system's roots plus the PEM file in
/// `PGSSLROOTCERT`; without `sslmode` the connection is plain, as libpq's `prefer` falls back to.
pub(super) async fn init(print: bool, dry_run: bool, vars: &EnvVars) -> Result<(), CliError> {
    if print {
        print!("{STAGING_SQL}");
        return Ok(());
    }
    let url = vars.get("DATABASE_URL").ok_or_else(|| {
        CliError::Usage(format!(
            "aks db init needs DATABASE_URL (e.g. {EXAMPLE_URL}), or --print to write the SQL to \
             stdout for psql"
        ))
    })?;
    let config: tokio_postgres::Config = verified_modes_as_require(url).parse().map_err(|e| {
        CliError::Usage(format!(
            "DATABASE_URL is not a PostgreSQL URL ({}); expected e.g. {EXAMPLE_URL}",
            cause(&e)
        ))
    })?;
    let client = if config.get_ssl_mode() == SslMode::Require {
        let root = vars.get("PGSSLROOTCERT").map(Path::new);
        let tls = tls::connector(root).map_err(CliError::Usage)?;
        let (client, connection) = config.connect(tls).await.map_err(connect_error)?;
        drive(connection);
        client
    } else {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(connect_error)?;
        drive(connection);
        client
    };
    if dry_run {
        return preview(&client).await;
    }
    client.batch_execute(STAGING_SQL).await.map_err(|e| {
        RunError::Message(format!("applying the staging schema failed: {}", cause(&e)))
    })?;
    println!("staging schema applied (schema api: tables knack, knack_metadata, knack_sync_state; roles my_api_user, web_anon, authenticator)");
    Ok(())
}

/// The dry run's report: the SQL on stdout, which tables exist, nothing applied.
async fn preview(client: &Client) -> Result<(), CliError> {
    let row = client
        .query_one(
            "SELECT to_regclass('api.knack') IS NOT NULL, to_regclass('api.knack_metadata') IS NOT NULL, \
             to_regclass('api.knack_sync_state') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| RunError::Message(format!("reading the database failed: {}", cause(&e))))?;
    let state = |present: bool| if present { "present" } else { "absent" };
    print!("{STAGING_SQL}");
    let (knack, metadata, sync_state): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    tracing::info!(
        api_knack = state(knack),
        api_knack_metadata = state(metadata),
        api_knack_sync_state = state(sync_state),
        "dry run: would apply the staging schema above (idempotent); nothing was applied"
    );
    Ok(())
}

/// tokio-postgres 0.7 knows `disable`, `prefer` and `require` only; our TLS verifies the
/// certificate in every case, so libpq's stricter `verify-ca`/`verify-full` mean `require` here.
fn verified_modes_as_require(url: &str) -> String {
    url.replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require")
}

/// Runs the connection, forwarding the server's NOTICEs (e.g. "schema api already exists,
/// skipping") at DEBUG: they are expected on every re-run and say nothing an operator must act
/// on. Polling the messages here also keeps tokio-postgres from logging them itself (at INFO,
/// through `log`, with its source paths).
fn drive<S, T>(mut connection: Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notice(n)) => {
                    tracing::debug!(
                        severity = n.severity(),
                        code = n.code().code(),
                        "PostgreSQL: {}",
                        n.message()
                    );
                }
                Ok(_) => {}
                // The client's pending call reports the same failure with its context.
                Err(e) => {
                    tracing::debug!("PostgreSQL connection closed: {}", cause(&e));
                    break;
                }
            }
        }
    });
}

/// The connection failure with a hint that matches it: TLS, refused, login, unknown database.
fn connect_error(e: tokio_postgres::Error) -> CliError {
    let hint = hint(&e);
    RunError::Message(format!(
        "cannot connect to DATABASE_URL: {}; {hint}",
        cause(&e)
    ))
    .into()
}

fn hint(e: &tokio_postgres::Error) -> &'static str {
    if let Some(code) = e.code() {
        return match *code {
            SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                "PostgreSQL refused the login: check the user and password in DATABASE_URL and \
                 the server's pg_hba.conf"
            }
            SqlState::INVALID_CATALOG_NAME => {
                "the database does not exist: create it (createdb NAME) or fix its name in \
                 DATABASE_URL"
            }
            _ => "check the user, database and server settings DATABASE_URL names",
        };
    }
    let text = cause(e);
    if text.contains("server does not support TLS") {
        return "the server does not accept TLS: enable ssl on the server, or remove sslmode=require \
                from DATABASE_URL to connect in plain text";
    }
    if chain(e).any(|s| s.is::<rustls::Error>()) || text.contains("TLS handshake") {
        return "the TLS handshake failed: the server's certificate must be signed by a trusted CA \
                and name the host in DATABASE_URL; for a private CA or a self-signed certificate \
                set PGSSLROOTCERT to its PEM file";
    }
    let io = chain(e).find_map(|s| s.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            "nothing accepts connections there: check that PostgreSQL is running at the host and \
             port DATABASE_URL names, or use --print and apply the SQL with psql"
        }
        Some(std::io::ErrorKind::TimedOut) => {
            "the server did not answer in time: check the host and port in DATABASE_URL and any \
             firewall between here and there"
        }
        _ if text.contains("password missing") => {
            "the server asks for a password: put it in DATABASE_URL (or use PGPASSFILE with psql \
             and --print)"
        }
        _ => {
            "check that PostgreSQL is running at the host and port DATABASE_URL names and accepts \
             that user and database, or use --print and apply the SQL with psql"
        }
    }
}

/// `e` and every error below it.
fn chain<'a>(
    e: &'a tokio_postgres::Error,
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |&s| s.source())
}

/// The server's message and SQLSTATE, or the error with its causes ("error connecting to server:
/// Connection refused (os error 111)"): tokio-postgres's own Display stops before the cause.
/// Neither form contains the URL, so a password in it is never shown.
fn cause(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    for source in chain(e) {
        let s = source.to_string();
        if !text.contains(&s) {
            text = format!("{text}: {s}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_become_require() {
        assert_eq!(
            verified_modes_as_require("postgres://h/db?sslmode=verify-full"),
            "postgres://h/db?sslmode=require"
        );
        assert_eq!(
            verified_modes_as_require("host=h sslmode=verify-ca"),
            "host=h sslmode=require"
        );
        let plain = "postgres://h/db";
        assert_eq!(verified_modes_as_require(plain), plain);
    }
}
