//! The fake's HTTP side: its one wiremock responder, Knack's rate limit and daily quota,
//! injected faults, routing, auth, and the answer of each route.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use wiremock::{Request, Respond, ResponseTemplate};

use super::edit::{sorted, RecordsEdit};
use super::filters;
use super::store::{Sort, State, Stored};

pub(super) struct Handler {
    pub(super) state: Arc<Mutex<State>>,
    pub(super) frame: Arc<Frame>,
}

fn knack_error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"errors": [{"message": message}]}))
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let mut st = lock(&self.state);
        let (mut resp, status, extra_delay) = answer(&mut st, &self.frame, req, now);
        if let Some((limit, remaining)) = &mut st.plan {
            *remaining = remaining.saturating_sub(1);
            let reset = epoch_secs(SystemTime::now() + Duration::from_secs(24 * 3600));
            resp = resp
                .insert_header("X-PlanLimit-Limit", limit.to_string().as_str())
                .insert_header("X-PlanLimit-Remaining", remaining.to_string().as_str())
                .insert_header("X-PlanLimit-Reset", reset.to_string().as_str());
        }
        drop(st);
        self.frame.record(req, now, status);
        let delay = self.frame.delay_for(req) + extra_delay;
        if !delay.is_zero() {
            resp = resp.set_delay(delay);
        }
        resp
    }
}

/// Epoch seconds, rounded up.
fn epoch_secs(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn rate_limited(limit: u64, reset_secs: u64) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("X-RateLimit-Limit", limit.to_string().as_str())
        .insert_header("X-RateLimit-Remaining", "0")
        .insert_header("X-RateLimit-Reset", reset_secs.to_string().as_str())
        .set_body_string("Rate limit exceeded")
}

/// The lag of one request's counted arrival: uniform in `[0, arrival_jitter]`, from a SplitMix64
/// generator (deterministic for a given request order).
fn jitter(st: &mut State) -> Duration {
    if st.arrival_jitter.is_zero() {
        return Duration::ZERO;
    }
    st.jitter_state = st.jitter_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = st.jitter_state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    #[allow(clippy::cast_precision_loss)]
    let share = (z >> 11) as f64 / (1u64 << 53) as f64;
    st.arrival_jitter.mul_f64(share)
}

/// The most counted arrivals in any one-second window `[s, s + 1 s)` that holds `t`, and the
/// start of that window.
fn busiest_second(arrivals: &VecDeque<Instant>, t: Instant) -> (usize, Instant) {
    let second = Duration::from_secs(1);
    let mut best = (0, t);
    for start in arrivals
        .iter()
        .filter(|a| **a <= t && t.duration_since(**a) < second)
    {
        let n = arrivals
            .iter()
            .filter(|a| **a >= *start && a.duration_since(*start) < second)
            .count();
        if n > best.0 {
            best = (n, *start);
        }
    }
    best
}

/// The response, its status (for the log) and any extra delay.
fn answer(
    st: &mut State,
    frame: &Frame,
    req: &Request,
    now: Instant,
) -> (ResponseTemplate, u16, Duration) {
    // Knack counts every request, rejected ones too, in a rolling second, as it arrives: with
    // jitter, a request is counted up to `arrival_jitter` after the fake received it.
    let counted = now + jitter(st);
    st.arrivals.push_back(counted);
    while st
        .arrivals
        .front()
        .is_some_and(|t| counted.saturating_duration_since(*t) >= Duration::from_secs(2))
    {
        st.arrivals.pop_front();
    }
    if let Some(limit) = st.rate_limit {
        let (busiest, oldest) = busiest_second(&st.arrivals, counted);
        if busiest > limit {
            let free_in = Duration::from_secs(1).saturating_sub(counted.duration_since(oldest));
            let resp = rate_limited(limit as u64, epoch_secs(SystemTime::now() + free_in));
            return (resp, 429, Duration::ZERO);
        }
    }
    if st.plan.is_some_and(|(_, remaining)| remaining == 0) {
        let resp = rate_limited(
            10,
            epoch_secs(SystemTime::now() + Duration::from_secs(24 * 3600)),
        );
        return (resp, 429, Duration::ZERO);
    }
    let target = match req.url.query() {
        Some(q) => format!("{}?{q}", req.url.path()),
        None => req.url.path().to_string(),
    };
    let mut extra = Duration::ZERO;
    let mut passed = None;
    if let Some(mut fault) = frame.take_fault(req.method.as_str(), &target) {
        if let Some(status) = fault.status {
            if fault.body.is_empty() {
                fault.body = json!({"errors": [{"message": format!("injected fault {status}")}]})
                    .to_string();
            }
            return (fault.respond(), status, fault.delay);
        }
        extra = fault.delay;
        passed = Some(fault);
    }
    let (resp, status) = route(st, req);
    let resp = match &passed {
        Some(fault) => fault.finish(resp),
        None => resp,
    };
    (resp, status, extra)
}

fn route(st: &mut State, req: &Request) -> (ResponseTemplate, u16) {
    let path = req.url.path().trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/v1/") else {
        return (knack_error(404, "Not found: the API root is /v1"), 404);
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let method = req.method.as_str();
    match (method, segs.as_slice()) {
        ("GET", ["applications", id]) => match &st.metadata {
            Some(m) if *id == st.app_id => (ResponseTemplate::new(200).set_body_json(m), 200),
            _ => (knack_error(404, "Application not found"), 404),
        },
        (_, ["objects", o, "records", tail @ ..]) => {
            let container = format!("objects/{o}/records");
            records_route(st, req, &container, false, tail)
        }
        (_, ["pages", s, "views", v, "records", tail @ ..]) => {
            let container = format!("pages/{s}/views/{v}/records");
            records_route(st, req, &container, true, tail)
        }
        _ => (
            knack_error(404, &format!("Not found: {method} {path}")),
            404,
        ),
    }
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Err` holds the 401 message.
fn authorized(st: &State, req: &Request, view: bool) -> Result<(), &'static str> {
    if header(req, "x-knack-application-id") != Some(st.app_id.as_str()) {
        return Err("Invalid application id (X-Knack-Application-Id)");
    }
    let key_ok = header(req, "x-knack-rest-api-key") == Some(st.api_key.as_str());
    let token_ok =
        view && header(req, "authorization").is_some_and(|t| st.user_tokens.iter().any(|u| u == t));
    if key_ok || token_ok {
        Ok(())
    } else if view && header(req, "authorization").is_some() {
        Err("Invalid user token")
    } else {
        Err("Invalid API key")
    }
}

fn records_route(
    st: &mut State,
    req: &Request,
    container: &str,
    view: bool,
    tail: &[&str],
) -> (ResponseTemplate, u16) {
    if let Err(message) = authorized(st, req, view) {
        return (knack_error(401, message), 401);
    }
    let method = req.method.as_str();
    match (method, tail) {
        ("GET", []) => list(st, req, container),
        ("POST", []) => match req.body_json::<Map<String, Value>>() {
            Ok(fields) => {
                let mut rec = with_raw_twins(fields);
                let id = st.new_id();
                rec.insert("id".into(), Value::String(id));
                let rec = Value::Object(rec);
                st.records_mut(container).push(Stored::new(&rec));
                (ResponseTemplate::new(200).set_body_json(rec), 200)
            }
            Err(_) => (
                knack_error(400, "The request body must be a JSON object"),
                400,
            ),
        },
        ("GET" | "PUT" | "DELETE", [id]) => {
            let records = st.records_mut(container);
            let Some(pos) = records.iter().position(|r| r.id.as_deref() == Some(*id)) else {
                return (knack_error(404, "Record not found"), 404);
            };
            match method {
                "GET" => (
                    ResponseTemplate::new(200)
                        .set_body_raw(records[pos].text().get(), "application/json"),
                    200,
                ),
                "DELETE" => {
                    records.remove(pos);
                    (
                        ResponseTemplate::new(200).set_body_json(json!({"delete": true})),
                        200,
                    )
                }
                _ => match req.body_json::<Map<String, Value>>() {
                    Ok(fields) => {
                        let mut record = records[pos].value();
                        if let Value::Object(rec) = &mut record {
                            rec.extend(
                                with_raw_twins(fields)
                                    .into_iter()
                                    .filter(|(k, _)| k != "id"),
                            );
                        }
                        records[pos] = Stored::new(&record);
                        (ResponseTemplate::new(200).set_body_json(&record), 200)
                    }
                    Err(_) => (
                        knack_error(400, "The request body must be a JSON object"),
                        400,
                    ),
                },
            }
        }
        _ => (
            knack_error(404, &format!("Not found: {method} {}", req.url.path())),
            404,
        ),
    }
}

/// Knack answers every field twice, `field_N` and `field_N_raw`; the fake does not format, so a
/// written `field_N` is stored under both keys (unless the body sent the `_raw` key too).
pub(super) fn with_raw_twins(fields: Map<String, Value>) -> Map<String, Value> {
    let mut out = fields.clone();
    for (k, v) in fields {
        let raw = format!("{k}_raw");
        if k.starts_with("field_") && !k.ends_with("_raw") && !out.contains_key(&raw) {
            out.insert(raw, v);
        }
    }
    out
}

fn list(st: &mut State, req: &Request, container: &str) -> (ResponseTemplate, u16) {
    let q: HashMap<String, String> = req
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let rows: u64 = match q.get("rows_per_page").map(|r| r.parse::<u64>()) {
        None => 25,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return (
                knack_error(400, "rows_per_page must be between 1 and 1000"),
                400,
            )
        }
    };
    let page: u64 = match q.get("page").map(|p| p.parse::<u64>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return (knack_error(400, "page must be a positive number"), 400),
    };
    let sort = match requested_sort(&q) {
        Ok(Some(sort)) => Some(sort),
        Ok(None) => st.sorts.get(container).cloned(),
        Err(e) => return (knack_error(400, &e), 400),
    };
    // Knack computes every page when it is asked for: a test's change to the records made
    // before this page (`FakeKnack::before_page`) shows in it and in every later page.
    run_hooks(st, container, page);
    let start = ((page - 1) * rows) as usize;
    let filter = q.get("filters");
    // Unfiltered and unsorted, a page is a slice; otherwise the read's order is found once per
    // (filter, sort) and kept until the records change.
    let (matched, records): (usize, Vec<&RawValue>) = if filter.is_none() && sort.is_none() {
        let all = st.records_of(container);
        (
            all.len(),
            all.iter()
                .skip(start)
                .take(rows as usize)
                .map(Stored::text)
                .collect(),
        )
    } else {
        let key = (
            container.to_string(),
            filter.cloned().unwrap_or_default(),
            sort.clone(),
        );
        let hits = match st.matches.get(&key) {
            Some(hits) => Arc::clone(hits),
            None => {
                let hits = match read_order(st.records_of(container), filter, sort.as_ref()) {
                    Ok(hits) => Arc::new(hits),
                    Err(e) => return (knack_error(400, &e), 400),
                };
                st.matches.insert(key, Arc::clone(&hits));
                hits
            }
        };
        let all = st.records_of(container);
        let page = hits.iter().skip(start).take(rows as usize);
        (hits.len(), page.map(|&i| all[i].text()).collect())
    };
    let total_records = matched as u64 + st.overstated.get(container).copied().unwrap_or(0);
    let total_pages = total_records.div_ceil(rows);
    // Written straight from the stored records (a `json!` body would deep-copy every one), so
    // a page costs the fake little next to what it costs the client.
    #[derive(serde::Serialize)]
    struct Body<'a> {
        total_pages: u64,
        current_page: u64,
        total_records: u64,
        records: Vec<&'a RawValue>,
    }
    let body = Body {
        total_pages,
        current_page: page,
        total_records,
        records,
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    (
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
        200,
    )
}

/// The sort a request names (`sort_field`, `sort_order` `asc` by default), if any.
fn requested_sort(q: &HashMap<String, String>) -> Result<Option<Sort>, String> {
    let Some(field) = q.get("sort_field") else {
        return Ok(None);
    };
    let descending = match q.get("sort_order").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(format!("sort_order must be asc or desc, not {other:?}")),
    };
    Ok(Some(Sort {
        field: field.clone(),
        descending,
    }))
}

/// Runs the first hook a test set for `page` of `container` (several for one page run one a
/// request, in the order they were set: one per read of the container).
fn run_hooks(st: &mut State, container: &str, page: u64) {
    let Some(at) = st
        .hooks
        .iter()
        .position(|h| h.container == container && h.page == page)
    else {
        return;
    };
    let hook = st.hooks.remove(at);
    let mut edit = RecordsEdit {
        state: st,
        path: container.to_string(),
    };
    (hook.run)(&mut edit);
}

/// The indexes of the records a read shows, in its order: those `filter` matches, sorted by
/// `sort`.
fn read_order(
    all: &[Stored],
    filter: Option<&String>,
    sort: Option<&Sort>,
) -> Result<Vec<usize>, String> {
    let hits = match filter {
        None => (0..all.len()).collect(),
        Some(text) => {
            let parsed = filters::parse(text)?;
            let mut hits = Vec::new();
            for (i, r) in all.iter().enumerate() {
                if parsed.matches_text(r.text().get())? {
                    hits.push(i);
                }
            }
            hits
        }
    };
    Ok(match sort {
        Some(sort) => sorted(all, hits, sort),
        None => hits,
    })
}
