//! The client, its builder, and the one place where requests are sent: each
//! call runs in the shared retry loop of `knack-services-core`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use knack_services_core::{
    base_url, describe_transport, read_body, retry, retry_after, surely_not_sent, Idempotency,
    RetryPolicy, SensitiveHeader, Timeouts,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::query::encode;

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    /// The JWT as `Bearer …`, marked sensitive; `Debug` prints `[redacted]`.
    jwt: Option<SensitiveHeader>,
    schema: Option<String>,
    /// Sent with every request: the builder's extra headers.
    headers: HeaderMap,
    pub(crate) retry: RetryPolicy,
    timeouts: Timeouts,
}

/// A PostgREST client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base)
            .field("jwt", &self.inner.jwt)
            .field("schema", &self.inner.schema)
            .field("retry", &self.inner.retry)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; all validation happens in [`ClientBuilder::build`].
pub struct ClientBuilder {
    base_url: Option<String>,
    jwt: Option<SecretString>,
    schema: Option<String>,
    headers: Vec<(String, String)>,
    timeouts: Timeouts,
    allow_insecure_http: bool,
    retry: RetryPolicy,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: None,
            jwt: None,
            schema: None,
            headers: Vec::new(),
            // A 1000-row upsert batch into an indexed table can take seconds; 60 s leaves room.
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                total: Duration::from_secs(60),
            },
            allow_insecure_http: false,
            retry: RetryPolicy::default(),
        }
    }
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("jwt", &self.jwt.as_ref().map(|_| "[redacted]"))
            .field("schema", &self.schema)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeouts", &self.timeouts)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientBuilder {
    /// Base URL of the PostgREST server, e.g. `https://pgrest.example.org` (tables hang below it).
    /// `https://`, or `http://` to this machine only (127.0.0.0/8, `::1`, `localhost`) unless
    /// [`ClientBuilder::allow_insecure_http`]. A bare host is refused: give the full URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    /// Allows a plain `http://` base URL off this machine (a sidecar or a private Docker network);
    /// the JWT then crosses that network unencrypted. Logged as a warning at build. Off by default.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
    /// JWT sent as `Authorization: Bearer …`: a `String`, `&str` or [`SecretString`]. Without one
    /// PostgREST uses its anonymous role.
    pub fn jwt(mut self, token: impl Into<SecretString>) -> Self {
        self.jwt = Some(token.into());
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
    /// The longest one attempt may take, body included (default 60 s). A stalled answer is
    /// abandoned then and retried within the policy.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeouts.total = t;
        self
    }
    /// How long to wait for a connection (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.timeouts.connect = t;
        self
    }
    /// The retry policy (default [`RetryPolicy::default`]: 10 retries within 3 minutes; see the
    /// README table). Non-idempotent calls are retried only when surely not applied.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Validates the settings and builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting that is wrong and how to fix it.
    pub fn build(self) -> Result<Client> {
        let endpoint = self.base_url.ok_or_else(|| {
            Error::Config(
                "no endpoint: call ClientBuilder::base_url(\"https://your-postgrest-host\")".into(),
            )
        })?;
        let url = base_url(
            &endpoint,
            "ClientBuilder::base_url",
            self.allow_insecure_http,
        )
        .map_err(Error::Config)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config(format!(
                "ClientBuilder::base_url {endpoint:?} must not carry a query or fragment; pass only the base URL"
            )));
        }
        let jwt = self
            .jwt
            .as_ref()
            .map(|t| SensitiveHeader::new("the JWT (ClientBuilder::jwt)", "Bearer ", t))
            .transpose()
            .map_err(|e| {
                Error::Config(format!(
                    "{e}; set a bare token or leave ClientBuilder::jwt out"
                ))
            })?;
        let mut headers = HeaderMap::new();
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
        self.retry.validate().map_err(Error::Config)?;
        let http = self
            .timeouts
            .http_client(concat!("pgrest-client-rs/", env!("CARGO_PKG_VERSION")))
            .map_err(Error::Config)?
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?;
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                jwt,
                schema: self.schema,
                headers,
                retry: self.retry,
                timeouts: self.timeouts,
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
    /// Shared, so a retry sends the same buffer again instead of a copy.
    pub(crate) body: Option<Bytes>,
    pub(crate) prefer: Vec<String>,
    pub(crate) idempotent: bool,
}

/// A successful answer, read whole.
pub(crate) struct Answer {
    /// As `read_body` collected it: a page of megabytes is not copied again.
    pub(crate) body: Bytes,
    /// The `Content-Range` header (`0-9/42`, `*/42`), when sent: where a count arrives.
    pub(crate) content_range: Option<String>,
}

impl Client {
    /// Starts a builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL this client talks to (without a trailing `/`).
    pub fn base_url(&self) -> &str {
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
        if let Some(jwt) = &inner.jwt {
            req = req.header(reqwest::header::AUTHORIZATION, jwt.value());
        }
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
        let resp = req.send().await.map_err(|e| self.transport(e, call))?;
        let status = resp.status().as_u16();
        let wait = retry_after(resp.headers(), SystemTime::now());
        let content_range = resp
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_body(resp).await.map_err(|e| self.transport(e, call))?;
        if (200..300).contains(&status) {
            Ok(Answer {
                body,
                content_range,
            })
        } else {
            Err(Error::from_response(
                status,
                call.method.as_str(),
                &call.path,
                &body,
                wait,
            ))
        }
    }

    /// Sends `call` in the shared retry loop. Idempotent calls are retried after any transient
    /// failure; the others only after failures that surely were not applied (see
    /// [`Error`]'s [`Classify`](knack_services_core::Classify) impl).
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer> {
        let idempotency = if call.idempotent {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        let label = format!("PostgREST {} /{}", call.method, call.path);
        let _waiting = knack_services_core::ledger::waiting("PostgREST");
        retry(&self.inner.retry, idempotency, &label, |_| {
            self.send_once(call)
        })
        .await
    }

    fn transport(&self, e: reqwest::Error, call: &Call) -> Error {
        let (method, path) = (call.method.to_string(), call.path.clone());
        if e.is_timeout() && !e.is_connect() {
            Error::Timeout {
                method,
                path,
                after: self.inner.timeouts.total,
            }
        } else {
            Error::Transport {
                method,
                path,
                base_url: self.inner.base.clone(),
                not_sent: surely_not_sent(&e),
                cause: describe_transport(&e, &self.inner.timeouts),
            }
        }
    }
}
