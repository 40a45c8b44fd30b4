//! The staging schema (pgrest-client's [`STAGING_SQL`]) applied to its PostgreSQL database
//! directly, for setting up a staging store (feature `db`; PostgREST cannot create tables).
//!
//! [`StagingDatabase::connect`] takes a libpq URL. `sslmode=require` (or libpq's stricter
//! `verify-ca` / `verify-full`) connects over TLS and always verifies the server's certificate,
//! against Mozilla's roots, the system's, and a PEM file of the caller's (libpq's
//! `PGSSLROOTCERT`, as messages name it); without `sslmode` the connection is plain, as libpq's
//! `prefer` falls back to. No message shows the URL, so a password in it is never shown.

use std::error::Error as _;
use std::future::poll_fn;
use std::path::Path;
use std::sync::Arc;

use pgrest_client::schema::STAGING_SQL;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, Connection};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connection to the staging store's database.
pub struct StagingDatabase {
    client: Client,
}

/// Which staging tables a database has (`api.knack`, `api.knack_metadata`,
/// `api.knack_sync_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StagingTables {
    /// `api.knack`.
    pub knack: bool,
    /// `api.knack_metadata`.
    pub knack_metadata: bool,
    /// `api.knack_sync_state`.
    pub knack_sync_state: bool,
}

/// Why the database could not be set up; each carries the server's message or the error with
/// its causes (tokio-postgres's own message stops before the cause).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// The URL is not a PostgreSQL URL; why.
    #[error("not a PostgreSQL URL ({0})")]
    Url(String),
    /// TLS could not be set up (the root certificate file is unreadable or holds none); the
    /// message names the fix.
    #[error("{0}")]
    Tls(String),
    /// The connection failed.
    #[error("cannot connect: {cause}")]
    Connect {
        /// The server's message and SQLSTATE, or the error with its causes.
        cause: String,
        /// What kind of failure, for a hint.
        problem: ConnectProblem,
    },
    /// A statement failed (the server's message and SQLSTATE).
    #[error("{0}")]
    Query(String),
}

/// What kind of connection failure [`DatabaseError::Connect`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectProblem {
    /// The server refused the login (password, `pg_hba.conf`).
    Login,
    /// The database does not exist.
    NoDatabase,
    /// Another refusal by the server (its SQLSTATE is in the cause).
    Server,
    /// The server does not accept TLS.
    NoTls,
    /// The TLS handshake failed (untrusted certificate, wrong host name).
    TlsHandshake,
    /// Nothing accepts connections at the host and port.
    Refused,
    /// The server did not answer in time.
    TimedOut,
    /// The server asks for a password the URL does not give.
    NoPassword,
    /// Anything else (a host that does not resolve, ...).
    Other,
}

impl StagingDatabase {
    /// Connects to the database `url` names (a libpq URL such as
    /// `postgres://postgres@127.0.0.1:5432/knack`), over TLS when its `sslmode` asks, trusting
    /// `root_cert` (a PEM file) besides the usual roots. The server's NOTICEs are logged at DEBUG.
    ///
    /// # Errors
    /// [`DatabaseError::Url`], [`DatabaseError::Tls`], [`DatabaseError::Connect`].
    pub async fn connect(url: &str, root_cert: Option<&Path>) -> Result<Self, DatabaseError> {
        let config: tokio_postgres::Config = verified_modes_as_require(url)
            .parse()
            .map_err(|e| DatabaseError::Url(cause(&e)))?;
        let client = if config.get_ssl_mode() == SslMode::Require {
            let tls = tls_connector(root_cert).map_err(DatabaseError::Tls)?;
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
        Ok(Self { client })
    }

    /// Applies [`STAGING_SQL`]: idempotent, so on an initialised database it changes nothing.
    ///
    /// # Errors
    /// [`DatabaseError::Query`].
    pub async fn apply_schema(&self) -> Result<(), DatabaseError> {
        self.client
            .batch_execute(STAGING_SQL)
            .await
            .map_err(|e| DatabaseError::Query(cause(&e)))
    }

    /// Which staging tables exist.
    ///
    /// # Errors
    /// [`DatabaseError::Query`].
    pub async fn tables(&self) -> Result<StagingTables, DatabaseError> {
        let row = self
            .client
            .query_one(
                "SELECT to_regclass('api.knack') IS NOT NULL, to_regclass('api.knack_metadata') IS NOT NULL, \
                 to_regclass('api.knack_sync_state') IS NOT NULL",
                &[],
            )
            .await
            .map_err(|e| DatabaseError::Query(cause(&e)))?;
        Ok(StagingTables {
            knack: row.get(0),
            knack_metadata: row.get(1),
            knack_sync_state: row.get(2),
        })
    }
}

/// tokio-postgres 0.7 knows `disable`, `prefer` and `require` only; our TLS verifies the
/// certificate in every case, so libpq's stricter `verify-ca`/`verify-full` mean `require` here.
fn verified_modes_as_require(url: &str) -> String {
    url.replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require")
}

/// A connector trusting Mozilla's roots (webpki-roots), the system's trust store
/// (rustls-native-certs, which also honours `SSL_CERT_FILE`/`SSL_CERT_DIR`) and, when given,
/// the PEM file `root_cert` (for a private CA or a self-signed server).
fn tls_connector(root_cert: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable system certificates only narrow what is trusted; the handshake error says so.
    let native = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(native.certs);
    if let Some(path) = root_cert {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("PGSSLROOTCERT={shown} cannot be read as PEM certificates ({e}); point it at the CA certificate file of the PostgreSQL server"))?;
        if certs.is_empty() {
            return Err(format!(
                "PGSSLROOTCERT={shown} holds no certificate; point it at the CA certificate (PEM) of the PostgreSQL server"
            ));
        }
        let (_, ignored) = roots.add_parsable_certificates(certs);
        if ignored > 0 {
            tracing::warn!(path = %shown, ignored, "PGSSLROOTCERT: some certificates could not be used");
        }
    }
    // ring explicitly: no process-wide default provider has to be installed first.
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
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

/// The connection failure, with what kind it is: TLS, refused, login, unknown database.
fn connect_error(e: tokio_postgres::Error) -> DatabaseError {
    DatabaseError::Connect {
        cause: cause(&e),
        problem: problem(&e),
    }
}

fn problem(e: &tokio_postgres::Error) -> ConnectProblem {
    if let Some(code) = e.code() {
        return match *code {
            SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                ConnectProblem::Login
            }
            SqlState::INVALID_CATALOG_NAME => ConnectProblem::NoDatabase,
            _ => ConnectProblem::Server,
        };
    }
    let text = cause(e);
    if text.contains("server does not support TLS") {
        return ConnectProblem::NoTls;
    }
    if chain(e).any(|s| s.is::<rustls::Error>()) || text.contains("TLS handshake") {
        return ConnectProblem::TlsHandshake;
    }
    let io = chain(e).find_map(|s| s.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionRefused) => ConnectProblem::Refused,
        Some(std::io::ErrorKind::TimedOut) => ConnectProblem::TimedOut,
        _ if text.contains("password missing") => ConnectProblem::NoPassword,
        _ => ConnectProblem::Other,
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
