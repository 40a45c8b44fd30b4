//! TLS for `aks db init`: rustls, with the server's certificate always verified.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connector trusting Mozilla's roots (webpki-roots), the system's trust store
/// (rustls-native-certs, which also honours `SSL_CERT_FILE`/`SSL_CERT_DIR`) and, when given,
/// the PEM file `root_cert` (libpq's `PGSSLROOTCERT`, for a private CA or a self-signed server).
///
/// Errors name `PGSSLROOTCERT` when that file cannot be read or holds no certificate.
pub(super) fn connector(root_cert: Option<&Path>) -> Result<MakeRustlsConnect, String> {
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
