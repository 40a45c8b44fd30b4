//! `Client`, its builder, authentication and the one place where requests are sent; the retry
//! loop, timeouts, base-URL rule and secret headers are the shared core's.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use knack_services_core::{
    base_url, describe_transport, read_body, retry, retry_after, surely_not_sent, Idempotency,
    RetryPolicy, SensitiveHeader, Timeouts,
};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::{illegal_field, ApiErrorBody, Error};
use crate::Result;

/// Default rows per write request (the original publisher's chunk size).
pub const DEFAULT_BATCH_SIZE: usize = 1000;
/// Default cap on one write request's body. Field reports show 413s on very large bodies; 10 MB
/// keeps well clear of them.
pub const DEFAULT_BATCH_BYTES: usize = 10 * 1024 * 1024;
/// Default rows per read page (`$limit`); SODA's own default is 1000.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

#[derive(Clone)]
enum Auth {
    Basic {
        user: SecretString,
        password: SecretString,
    },
    OAuth(SecretString),
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    /// `Authorization` (Basic or OAuth), built once by the builder.
    auth: Option<SensitiveHeader>,
    auth_kind: &'static str,
    app_token: Option<SensitiveHeader>,
    /// `total` is every request's timeout but a write's, which is `write_timeout`.
    timeouts: Timeouts,
    pub(crate) write_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) batch_size: usize,
    pub(crate) batch_bytes: usize,
    pub(crate) page_size: u32,
}

/// A Socrata (SODA 2.1) client for one domain. Cheap to clone: everything sits behind an `Arc`.
///
/// Build it with [`Client::builder`].
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("domain", &i.base.as_str())
            .field("auth", &i.auth_kind)
            .field("app_token", &i.app_token)
            .field("timeouts", &i.timeouts)
            .field("write_timeout", &i.write_timeout)
            .field("retry", &i.retry)
            .field("batch_size", &i.batch_size)
            .field("batch_bytes", &i.batch_bytes)
            .field("page_size", &i.page_size)
            .finish()
    }
}

fn auth_kind(auth: Option<&Auth>) -> &'static str {
    match auth {
        None => "none",
        Some(Auth::Basic { .. }) => "basic [redacted]",
        Some(Auth::OAuth(_)) => "oauth [redacted]",
    }
}

impl Client {
    /// Starts a builder; only [`ClientBuilder::domain`] is required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The domain's base URL, e.g. `https://datahub.austintexas.gov/`.
    pub fn domain(&self) -> &Url {
        &self.inner.base
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        // The base is validated at build() as an origin ending in '/', so join cannot fail.
        self.inner.base.join(path).expect("validated base URL")
    }

    /// Sends one request under the retry policy and returns the 2xx body. `idempotency` says
    /// whether an answer that may have been applied (5xx, timeout) can be repeated.
    pub(crate) async fn send(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        idempotency: Idempotency,
    ) -> Result<Bytes> {
        let timeouts = Timeouts {
            total: if method == Method::GET {
                self.inner.timeouts.total
            } else {
                self.inner.write_timeout
            },
            ..self.inner.timeouts
        };
        // The label names the call, never a credential (those travel in headers).
        let label = format!("Socrata {method} {}", url.path());
        let _waiting = knack_services_core::ledger::waiting("Socrata");
        retry(&self.inner.retry, idempotency, &label, |n| {
            self.attempt(
                operation,
                method.clone(),
                url.clone(),
                body.clone(),
                timeouts,
                n,
            )
        })
        .await
    }

    async fn attempt(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        timeouts: Timeouts,
        n: u32,
    ) -> Result<Bytes> {
        let mut req = self.inner.http.request(method, url).timeout(timeouts.total);
        if let Some(token) = &self.inner.app_token {
            req = req.header("X-App-Token", token.value());
        }
        if let Some(auth) = &self.inner.auth {
            req = req.header(AUTHORIZATION, auth.value());
        }
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(body);
        }
        let transport = |e| self.transport(operation, e, &timeouts);
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers(), std::time::SystemTime::now());
        let bytes = read_body(resp).await.map_err(transport)?;
        if status == StatusCode::ACCEPTED {
            return Err(Error::StillProcessing {
                operation: operation.to_string(),
                attempts: n,
            });
        }
        if status.is_success() {
            return Ok(bytes);
        }
        let body = ApiErrorBody::parse(&String::from_utf8_lossy(&bytes));
        if status == StatusCode::BAD_REQUEST {
            if let Some(field) = body.message.as_deref().and_then(illegal_field) {
                return Err(Error::IllegalFieldName {
                    dataset: dataset_of(operation),
                    field,
                    message: body.message.clone().unwrap_or_default(),
                });
            }
        }
        Err(Error::Api {
            operation: operation.to_string(),
            status: status.as_u16(),
            body: Box::new(body),
            retry_after,
        })
    }

    fn transport(&self, operation: &str, e: reqwest::Error, timeouts: &Timeouts) -> Error {
        if e.is_timeout() && !e.is_connect() {
            return Error::Timeout {
                operation: operation.to_string(),
            };
        }
        Error::Transport {
            operation: operation.to_string(),
            host: self.inner.base.origin().ascii_serialization(),
            not_sent: surely_not_sent(&e),
            cause: describe_transport(&e, timeouts),
        }
    }
}

/// Operations are named "<verb> <dataset>"; the dataset is the last word.
fn dataset_of(operation: &str) -> String {
    operation
        .rsplit(' ')
        .next()
        .unwrap_or(operation)
        .to_string()
}

/// Builds a [`Client`]; every setting is checked in [`ClientBuilder::build`].
#[derive(Default, Clone)]
pub struct ClientBuilder {
    domain: Option<String>,
    auth: Option<Auth>,
    app_token: Option<SecretString>,
    timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    allow_insecure_http: bool,
    retry: Option<RetryPolicy>,
    batch_size: Option<usize>,
    batch_bytes: Option<usize>,
    page_size: Option<u32>,
    user_agent: Option<String>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("domain", &self.domain)
            .field("auth", &auth_kind(self.auth.as_ref()))
            .field("app_token", &self.app_token.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("write_timeout", &self.write_timeout)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("retry", &self.retry)
            .field("batch_size", &self.batch_size)
            .field("batch_bytes", &self.batch_bytes)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The portal as a full URL, e.g. `https://datahub.austintexas.gov` (any path is dropped).
    /// `https://`, or `http://` to this machine only (127.0.0.0/8, `::1`, `localhost`) unless
    /// [`ClientBuilder::allow_insecure_http`]; a bare host is refused.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// HTTP Basic with an API key id and secret (Socrata's recommended way for scripts): each a
    /// `String`, `&str` or [`SecretString`].
    pub fn api_key(
        self,
        key_id: impl Into<SecretString>,
        key_secret: impl Into<SecretString>,
    ) -> Self {
        self.basic_auth(key_id, key_secret)
    }

    /// HTTP Basic with a username and password (a `String`, `&str` or [`SecretString`] each).
    pub fn basic_auth(
        mut self,
        username: impl Into<SecretString>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.auth = Some(Auth::Basic {
            user: username.into(),
            password: password.into(),
        });
        self
    }

    /// An OAuth 2.0 access token, sent as `Authorization: OAuth <token>` (not `Bearer`).
    pub fn oauth_token(mut self, token: impl Into<SecretString>) -> Self {
        self.auth = Some(Auth::OAuth(token.into()));
        self
    }

    /// An app token, sent as `X-App-Token` (raises throttling limits; never put in the URL).
    pub fn app_token(mut self, token: impl Into<SecretString>) -> Self {
        self.app_token = Some(token.into());
        self
    }

    /// The longest one attempt may take, body included, for every request but a write (default
    /// 30 s): metadata, reads and counts. A stalled answer is abandoned then and retried within
    /// the policy.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same for each write request (default 120 s; Socrata can take a minute on big
    /// batches): Socrata's own setting beside [`ClientBuilder::timeout`].
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// Timeout for opening a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Allows a plain `http://` domain off this machine (a proxy on a private network); the
    /// credentials then cross that network unencrypted (and Socrata revokes OAuth tokens sent
    /// that way). Logged as a warning when the client is built. Off by default.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]: 10 retries within 3 minutes,
    /// `Retry-After` obeyed up to 30 s; see the README table).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Rows per write request (default 1000).
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = Some(rows);
        self
    }

    /// Cap on a write request's JSON body in bytes (default 10 MB). A single row larger than the
    /// cap is still sent, alone.
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = Some(bytes);
        self
    }

    /// Rows per read page, sent as `$limit` (default 1000).
    pub fn page_size(mut self, rows: u32) -> Self {
        self.page_size = Some(rows);
        self
    }

    /// The `User-Agent` header (default `socrata-client/<version>`).
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// Checks every setting and builds the client.
    pub fn build(self) -> Result<Client> {
        let raw = self.domain.ok_or_else(|| {
            Error::Config(
                "no domain set; call ClientBuilder::domain(\"https://data.example.gov\")".into(),
            )
        })?;
        let mut base = base_url(
            &raw,
            "the Socrata domain (ClientBuilder::domain)",
            self.allow_insecure_http,
        )
        .map_err(Error::Config)?;
        base.set_path("/");
        base.set_query(None);
        base.set_fragment(None);

        let batch_size = self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        let batch_bytes = self.batch_bytes.unwrap_or(DEFAULT_BATCH_BYTES);
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if batch_size == 0 || batch_bytes == 0 || page_size == 0 {
            return Err(Error::Config(
                "batch_size, batch_bytes and page_size must be at least 1".into(),
            ));
        }
        let retry = self.retry.unwrap_or_default();
        retry.validate().map_err(Error::Config)?;
        let (auth, auth_kind) = match &self.auth {
            None => (None, "none"),
            Some(Auth::Basic { user, password }) => {
                if user.expose_secret().contains(':') {
                    return Err(Error::Config(
                        "the API key id (ClientBuilder::api_key) must not contain ':'; check the key id"
                            .into(),
                    ));
                }
                let pair = format!("{}:{}", user.expose_secret(), password.expose_secret());
                let encoded =
                    SecretString::from(base64::engine::general_purpose::STANDARD.encode(pair));
                let what = "the API key id and secret (ClientBuilder::api_key)";
                let header = SensitiveHeader::new(what, "Basic ", &encoded);
                (Some(header.map_err(Error::Config)?), "basic [redacted]")
            }
            Some(Auth::OAuth(token)) => {
                // Socrata's scheme word is `OAuth`, not `Bearer`.
                let header = SensitiveHeader::new("the OAuth token", "OAuth ", token);
                (Some(header.map_err(Error::Config)?), "oauth [redacted]")
            }
        };
        let app_token = self
            .app_token
            .as_ref()
            .map(|t| SensitiveHeader::new("the app token (ClientBuilder::app_token)", "", t))
            .transpose()
            .map_err(Error::Config)?;
        let timeouts = Timeouts {
            connect: self.connect_timeout.unwrap_or(Duration::from_secs(10)),
            total: self.timeout.unwrap_or(Duration::from_secs(30)),
        };
        let write_timeout = self.write_timeout.unwrap_or(Duration::from_secs(120));
        if write_timeout.is_zero() {
            return Err(Error::Config(
                "the write timeout must be longer than zero".into(),
            ));
        }
        let agent = self
            .user_agent
            .unwrap_or_else(|| concat!("socrata-client/", env!("CARGO_PKG_VERSION")).into());
        let http = timeouts
            .http_client(&agent)
            .map_err(Error::Config)?
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth,
                auth_kind,
                app_token,
                timeouts,
                write_timeout,
                retry,
                batch_size,
                batch_bytes,
                page_size,
            }),
        })
    }
}

/// Checks a Socrata "4x4" id (`abcd-1234`) so that it can go into a URL path safely.
pub(crate) fn check_dataset_id(id: &str) -> Result<()> {
    let ok = id.len() == 9
        && id.as_bytes()[4] == b'-'
        && id
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidDatasetId(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dataset_ids() {
        assert!(super::check_dataset_id("abcd-1234").is_ok());
        for bad in ["abcd1234", "abcd-123", "ab/d-1234", "abcd-12345", ""] {
            assert!(super::check_dataset_id(bad).is_err(), "{bad}");
        }
    }
}
