//! `aks db init`: the staging schema that pgrest-client ships, applied (knack-etl's
//! [`StagingDatabase`]), previewed or printed.

use std::path::Path;

use knack_etl::pgrest_client::schema::STAGING_SQL;
use knack_etl::staging::{ConnectProblem, DatabaseError, StagingDatabase};

use crate::error::{CliError, RunError};
use crate::settings::EnvVars;

const EXAMPLE_URL: &str = "postgres://postgres@127.0.0.1:5432/knack";

/// Prints the SQL (`print`, for `psql -f -`), or applies it (idempotent) to the database
/// `DATABASE_URL` names, trusting the PEM file in `PGSSLROOTCERT` too when its `sslmode` asks for
/// TLS. With `dry_run` it connects (so the URL, TLS and login are checked), prints the SQL it
/// would apply and which staging tables already exist, and applies nothing.
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
    let root = vars.get("PGSSLROOTCERT").map(Path::new);
    let db = StagingDatabase::connect(url, root)
        .await
        .map_err(|e| match e {
            DatabaseError::Url(cause) => CliError::Usage(format!(
                "DATABASE_URL is not a PostgreSQL URL ({cause}); expected e.g. {EXAMPLE_URL}"
            )),
            DatabaseError::Connect { cause, problem } => {
                let hint = hint(problem);
                RunError::Message(format!("cannot connect to DATABASE_URL: {cause}; {hint}")).into()
            }
            other => CliError::Usage(other.to_string()),
        })?;
    let failed = |what: &'static str| move |e| RunError::Message(format!("{what} failed: {e}"));
    if dry_run {
        let tables = db.tables().await.map_err(failed("reading the database"))?;
        let state = |present: bool| if present { "present" } else { "absent" };
        print!("{STAGING_SQL}");
        tracing::info!(
            api_knack = state(tables.knack),
            api_knack_metadata = state(tables.knack_metadata),
            api_knack_sync_state = state(tables.knack_sync_state),
            "dry run: would apply the staging schema above (idempotent); nothing was applied"
        );
        return Ok(());
    }
    db.apply_schema()
        .await
        .map_err(failed("applying the staging schema"))?;
    println!("staging schema applied (schema api: tables knack, knack_metadata, knack_sync_state; roles my_api_user, web_anon, authenticator)");
    Ok(())
}

/// What to check for each kind of connection failure, in the words of `DATABASE_URL`.
fn hint(problem: ConnectProblem) -> &'static str {
    match problem {
        ConnectProblem::Login => {
            "PostgreSQL refused the login: check the user and password in DATABASE_URL and the \
             server's pg_hba.conf"
        }
        ConnectProblem::NoDatabase => {
            "the database does not exist: create it (createdb NAME) or fix its name in \
             DATABASE_URL"
        }
        ConnectProblem::Server => "check the user, database and server settings DATABASE_URL names",
        ConnectProblem::NoTls => {
            "the server does not accept TLS: enable ssl on the server, or remove sslmode=require \
             from DATABASE_URL to connect in plain text"
        }
        ConnectProblem::TlsHandshake => {
            "the TLS handshake failed: the server's certificate must be signed by a trusted CA \
             and name the host in DATABASE_URL; for a private CA or a self-signed certificate \
             set PGSSLROOTCERT to its PEM file"
        }
        ConnectProblem::Refused => {
            "nothing accepts connections there: check that PostgreSQL is running at the host and \
             port DATABASE_URL names, or use --print and apply the SQL with psql"
        }
        ConnectProblem::TimedOut => {
            "the server did not answer in time: check the host and port in DATABASE_URL and any \
             firewall between here and there"
        }
        ConnectProblem::NoPassword => {
            "the server asks for a password: put it in DATABASE_URL (or use PGPASSFILE with psql \
             and --print)"
        }
        _ => {
            "check that PostgreSQL is running at the host and port DATABASE_URL names and accepts \
             that user and database, or use --print and apply the SQL with psql"
        }
    }
}
