//! The client, its builder, and the one request path every call goes through
//! (limiter, headers, retries, error mapping).

use bytes::Bytes;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use knack_services_core::{
    base_url, describe_transport, lock, read_body, retry_counting_limit, surely_not_sent,
    Idempotency, RetryPolicy, SensitiveHeader, Timeouts,
};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use crate::quota::{daily_limit_spent, quota, rate_limit_wait, Quota};
use crate::rate_limit::{limiter_for, Limiter};
use crate::{Error, Metadata, Result};

/// Knack's API root for ordinary accounts.
pub const DEFAULT_BASE_URL: &str = "https://api.knack.com/v1";

/// How many bytes of pages a record stream fetches ahead by default: 8 MiB, three pages of
/// 1,000 full-size records (about 2.5 MB each). At Knack's 10 requests/s and an answer time
/// under 300 ms, three pages in flight keep it at its rate limit.
pub const DEFAULT_READ_AHEAD_BYTES: usize = 8 << 20;

/// Which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// None at all (application metadata, as knackpy does).
    None,
    /// App id + API key (object routes).
    Object,
    /// App id + user token if configured, else the API key, else the literal
    /// `knack` that public views accept (view routes).
    View,
}

/// One logical call; attempts are made from it.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
    pub(crate) auth: Auth,
    /// Safe to repeat after an ambiguous failure (timeout, 5xx, dropped
    /// connection): every call except a create, unless its caller opts in.
    pub(crate) idempotency: Idempotency,
}

/// A Knack API client for one application. Cheap to clone: clones share the
/// connection pool and the app's rate limiter.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    base_url: Url,
    app_id: String,
    /// The secrets as sensitive header values, built once by the builder.
    api_key: Option<SensitiveHeader>,
    user_token: Option<SensitiveHeader>,
    client_timezone: Option<chrono_tz::Tz>,
    retry: RetryPolicy,
    timeouts: Timeouts,
    /// The daily quota Knack last reported.
    quota: Mutex<Option<Quota>>,
    limiter: Arc<Limiter>,
    pub(crate) page_concurrency: usize,
    pub(crate) read_ahead_bytes: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("app_id", &i.app_id)
            .field("base_url", &i.base_url.as_str())
            .field("api_key", &i.api_key)
            .field("user_token", &i.user_token)
            .field("retry", &i.retry)
            .field("page_concurrency", &i.page_concurrency)
            .field("read_ahead_bytes", &i.read_ahead_bytes)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The application id this client works for.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The most bytes of pages a record stream fetches ahead of its consumer
    /// ([`ClientBuilder::read_ahead_bytes`]): what a reader that buffers too should count
    /// against its own bound.
    pub fn read_ahead_bytes(&self) -> usize {
        self.inner.read_ahead_bytes
    }

    /// The average time between two requests of this app over a long run: 1.1 s divided by
    /// `requests_per_second` (at most that many requests are sent in any 1.1 s, a margin for
    /// Knack counting them as they arrive).
    pub fn request_interval(&self) -> Duration {
        self.inner.limiter.period()
    }

    /// The API root, ending in `/`.
    pub fn base_url(&self) -> &str {
        self.inner.base_url.as_str()
    }

    /// The app's daily API quota as Knack last reported it
    /// (`X-PlanLimit-*` headers of the latest answer); `None` before the
    /// first answer or when Knack sends no such headers.
    pub fn quota(&self) -> Option<Quota> {
        *lock(&self.inner.quota)
    }

    /// The application's metadata (`GET /applications/{app_id}`).
    ///
    /// Sends no API key or token: the route is public, knackpy calls it
    /// without headers, and a secret not sent is a secret not leaked.
    ///
    /// # Errors
    /// As for any call ([`Error::Api`], [`Error::Timeout`], ...), and
    /// [`Error::Metadata`] when the answer is not an application's metadata.
    pub async fn metadata(&self) -> Result<Metadata> {
        Metadata::from_json(self.metadata_json().await?)
    }

    /// The application's metadata as the raw JSON Knack sent, for storing it
    /// untouched.
    ///
    /// # Errors
    /// As [`Client::metadata`], without the shape check.
    pub async fn metadata_json(&self) -> Result<Value> {
        self.execute(&Call {
            method: Method::GET,
            path: format!("applications/{}", self.inner.app_id),
            query: Vec::new(),
            body: None,
            auth: Auth::None,
            idempotency: Idempotency::Idempotent,
        })
        .await
    }

    /// Runs a call with the limiter and the retry policy. A DELETE that
    /// answers 404 after a retry counts as done: the earlier attempt deleted it.
    pub(crate) async fn execute(&self, call: &Call) -> Result<Value> {
        let body = self.execute_bytes(call).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            path: call.path.clone(),
            message: format!("the body is not JSON ({e})"),
        })
    }

    /// Like [`Client::execute`], giving back the body's bytes undecoded, for callers that keep
    /// parts of it as Knack sent them. Decoding is not retried either way: a body that is not
    /// JSON fails the same on every attempt.
    pub(crate) async fn execute_bytes(&self, call: &Call) -> Result<Bytes> {
        let attempts = AtomicU32::new(0);
        let label = format!(
            "Knack {} {} (app {})",
            call.method, call.path, self.inner.app_id
        );
        // A 429's backoff is time spent on Knack's rate limit, as the limiter's own waits are.
        let limit = "Knack rate limit";
        let result =
            retry_counting_limit(&self.inner.retry, call.idempotency, &label, limit, |_| {
                attempts.fetch_add(1, Ordering::Relaxed);
                self.attempt(call)
            })
            .await;
        match result {
            Err(Error::Api { status: 404, .. })
                if call.method == Method::DELETE && attempts.load(Ordering::Relaxed) > 1 =>
            {
                Ok(Bytes::from_static(br#"{"delete":true}"#))
            }
            other => other,
        }
    }

    async fn attempt(&self, call: &Call) -> Result<Bytes> {
        let inner = &self.inner;
        let url = inner
            .base_url
            .join(&call.path)
            .map_err(|e| Error::Config(format!("bad path {}: {e}", call.path)))?;
        let mut req = inner
            .http
            .request(call.method.clone(), url)
            .query(&call.query);
        if call.auth != Auth::None {
            req = req.header("X-Knack-Application-Id", inner.app_id.as_str());
            if let Some(tz) = inner.client_timezone {
                req = req.header("knack-client-timezone", tz.name());
            }
        }
        match call.auth {
            Auth::None => {}
            Auth::Object => {
                let key = inner.api_key.as_ref().ok_or_else(|| {
                    Error::Config(
                        "object requests need an API key: set ClientBuilder::api_key".into(),
                    )
                })?;
                req = req.header("X-Knack-REST-API-Key", key.value());
            }
            Auth::View => {
                if let Some(token) = &inner.user_token {
                    req = req.header("Authorization", token.value());
                } else if let Some(key) = &inner.api_key {
                    req = req.header("X-Knack-REST-API-Key", key.value());
                } else {
                    req = req.header("X-Knack-REST-API-Key", "knack");
                }
            }
        }
        if let Some(body) = &call.body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        {
            // Time spent waiting for a slot of the app's rate limit, told apart from time spent
            // waiting on Knack's answers (see `knack_services_core::ledger`).
            let _limited = knack_services_core::ledger::waiting("Knack rate limit");
            inner.limiter.acquire().await;
        }
        crate::prefetch::took_limiter_slot();
        let _waiting = knack_services_core::ledger::waiting("Knack");
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(e, call))?;
        let status = resp.status();
        if let Some(q) = quota(resp.headers()) {
            *lock(&inner.quota) = Some(q);
        }
        if status.is_success() {
            return read_body(resp)
                .await
                .map_err(|e| self.transport_error(e, call));
        }
        if status.as_u16() == 429 {
            if let Some(resets_at) = daily_limit_spent(resp.headers()) {
                return Err(Error::DailyLimitExceeded {
                    app_id: inner.app_id.clone(),
                    method: call.method.to_string(),
                    path: call.path.clone(),
                    resets_at,
                });
            }
        }
        let retry_after =
            (status.as_u16() == 429).then(|| rate_limit_wait(resp.headers(), SystemTime::now()));
        let body = resp.text().await.unwrap_or_default();
        Err(Error::Api {
            status: status.as_u16(),
            app_id: inner.app_id.clone(),
            method: call.method.to_string(),
            path: call.path.clone(),
            message: knack_message(&body),
            retry_after,
        })
    }

    fn transport_error(&self, e: reqwest::Error, call: &Call) -> Error {
        let (app_id, method, path) = (
            self.inner.app_id.clone(),
            call.method.to_string(),
            call.path.clone(),
        );
        if e.is_timeout() && !e.is_connect() {
            Error::Timeout {
                app_id,
                method,
                path,
                after: self.inner.timeouts.total,
            }
        } else {
            let base = &self.inner.base_url;
            Error::Transport {
                app_id,
                method,
                path,
                host: base.origin().ascii_serialization().into(),
                not_sent: surely_not_sent(&e),
                cause: describe_transport(&e, &self.inner.timeouts),
            }
        }
    }
}

/// Knack's message from `{"errors":[{"message":..}]}` (or `{"message":..}`),
/// else the body text as sent (trimmed, capped).
fn knack_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let messages: Vec<&str> = match v.get("errors") {
            Some(Value::Array(errs)) => errs
                .iter()
                .filter_map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .or_else(|| e.as_str())
                })
                .collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => v
                .get("message")
                .and_then(Value::as_str)
                .into_iter()
                .collect(),
        };
        if !messages.is_empty() {
            return messages.join("; ");
        }
    }
    let text = body.trim();
    if text.is_empty() {
        return "(no message)".into();
    }
    text.chars().take(500).collect()
}

/// Configures a [`Client`]; [`ClientBuilder::build`] checks everything.
pub struct ClientBuilder {
    app_id: Option<String>,
    api_key: Option<SecretString>,
    user_token: Option<SecretString>,
    base_url: String,
    timeouts: Timeouts,
    allow_insecure_http: bool,
    retry: RetryPolicy,
    requests_per_second: u32,
    page_concurrency: usize,
    read_ahead_bytes: usize,
    client_timezone: Option<chrono_tz::Tz>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            app_id: None,
            api_key: None,
            user_token: None,
            base_url: DEFAULT_BASE_URL.into(),
            timeouts: Timeouts {
                connect: Duration::from_secs(30),
                total: Duration::from_secs(30),
            },
            allow_insecure_http: false,
            retry: RetryPolicy::default(),
            requests_per_second: 10,
            page_concurrency: 4,
            read_ahead_bytes: DEFAULT_READ_AHEAD_BYTES,
            client_timezone: None,
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("app_id", &self.app_id)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field(
                "user_token",
                &self.user_token.as_ref().map(|_| "[redacted]"),
            )
            .field("base_url", &self.base_url)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The application id (24 hex characters, from the app's URL or settings). Required.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// The REST API key (Knack: Settings > API & Code): a `String`, `&str` or
    /// [`SecretString`]. Needed for object routes; without it only public
    /// views can be read.
    pub fn api_key(mut self, key: impl Into<SecretString>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// A user token for view requests to login-protected pages. View
    /// requests then send `Authorization: <token>` (raw, no `Bearer`) and no
    /// API key; object requests still use the API key.
    pub fn user_token(mut self, token: impl Into<SecretString>) -> Self {
        self.user_token = Some(token.into());
        self
    }

    /// The API root, `https://api.knack.com/v1` by default. Tests point it at
    /// a fake server. `https://`, or `http://` to loopback only unless
    /// [`ClientBuilder::allow_insecure_http`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Allows a plain `http://` base URL off loopback (a proxy on a private
    /// network); the API key then crosses that network unencrypted. Logged
    /// as a warning when the client is built. Off by default.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The API root of an account host, `https://{slug}-api.knack.com/v1`
    /// (required for HIPAA accounts; the slug is `application.account.slug`).
    pub fn account_slug(self, slug: &str) -> Self {
        self.base_url(format!("https://{slug}-api.knack.com/v1"))
    }

    /// How long to wait for a connection (default 30 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.timeouts.connect = t;
        self
    }

    /// The longest a single request may take, record pages included
    /// (default 30 s; knackpy had none on record pages and could hang).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeouts.total = t;
        self
    }

    /// The retry policy (default: [`RetryPolicy::default`], 10 retries
    /// within 3 minutes, 429 waits capped at 30 s; see the README table).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The request rate for this app, at most Knack's 10 per second
    /// (the default). Lower it to leave room for other programs using the app.
    pub fn requests_per_second(mut self, n: u32) -> Self {
        self.requests_per_second = n;
        self
    }

    /// How many record pages may be in flight at once (default 4, 1..=32).
    /// The limiter still caps the rate; concurrency only hides latency.
    pub fn page_concurrency(mut self, n: usize) -> Self {
        self.page_concurrency = n;
        self
    }

    /// The most bytes of record pages fetched ahead of the stream's consumer (in flight or
    /// waiting to be taken), default [`DEFAULT_READ_AHEAD_BYTES`]. Pages are counted at the
    /// largest page seen so far, by the size of Knack's answer, and one page is always allowed,
    /// so a slow consumer holds at most this much (or one page) whatever the record size;
    /// `page_concurrency` still caps the count. Pages parsed into [`crate::Record`]s
    /// ([`Client::pages`]) take a few times their answer's size; raw pages
    /// ([`Client::raw_pages`]) about the same.
    pub fn read_ahead_bytes(mut self, bytes: usize) -> Self {
        self.read_ahead_bytes = bytes;
        self
    }

    /// Sends `knack-client-timezone` so multi-timezone apps answer in this zone.
    pub fn client_timezone(mut self, tz: chrono_tz::Tz) -> Self {
        self.client_timezone = Some(tz);
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting that is wrong.
    pub fn build(self) -> Result<Client> {
        let app_id = self
            .app_id
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| {
                Error::Config("the app id is missing: set ClientBuilder::app_id".into())
            })?;
        if !app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Config(format!(
                "the app id {app_id:?} is not a Knack application id (24 hex characters): check ClientBuilder::app_id"
            )));
        }
        let header = |what, secret: &Option<SecretString>| {
            secret
                .as_ref()
                .map(|s| SensitiveHeader::new(what, "", s))
                .transpose()
                .map_err(Error::Config)
        };
        let api_key = header("the API key (ClientBuilder::api_key)", &self.api_key)?;
        let user_token = header(
            "the user token (ClientBuilder::user_token)",
            &self.user_token,
        )?;
        let base_url = base_url(
            &self.base_url,
            "the Knack base URL",
            self.allow_insecure_http,
        )
        .map_err(Error::Config)?;
        let per_second = NonZeroU32::new(self.requests_per_second)
            .filter(|n| n.get() <= 10)
            .ok_or_else(|| {
                Error::Config(format!(
                    "requests_per_second is {}: Knack allows 1 to 10 requests per second per app",
                    self.requests_per_second
                ))
            })?;
        if !(1..=32).contains(&self.page_concurrency) {
            return Err(Error::Config(format!(
                "page_concurrency is {}: use 1 to 32",
                self.page_concurrency
            )));
        }
        self.retry.validate().map_err(Error::Config)?;
        let http = self
            .timeouts
            .http_client(concat!("knack-client-rs/", env!("CARGO_PKG_VERSION")))
            .map_err(Error::Config)?
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?;
        let limiter = limiter_for(
            &base_url.origin().ascii_serialization(),
            &app_id,
            per_second,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                limiter,
                app_id,
                api_key,
                user_token,
                client_timezone: self.client_timezone,
                retry: self.retry,
                timeouts: self.timeouts,
                quota: Mutex::new(None),
                page_concurrency: self.page_concurrency,
                read_ahead_bytes: self.read_ahead_bytes,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knack_messages_are_extracted_or_kept_raw() {
        assert_eq!(
            knack_message(r#"{"errors":[{"message":"Invalid API key"}]}"#),
            "Invalid API key"
        );
        assert_eq!(
            knack_message(r#"{"errors":[{"message":"a"},{"message":"b"}]}"#),
            "a; b"
        );
        assert_eq!(knack_message("Rate limit exceeded"), "Rate limit exceeded");
        assert_eq!(knack_message(r#"{"other":1}"#), r#"{"other":1}"#);
        assert_eq!(knack_message(""), "(no message)");
    }

    #[test]
    fn build_validates_each_setting() {
        let ok = || {
            Client::builder()
                .app_id("5f0000000000000000000001")
                .api_key("k")
        };
        assert!(ok().build().is_ok());
        let msg = |b: ClientBuilder| b.build().unwrap_err().to_string();
        // Messages name the builder's settings: the caller may not use environment variables.
        assert!(msg(Client::builder().api_key("k")).contains("ClientBuilder::app_id"));
        assert!(msg(ok().app_id("a/b")).contains("ClientBuilder::app_id"));
        assert!(msg(ok().api_key(" ")).contains("ClientBuilder::api_key"));
        assert!(msg(ok().base_url("ftp://x")).contains("base URL"));
        assert!(msg(ok().requests_per_second(11)).contains("1 to 10"));
        assert!(msg(ok().requests_per_second(0)).contains("1 to 10"));
        assert!(msg(ok().page_concurrency(0)).contains("page_concurrency"));
        assert!(msg(ok().timeout(Duration::ZERO)).contains("timeouts"));
        assert!(msg(ok().retry_policy(RetryPolicy {
            min_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(1),
            ..Default::default()
        }))
        .contains("min_backoff"));
        assert!(msg(ok().base_url("api.knack.com/v1")).contains("https://"));
        assert!(msg(ok().base_url("http://knack.internal/v1")).contains("allow_insecure_http"));
        assert!(ok()
            .base_url("http://knack.internal/v1")
            .allow_insecure_http(true)
            .build()
            .is_ok());
        let hipaa = ok().account_slug("austin").build().unwrap();
        assert_eq!(hipaa.base_url(), "https://austin-api.knack.com/v1/");
    }

    #[test]
    fn knack_failures_are_classified_for_the_retry_loop() {
        use knack_services_core::{Classify, RetryClass};
        let api = |status| Error::Api {
            status,
            app_id: "a".into(),
            method: "POST".into(),
            path: "p".into(),
            message: "m".into(),
            retry_after: None,
        };
        let timeout = Error::Timeout {
            app_id: "a".into(),
            method: "POST".into(),
            path: "p".into(),
            after: Duration::from_secs(1),
        };
        let daily = Error::DailyLimitExceeded {
            app_id: "a".into(),
            method: "GET".into(),
            path: "p".into(),
            resets_at: None,
        };
        assert_eq!(
            api(429).retry_class(),
            RetryClass::RateLimited { wait: None }
        );
        assert_eq!(api(502).retry_class(), RetryClass::Transient);
        assert_eq!(timeout.retry_class(), RetryClass::Transient);
        assert_eq!(api(400).retry_class(), RetryClass::Permanent);
        assert_eq!(daily.retry_class(), RetryClass::Permanent);
        assert!(!daily.is_retryable());
    }
}
