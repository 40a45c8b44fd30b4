//! `Client`, its builder, token handling and the one request path every call goes through.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub(crate) use knack_services_core::Idempotency;
use knack_services_core::{base_url, retry, Classify, RetryClass, RetryPolicy, Timeouts};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::Error;
use crate::response::read_response;

/// ArcGIS Online's own portal, the default of [`ClientBuilder::portal_url`]: it signs in every
/// ArcGIS Online user, of any organisation. An organisation's portal
/// (`https://<org>.maps.arcgis.com`) or an ArcGIS Enterprise portal is set with `portal_url`.
pub const DEFAULT_PORTAL_URL: &str = "https://www.arcgis.com";

/// How the client proves who it is.
#[derive(Clone)]
enum Credentials {
    /// Nothing: public services only.
    Anonymous,
    /// Signs in through `generateToken` and renews the token itself.
    UserPassword {
        username: String,
        password: SecretString,
    },
    /// A token obtained elsewhere; it cannot be renewed by the client.
    Token(SecretString),
    /// An API key (sent like a token; never expires from the client's point of view).
    ApiKey(SecretString),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::UserPassword { username, .. } => f
                .debug_struct("UserPassword")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Credentials::Token(_) => f.write_str("Token([REDACTED])"),
            Credentials::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
        }
    }
}

/// How many edits go in one request (defaults match production: 50 adds, 100 deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSizes {
    /// Features per add call (the original went from 500 to 50 after timeouts).
    pub adds: usize,
    /// Features per update call.
    pub updates: usize,
    /// Object ids (or values in an `IN` list) per delete call.
    pub deletes: usize,
}

impl Default for BatchSizes {
    fn default() -> Self {
        BatchSizes {
            adds: 50,
            updates: 50,
            deletes: 100,
        }
    }
}

/// Builds a [`Client`]; all validation happens in [`ClientBuilder::build`].
#[derive(Clone)]
pub struct ClientBuilder {
    portal: String,
    credentials: Credentials,
    timeouts: Timeouts,
    allow_insecure_http: bool,
    retry: RetryPolicy,
    batch: BatchSizes,
    token_minutes: u32,
    refresh_margin: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("portal", &self.portal)
            .field("credentials", &self.credentials)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            portal: DEFAULT_PORTAL_URL.to_string(),
            credentials: Credentials::Anonymous,
            timeouts: Timeouts {
                connect: Duration::from_secs(15),
                total: Duration::from_secs(120),
            },
            allow_insecure_http: false,
            retry: RetryPolicy::default(),
            batch: BatchSizes::default(),
            token_minutes: 60,
            refresh_margin: Duration::from_secs(300),
        }
    }
}

impl ClientBuilder {
    /// The portal root: [`DEFAULT_PORTAL_URL`] (`https://www.arcgis.com`, the default), an
    /// organisation's `https://<org>.maps.arcgis.com`, or an Enterprise portal's root.
    /// It must be a full `https://` URL; plain `http://` is accepted only to this machine
    /// (127.0.0.0/8, `::1`, `localhost`) unless [`ClientBuilder::allow_insecure_http`] is set.
    pub fn portal_url(mut self, url: impl Into<String>) -> Self {
        self.portal = url.into();
        self
    }

    /// Sign in with a named user; the client generates, caches and renews tokens.
    pub fn credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.credentials = Credentials::UserPassword {
            username: username.into(),
            password: password.into(),
        };
        self
    }

    /// Use a token obtained elsewhere (it cannot be renewed: a 498 then fails the call).
    pub fn token(mut self, token: impl Into<SecretString>) -> Self {
        self.credentials = Credentials::Token(token.into());
        self
    }

    /// Use an ArcGIS API key.
    pub fn api_key(mut self, key: impl Into<SecretString>) -> Self {
        self.credentials = Credentials::ApiKey(key.into());
        self
    }

    /// The longest one attempt may take, body included (default 120 s; large edit batches are
    /// slow). A stalled answer is abandoned then and retried within the retry policy (adds only
    /// when they surely were not applied).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.total = timeout;
        self
    }

    /// The longest wait for a TCP + TLS connection (default 15 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// Allows a plain `http://` portal off this machine (a proxy on a private network). Tokens
    /// and passwords then cross the network unencrypted; a warning is logged. Default: false.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// When and how often failed calls are tried again (default [`RetryPolicy::default`]: 10
    /// retries within 3 minutes; see the crate README's table).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Edit batch sizes.
    pub fn batch_sizes(mut self, batch: BatchSizes) -> Self {
        self.batch = batch;
        self
    }

    /// Lifetime asked for generated tokens, in minutes (default 60; the portal caps it).
    pub fn token_expiration_minutes(mut self, minutes: u32) -> Self {
        self.token_minutes = minutes;
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let portal = base_url(
            &self.portal,
            "the ArcGIS portal URL",
            self.allow_insecure_http,
        )
        .map_err(|e| Error::Config(format!("{e} (such as {DEFAULT_PORTAL_URL})")))?;
        if portal.query().is_some() {
            return Err(Error::Config(
                "portal URL must not carry a query string (tokens never go in URLs)".into(),
            ));
        }
        self.retry.validate().map_err(Error::Config)?;
        match &self.credentials {
            Credentials::UserPassword { username, password }
                if username.trim().is_empty() || password.expose_secret().is_empty() =>
            {
                return Err(Error::Config(
                    "username and password must both be non-empty: ClientBuilder::credentials(username, password)"
                        .into(),
                ));
            }
            Credentials::Token(s) | Credentials::ApiKey(s)
                if s.expose_secret().trim().is_empty() =>
            {
                return Err(Error::Config("the token / API key is empty".into()));
            }
            _ => {}
        }
        let b = self.batch;
        if b.adds == 0 || b.updates == 0 || b.deletes == 0 {
            return Err(Error::Config("batch sizes must be at least 1".into()));
        }
        if self.token_minutes == 0 {
            return Err(Error::Config(
                "token expiration must be at least 1 minute".into(),
            ));
        }
        let http = self
            .timeouts
            .http_client(concat!("agol-client/", env!("CARGO_PKG_VERSION")))
            .map_err(Error::Config)?
            .build()
            .map_err(|e| Error::Config(format!("cannot set up HTTP (TLS backend): {e}")))?;
        let refresh_margin = self
            .refresh_margin
            .min(Duration::from_secs(u64::from(self.token_minutes) * 30));
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                portal: portal.as_str().trim_end_matches('/').to_string(),
                credentials: self.credentials,
                token: tokio::sync::Mutex::new(None),
                retry: self.retry,
                timeouts: self.timeouts,
                batch: self.batch,
                token_minutes: self.token_minutes,
                refresh_margin,
            }),
        })
    }
}

struct CachedToken {
    token: SecretString,
    expires: Option<SystemTime>,
}

struct Inner {
    http: reqwest::Client,
    portal: String,
    credentials: Credentials,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    retry: RetryPolicy,
    timeouts: Timeouts,
    batch: BatchSizes,
    token_minutes: u32,
    refresh_margin: Duration,
}

/// An ArcGIS Online client. Cheap to clone: all clones share one connection pool and token cache.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("portal", &self.inner.portal)
            .field("credentials", &self.inner.credentials)
            .field("retry", &self.inner.retry)
            .field("batch", &self.inner.batch)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a builder (portal defaults to [`DEFAULT_PORTAL_URL`], anonymous access).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The portal root, without a trailing slash.
    pub fn portal_url(&self) -> &str {
        &self.inner.portal
    }

    /// The edit batch sizes.
    pub fn batch_sizes(&self) -> BatchSizes {
        self.inner.batch
    }

    /// Drops the cached token so the next call signs in again.
    pub async fn invalidate_token(&self) {
        *self.inner.token.lock().await = None;
    }

    /// The token to send, generating or renewing one when needed.
    async fn current_token(&self, force_refresh: bool) -> Result<Option<SecretString>, Error> {
        let (username, password) = match &self.inner.credentials {
            Credentials::Anonymous => return Ok(None),
            Credentials::Token(t) | Credentials::ApiKey(t) => return Ok(Some(t.clone())),
            Credentials::UserPassword { username, password } => (username, password),
        };
        let mut slot = self.inner.token.lock().await;
        if let Some(cached) = slot.as_ref() {
            let fresh = cached
                .expires
                .is_none_or(|exp| SystemTime::now() + self.inner.refresh_margin < exp);
            if fresh && !force_refresh {
                return Ok(Some(cached.token.clone()));
            }
        }
        let new = self.generate_token(username, password).await?;
        let token = new.token.clone();
        *slot = Some(new);
        Ok(Some(token))
    }

    async fn generate_token(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<CachedToken, Error> {
        let op = "generateToken";
        let url = format!("{}/sharing/rest/generateToken", self.inner.portal);
        let minutes = self.inner.token_minutes.to_string();
        let form: Vec<(&str, &str)> = vec![
            ("username", username),
            ("password", password.expose_secret()),
            ("client", "referer"),
            ("referer", &self.inner.portal),
            ("expiration", &minutes),
            ("f", "json"),
        ];
        // One attempt: this runs inside the retry loop of the call that needs the token, so a
        // transient failure here is retried there (a loop of its own would multiply the retries).
        let timeouts = &self.inner.timeouts;
        let body = match self.inner.http.post(&url).form(&form).send().await {
            Ok(resp) => read_response(op, resp, timeouts).await,
            Err(e) => Err(Error::transport(op, &e, timeouts)),
        };
        let refused = body
            .as_ref()
            .is_err_and(|e| e.retry_class() == RetryClass::Permanent);
        let body = match body {
            Err(Error::Api {
                message, details, ..
            }) if refused => {
                return Err(Error::Auth {
                    username: username.to_string(),
                    message,
                    details,
                });
            }
            other => other?,
        };
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Decode {
                operation: op.into(),
                message: "no `token` in the generateToken response".into(),
            })?;
        let expires = match body.get("expires") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        Ok(CachedToken {
            token: SecretString::from(token.to_string()),
            expires,
        })
    }

    /// POSTs a form (with `f=json` and the token as form fields) and returns the checked JSON body.
    /// Retries transient failures per `idempotency`, renews the token once on 498/499.
    pub(crate) async fn post(
        &self,
        operation: &str,
        url: &str,
        params: &[(&str, String)],
        idempotency: Idempotency,
    ) -> Result<Value, Error> {
        let label = format!("ArcGIS {operation} ({})", path_of(url));
        let attempt = |_| self.post_authed(operation, url, params);
        let _waiting = knack_services_core::ledger::waiting("ArcGIS");
        match retry(&self.inner.retry, idempotency, &label, attempt).await {
            Err(e)
                if idempotency == Idempotency::NotIdempotent
                    && e.retry_class() == RetryClass::Transient =>
            {
                Err(Error::OutcomeUnknown {
                    operation: operation.into(),
                    source: Box::new(e),
                })
            }
            other => other,
        }
    }

    async fn post_authed(
        &self,
        operation: &str,
        url: &str,
        params: &[(&str, String)],
    ) -> Result<Value, Error> {
        let token = self.current_token(false).await?;
        let first = self.post_once(operation, url, params, token.as_ref()).await;
        let Some(code) = first.as_ref().err().and_then(Error::token_code) else {
            return first;
        };
        let rejected = |code: i64, e: Error| match e {
            Error::Api { message, .. } => Error::TokenRejected {
                operation: operation.into(),
                code,
                message,
            },
            other => other,
        };
        if !matches!(self.inner.credentials, Credentials::UserPassword { .. }) {
            return Err(rejected(code, first.unwrap_err()));
        }
        // A 498/499 means the service refused the request before applying it, so even adds are
        // safe to send once more with a fresh token.
        tracing::info!(
            operation,
            code,
            "token rejected; generating a new one and retrying once"
        );
        let token = self.current_token(true).await?;
        match self.post_once(operation, url, params, token.as_ref()).await {
            Err(e) => match e.token_code() {
                Some(code) => Err(rejected(code, e)),
                None => Err(e),
            },
            ok => ok,
        }
    }

    async fn post_once(
        &self,
        operation: &str,
        url: &str,
        params: &[(&str, String)],
        token: Option<&SecretString>,
    ) -> Result<Value, Error> {
        let mut form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("f", "json"));
        if let Some(t) = token {
            form.push(("token", t.expose_secret()));
        }
        let resp = self
            .inner
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| Error::transport(operation, &e, &self.inner.timeouts))?;
        read_response(operation, resp, &self.inner.timeouts).await
    }
}

/// The path of a URL, for log lines (the host is in the portal; no secret is ever in a URL).
fn path_of(url: &str) -> &str {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url)
}
