//! `Client`, its builder, authentication and the one place where requests are sent and retried.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::{illegal_field, ApiErrorBody, Error};
use crate::retry::{retry_allowed, Idempotency, RetryPolicy};
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
    auth: Option<Auth>,
    app_token: Option<SecretString>,
    pub(crate) read_timeout: Duration,
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
            .field("auth", &auth_kind(i.auth.as_ref()))
            .field("app_token", &i.app_token.as_ref().map(|_| "[REDACTED]"))
            .field("read_timeout", &i.read_timeout)
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
        Some(Auth::Basic { .. }) => "basic [REDACTED]",
        Some(Auth::OAuth(_)) => "oauth [REDACTED]",
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

    /// Sends one request with the retry policy and returns the 2xx body.
    pub(crate) async fn send(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<Arc<Vec<u8>>>,
        idempotency: Idempotency,
    ) -> Result<Vec<u8>> {
        let policy = &self.inner.retry;
        let attempts = AtomicU32::new(0);
        let timeout = if method == Method::GET {
            self.inner.read_timeout
        } else {
            self.inner.write_timeout
        };
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_factor(2.0)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize);
        if policy.jitter {
            backoff = backoff.with_jitter();
        }
        let max = policy.max_attempts.max(1);
        let attempt = || async {
            let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            self.attempt(
                operation,
                method.clone(),
                url.clone(),
                body.clone(),
                timeout,
                n,
            )
            .await
        };
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| retry_allowed(e, idempotency))
            .adjust(|e, d| d.map(|d| policy.wait_for(e, d)))
            .notify(|e, wait| {
                let n = attempts.load(Ordering::SeqCst);
                tracing::info!(
                    operation,
                    status = e.status(),
                    wait_ms = wait.as_millis() as u64,
                    "Socrata request failed ({e}); retrying, attempt {} of {max}",
                    n + 1
                );
            })
            .await
    }

    async fn attempt(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<Arc<Vec<u8>>>,
        timeout: Duration,
        n: u32,
    ) -> Result<Vec<u8>> {
        let mut req = self.inner.http.request(method, url).timeout(timeout);
        req = self.authorize(req);
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.as_ref().clone());
        }
        let resp = req.send().await.map_err(|e| transport(operation, e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(|e| transport(operation, e))?;
        if status == StatusCode::ACCEPTED {
            return Err(Error::StillProcessing {
                operation: operation.to_string(),
                attempts: n,
            });
        }
        if status.is_success() {
            return Ok(bytes.to_vec());
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

    fn authorize(&self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(token) = &self.inner.app_token {
            if let Ok(mut v) = HeaderValue::from_str(token.expose_secret()) {
                v.set_sensitive(true);
                req = req.header("X-App-Token", v);
            }
        }
        match &self.inner.auth {
            Some(Auth::Basic { user, password }) => {
                req = req.basic_auth(user.expose_secret(), Some(password.expose_secret()));
            }
            Some(Auth::OAuth(token)) => {
                if let Ok(mut v) =
                    HeaderValue::from_str(&format!("OAuth {}", token.expose_secret()))
                {
                    v.set_sensitive(true);
                    req = req.header(AUTHORIZATION, v);
                }
            }
            None => {}
        }
        req
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

fn transport(operation: &str, e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            operation: operation.to_string(),
        }
    } else {
        Error::Transport {
            operation: operation.to_string(),
            source: e,
        }
    }
}

/// Builds a [`Client`]; every setting is checked in [`ClientBuilder::build`].
#[derive(Default, Clone)]
pub struct ClientBuilder {
    domain: Option<String>,
    auth: Option<Auth>,
    app_token: Option<SecretString>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
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
            .field("app_token", &self.app_token.as_ref().map(|_| "[REDACTED]"))
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("retry", &self.retry)
            .field("batch_size", &self.batch_size)
            .field("batch_bytes", &self.batch_bytes)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The portal, e.g. `https://datahub.austintexas.gov` (a bare host gets `https://`).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// HTTP Basic with an API key id and secret (Socrata's recommended way for scripts).
    pub fn api_key(self, key_id: impl Into<String>, key_secret: impl Into<String>) -> Self {
        self.basic_auth(key_id, key_secret)
    }

    /// HTTP Basic with a username and password.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(Auth::Basic {
            user: SecretString::from(username.into()),
            password: SecretString::from(password.into()),
        });
        self
    }

    /// An OAuth 2.0 access token, sent as `Authorization: OAuth <token>` (not `Bearer`).
    pub fn oauth_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(Auth::OAuth(SecretString::from(token.into())));
        self
    }

    /// An app token, sent as `X-App-Token` (raises throttling limits; never put in the URL).
    pub fn app_token(mut self, token: impl Into<String>) -> Self {
        self.app_token = Some(SecretString::from(token.into()));
        self
    }

    /// Timeout of each read request (default 30 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Timeout of each write request (default 120 s; Socrata can take a minute on big batches).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// Timeout for opening a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
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
            Error::Config("no domain set; call .domain(\"https://data.example.gov\")".into())
        })?;
        let raw = raw.trim().trim_end_matches('/');
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("https://{raw}")
        };
        let mut base = Url::parse(&with_scheme).map_err(|e| {
            Error::Config(format!(
                "domain {raw:?} is not a URL ({e}); use e.g. https://data.example.gov"
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::Config(format!(
                "domain {raw:?} must be an http(s) URL with a host"
            )));
        }
        let local = matches!(base.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if base.scheme() == "http" && !local && (self.auth.is_some() || self.app_token.is_some()) {
            return Err(Error::Config(format!(
                "domain {raw:?} uses plain http: credentials would travel in clear text (and Socrata \
                 revokes OAuth tokens sent that way); use https://"
            )));
        }
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
        if retry.max_attempts == 0 {
            return Err(Error::Config(
                "retry.max_attempts must be at least 1 (1 = no retries)".into(),
            ));
        }
        if retry.min_delay > retry.max_delay {
            return Err(Error::Config(
                "retry.min_delay must not exceed retry.max_delay".into(),
            ));
        }
        if let Some(Auth::Basic { user, .. }) = &self.auth {
            if user.expose_secret().contains(':') {
                return Err(Error::Config(
                    "the Basic-auth username / API key id must not contain ':'; check the key id"
                        .into(),
                ));
            }
        }
        let http =
            reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)))
                .user_agent(self.user_agent.unwrap_or_else(|| {
                    concat!("socrata-client/", env!("CARGO_PKG_VERSION")).into()
                }))
                .build()
                .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth: self.auth,
                app_token: self.app_token,
                read_timeout: self.read_timeout.unwrap_or(Duration::from_secs(30)),
                write_timeout: self.write_timeout.unwrap_or(Duration::from_secs(120)),
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
