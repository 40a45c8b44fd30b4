//! The client, its builder, and the one place where requests are sent and retried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::query::encode;

/// How failed idempotent calls are retried (exponential backoff with jitter).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: usize,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Upper bound on a server's `Retry-After`, so a misconfigured proxy cannot stall a run for hours.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // PostgREST's own connection recovery backs off up to 32 s; 5 retries cover a short DB restart.
        Self {
            max_retries: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    /// Only whether a JWT is set, for Debug: the token itself sits, sensitive, in `headers`.
    has_jwt: bool,
    schema: Option<String>,
    /// Sent with every request: the builder's headers and `Authorization`.
    headers: HeaderMap,
    pub(crate) retry: RetryPolicy,
}

/// A PostgREST client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.base)
            .field("jwt", &self.inner.has_jwt.then_some("[REDACTED]"))
            .field("schema", &self.inner.schema)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; all validation happens in [`ClientBuilder::build`].
#[derive(Default)]
pub struct ClientBuilder {
    endpoint: Option<String>,
    jwt: Option<SecretString>,
    schema: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("jwt", &self.jwt.as_ref().map(|_| "[REDACTED]"))
            .field("schema", &self.schema)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Base URL of the PostgREST server, e.g. `https://pgrest.example.org` (tables hang below it).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }
    /// JWT sent as `Authorization: Bearer …`. Without one PostgREST uses its anonymous role.
    pub fn jwt(mut self, token: impl Into<String>) -> Self {
        self.jwt = Some(SecretString::from(token.into()));
        self
    }
    /// Schema profile: sent as `Accept-Profile` on reads and `Content-Profile` on writes.
    /// Without it the server's first `db-schemas` entry is used.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
    /// A header sent with every request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Whole-request timeout (default 60 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// Connect timeout (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }
    /// Retry policy for idempotent calls.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<Client> {
        let endpoint = self.endpoint.ok_or_else(|| {
            Error::Config("no endpoint: call .endpoint(\"https://your-postgrest-host\")".into())
        })?;
        let url = url::Url::parse(&endpoint).map_err(|e| {
            Error::Config(format!(
                "endpoint {endpoint:?} is not a valid URL ({e}); use e.g. https://host:3000"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config(format!(
                "endpoint {endpoint:?} must not carry a query or fragment; pass only the base URL"
            )));
        }
        let mut headers = HeaderMap::new();
        if let Some(jwt) = &self.jwt {
            let t = jwt.expose_secret();
            if t.trim().is_empty() {
                return Err(Error::Config(
                    "the JWT is empty; set a token or leave .jwt() out".into(),
                ));
            }
            // Built once here, not per request; sensitive keeps it out of reqwest's Debug output.
            let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                Error::Config(
                    "the JWT contains characters not allowed in a header (a stray newline or \
                     quote?); pass the bare token"
                        .into(),
                )
            })?;
            v.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Error::Config(format!("{k:?} is not a valid header name")))?;
            if name == reqwest::header::AUTHORIZATION {
                return Err(Error::Config(
                    "set the token with .jwt(), not as a default Authorization header".into(),
                ));
            }
            let value = HeaderValue::from_str(v)
                .map_err(|_| Error::Config(format!("the value of header {k:?} is not valid")))?;
            headers.append(name, value);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout.unwrap_or(Duration::from_secs(60)))
            .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)))
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?;
        let base = endpoint.trim_end_matches('/').to_string();
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                has_jwt: self.jwt.is_some(),
                schema: self.schema,
                headers,
                retry: self.retry.unwrap_or_default(),
            }),
        })
    }
}

/// One HTTP call, described so that it can be sent again on retry.
pub(crate) struct Call {
    pub(crate) method: Method,
    /// `knack` or `rpc/fn`, unencoded.
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) prefer: Vec<String>,
    pub(crate) idempotent: bool,
}

/// A successful answer, read whole.
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
}

impl Client {
    /// Starts a builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    fn url(&self, call: &Call) -> String {
        let path = match call.path.strip_prefix("rpc/") {
            Some(function) => format!("rpc/{}", encode(function)),
            None => encode(&call.path),
        };
        let mut url = format!("{}/{path}", self.inner.base);
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&call.query);
        }
        url
    }

    async fn send_once(&self, call: &Call) -> Result<Answer> {
        let inner = &self.inner;
        let mut req = inner
            .http
            .request(call.method.clone(), self.url(call))
            .headers(inner.headers.clone());
        if let Some(schema) = &inner.schema {
            let name = if matches!(call.method, Method::GET | Method::HEAD) {
                "Accept-Profile"
            } else {
                "Content-Profile"
            };
            req = req.header(name, schema.as_str());
        }
        if !call.prefer.is_empty() {
            req = req.header("Prefer", call.prefer.join(","));
        }
        if let Some(body) = &call.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.bytes().await.map_err(classify)?.to_vec();
        if (200..300).contains(&status) {
            Ok(Answer { body })
        } else {
            Err(Error::from_response(
                status,
                call.method.as_str(),
                &call.path,
                &body,
                retry_after,
            ))
        }
    }

    /// Sends `call`, retrying transient failures only when the call is idempotent.
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer> {
        let policy = &self.inner.retry;
        if !call.idempotent || policy.max_retries == 0 {
            return self.send_once(call).await;
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_retries)
            .with_jitter();
        let attempt = AtomicUsize::new(0);
        let max = policy.max_retries;
        let cap = policy.max_retry_after;
        (|| self.send_once(call))
            .retry(backoff)
            .when(Error::is_retryable)
            .adjust(|e: &Error, next| next.map(|d| e.retry_after().map_or(d, |ra| ra.min(cap))))
            .notify(|e: &Error, wait| {
                let n = attempt.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::info!(
                    status = e.status(),
                    wait_ms = wait.as_millis() as u64,
                    attempt = n,
                    max_retries = max,
                    "PostgREST {} /{} failed ({e}); retry {n} of {max} in {wait:?}",
                    call.method,
                    call.path
                );
            })
            .await
    }
}

fn classify(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout(e)
    } else {
        Error::Connection(e)
    }
}
