//! The frame the clients' fake servers share (cargo feature `testkit`):
//! a request log, fault injection, latency, stalls, dropped and refused
//! connections. One vocabulary for the four fakes (poison-tolerant locking is
//! [`crate::lock`], one path for fakes and clients alike).
//!
//! A fake keeps a [`Frame`] next to its own state; its wiremock responder
//! asks [`Frame::take_fault`] first, answers, then calls [`Frame::record`].
//!
//! ```
//! use knack_services_core::testkit::{Fault, Frame};
//!
//! let frame = Frame::new(&["authorization"]);
//! frame.inject(Fault::status(502).body("<html>502 Bad Gateway</html>").times(2).on_path("/records"));
//! assert!(frame.take_fault("GET", "/v1/objects/object_1/records").is_some());
//! assert!(frame.take_fault("GET", "/v1/applications/x").is_none());
//! ```

mod chaos;
mod cost;
mod logs;
mod net;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use wiremock::ResponseTemplate;

use crate::lock;
pub use chaos::{Chaos, ChaosKind, LossProxy, LOST_HEADER};
pub use cost::items_sent;
pub use logs::{CaptureGuard, CapturedLogs};
pub use net::{refused_uri, DroppingServer};

/// One request a fake saw. Secret headers are `[redacted]` (their presence
/// still shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, such as `/v1/objects/object_1/records`.
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body as sent.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
    /// The status the fake answered.
    pub status: u16,
}

impl RecordedRequest {
    /// The value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer given instead of the normal one, to the next `times` requests
/// that match its filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The status; `None` answers normally (after `delay`): a slow server
    /// that still applies the request.
    pub status: Option<u16>,
    /// Extra response headers (`Retry-After`, rate-limit headers, ...).
    pub headers: Vec<(String, String)>,
    /// The body, sent as given.
    pub body: String,
    /// The delay before answering.
    pub delay: Duration,
    /// How many matching requests get it (default 1).
    pub times: usize,
    /// Only requests of this method (upper case), if set.
    pub method: Option<String>,
    /// Only requests whose path contains this, if set.
    pub path_contains: Option<String>,
    /// How many matching requests still pass normally before the fault fires (default 0): to
    /// fail a run part-way, such as the third page of a read.
    pub after: usize,
    /// The answer never reaches the client: the connection closes instead (only through a
    /// [`LossProxy`]; see [`Fault::lose_answer`]).
    pub lost: bool,
    /// The status answered after the fake applied the request (see [`Fault::applied_then`]).
    pub applied_status: Option<u16>,
}

impl Fault {
    /// Answers `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status: Some(status),
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
            times: 1,
            method: None,
            path_contains: None,
            after: 0,
            lost: false,
            applied_status: None,
        }
    }

    /// Answers normally, but only after `delay` (the request is applied).
    pub fn slow(delay: Duration) -> Self {
        Self {
            status: None,
            ..Self::status(0)
        }
        .delay(delay)
    }

    /// A response that never comes within any sane client timeout (an hour).
    pub fn stall() -> Self {
        Self::slow(Duration::from_secs(3600))
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: impl ToString) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body text.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Delays the answer.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// How many matching requests get this fault.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Lets the first `n` matching requests through before the fault fires.
    pub fn after(mut self, n: usize) -> Self {
        self.after = n;
        self
    }

    /// Loses the answer: the connection closes instead of answering. With a status, the request
    /// is not applied (a connection dropped before the request was read); without one
    /// ([`Fault::slow`]), the fake applies it first (the answer lost after applying). Takes effect
    /// for clients that reach the fake through its [`LossProxy`] (the fakes start one with
    /// chaos).
    pub fn lose_answer(mut self) -> Self {
        self.lost = true;
        self
    }

    /// The fake applies the request, then answers `status` (with this fault's headers and body)
    /// instead of its own answer: a 500 from a proxy or a server that failed after the commit.
    pub fn applied_then(status: u16) -> Self {
        Self {
            applied_status: Some(status),
            ..Self::slow(Duration::ZERO)
        }
    }

    /// The fake's own answer to a request this fault let through (no status): replaced by
    /// [`Fault::applied_then`]'s status, marked lost when the fault loses its answer, else as it
    /// is.
    pub fn finish(&self, resp: ResponseTemplate) -> ResponseTemplate {
        if let Some(status) = self.applied_status {
            return Self {
                status: Some(status),
                ..self.clone()
            }
            .respond();
        }
        if self.lost {
            resp.insert_header(LOST_HEADER, "1")
        } else {
            resp
        }
    }

    /// Only for requests of this method.
    pub fn on_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only for requests whose path contains `part`.
    pub fn on_path(mut self, part: &str) -> Self {
        self.path_contains = Some(part.to_string());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }

    /// The wiremock answer for a fault with a status (JSON content type when
    /// the body looks like JSON).
    pub fn respond(&self) -> ResponseTemplate {
        let mut r = ResponseTemplate::new(self.status.unwrap_or(200));
        let json = self.body.trim_start().starts_with(['{', '[']);
        let ct = if json {
            "application/json"
        } else {
            "text/html"
        };
        r = r.insert_header("content-type", ct);
        for (k, v) in &self.headers {
            r = r.insert_header(k.as_str(), v.as_str());
        }
        if self.lost {
            r = r.insert_header(LOST_HEADER, "1");
        }
        r.set_body_raw(self.body.clone().into_bytes(), ct)
            .set_delay(self.delay)
    }
}

#[derive(Default)]
struct FrameState {
    log: Vec<RecordedRequest>,
    faults: Vec<Fault>,
    latency: Duration,
    chaos: Option<chaos::ChaosState>,
    proxy: Option<std::sync::Arc<LossProxy>>,
    item_cost: Duration,
    /// Requests whose delayed answer is not due yet: path and when it is due.
    pending: Vec<(String, Instant)>,
    /// The most requests per path whose answers were pending at once.
    most_pending: std::collections::BTreeMap<String, usize>,
}

/// The shared part of a fake server: log, faults, latency.
pub struct Frame {
    redact: Vec<String>,
    state: Mutex<FrameState>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("redact", &self.redact)
            .finish_non_exhaustive()
    }
}

impl Frame {
    /// A frame redacting these header names (case-insensitive) in its log.
    pub fn new(redact: &[&str]) -> Self {
        Self {
            redact: redact.iter().map(|h| h.to_ascii_lowercase()).collect(),
            state: Mutex::default(),
        }
    }

    /// Queues a fault (after any queued before it).
    pub fn inject(&self, fault: Fault) {
        lock(&self.state).faults.push(fault);
    }

    /// Turns on seeded random faults for every later request (after the queued faults, which
    /// come first), and starts the [`LossProxy`] in front of `upstream` (the fake's wiremock
    /// URI) that plays the lost connections: clients must be given [`Frame::proxy_uri`]. Needs a
    /// Tokio runtime.
    pub fn set_chaos(&self, chaos: Chaos, upstream: &str) {
        let mut st = lock(&self.state);
        st.chaos = Some(chaos::ChaosState::new(chaos));
        if st.proxy.is_none() {
            st.proxy = Some(std::sync::Arc::new(LossProxy::start(upstream)));
        }
    }

    /// Stops the random faults (the proxy stays, so clients built meanwhile keep working).
    pub fn clear_chaos(&self) {
        lock(&self.state).chaos = None;
    }

    /// The proxy's URI once chaos was turned on: the address to give clients.
    pub fn proxy_uri(&self) -> Option<String> {
        lock(&self.state)
            .proxy
            .as_ref()
            .map(|p| p.uri().to_string())
    }

    /// How many faults of each kind chaos injected so far (every kind listed, zeros too).
    pub fn chaos_injected(&self) -> Vec<(ChaosKind, usize)> {
        lock(&self.state)
            .chaos
            .as_ref()
            .map(|c| c.injected.clone())
            .unwrap_or_default()
    }

    /// The first queued fault matching this request, counted as used; else, with chaos on, a
    /// random one ([`Frame::set_chaos`]).
    /// `path` may carry the `?query` too, so that `on_path("page=2")` works.
    pub fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut st = lock(&self.state);
        let Some(i) = st.faults.iter().position(|f| f.matches(method, path)) else {
            let kind = st.chaos.as_mut()?.draw()?;
            return Some(kind.fault());
        };
        if st.faults[i].after > 0 {
            st.faults[i].after -= 1;
            return None;
        }
        let fault = st.faults[i].clone();
        st.faults[i].times = st.faults[i].times.saturating_sub(1);
        if st.faults[i].times == 0 {
            st.faults.remove(i);
        }
        Some(fault)
    }

    /// Delays every answer by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state).latency = latency;
    }

    /// The latency set.
    pub fn latency(&self) -> Duration {
        lock(&self.state).latency
    }

    /// Delays every answer by `cost` more for each item the request carries (see
    /// [`items_sent`]: rows, records or features written), on top of the latency: a service's
    /// answer time grows with the batch.
    pub fn set_item_cost(&self, cost: Duration) {
        lock(&self.state).item_cost = cost;
    }

    /// How long to delay the answer to `req`: the latency plus the cost of its items. Counts
    /// the request as pending until then (see [`Frame::most_at_once`]).
    pub fn delay_for(&self, req: &wiremock::Request) -> Duration {
        let (latency, cost) = {
            let st = lock(&self.state);
            (st.latency, st.item_cost)
        };
        let delay = if cost.is_zero() {
            latency
        } else {
            let items = u32::try_from(items_sent(&req.body)).unwrap_or(u32::MAX);
            latency + cost * items
        };
        let (now, path) = (Instant::now(), req.url.path());
        let mut st = lock(&self.state);
        st.pending.retain(|(_, due)| *due > now);
        let at_once = 1 + st.pending.iter().filter(|(p, _)| p == path).count();
        let most = st.most_pending.entry(path.to_string()).or_default();
        *most = (*most).max(at_once);
        st.pending.push((path.to_string(), now + delay));
        delay
    }

    /// The most requests to a path containing `part` whose answers were pending at once (a
    /// request arrived while others' delayed answers were not due yet): 1 for a client that
    /// waits for each answer before its next request, more for one with several in flight. Only
    /// answers delayed by a latency or an item cost overlap; counted whether the log is on or not.
    pub fn most_at_once(&self, part: &str) -> usize {
        lock(&self.state)
            .most_pending
            .iter()
            .filter(|(p, _)| p.contains(part))
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }

    /// Logs a request that arrived at `at` and was answered `status`.
    pub fn record(&self, req: &wiremock::Request, at: Instant, status: u16) {
        let headers = req
            .headers
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().to_ascii_lowercase();
                let value = if self.redact.contains(&name) {
                    "[redacted]".to_string()
                } else {
                    v.to_str().unwrap_or("").to_string()
                };
                (name, value)
            })
            .collect();
        let entry = RecordedRequest {
            method: req.method.to_string(),
            path: req.url.path().to_string(),
            query: req
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers,
            body: req.body.clone(),
            at,
            status,
        };
        lock(&self.state).log.push(entry);
    }

    /// Every request logged, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).log.clone()
    }

    /// Forgets the log.
    pub fn clear_requests(&self) {
        lock(&self.state).log.clear();
    }

    /// The most requests that arrived within any window of `window`.
    pub fn max_requests_in_window(&self, window: Duration) -> usize {
        let times: Vec<Instant> = lock(&self.state).log.iter().map(|r| r.at).collect();
        max_in_window(&times, window)
    }
}

/// The most instants (sorted or not) in any half-open window `[t, t + window)`.
pub fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut t = times.to_vec();
    t.sort();
    let (mut best, mut start) = (0, 0);
    for end in 0..t.len() {
        while t[end].duration_since(t[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[cfg(test)]
mod tests;
