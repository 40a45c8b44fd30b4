//! The fake's request handling: faults, auth, metadata, reads, upserts, replaces.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::{json, Value};
use wiremock::{Request, Respond, ResponseTemplate};

use super::index::RowIndex;
use super::{State, Stored, StoredDataset};
use crate::Row;

pub(crate) struct Handler {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) frame: Arc<Frame>,
}

struct Reply {
    status: u16,
    body: Value,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply { status, body }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    reply(
        status,
        json!({"code": code, "error": true, "message": message}),
    )
}

/// The body Socrata sends with a status a fault injects without one.
fn fault_body(status: u16) -> Value {
    match status {
        202 => json!({"message": "Request is processing", "error": false}),
        429 => json!({"code": "too_many_requests", "error": true, "message": "Too many requests"}),
        _ => {
            json!({"code": "internal_error", "error": true, "message": format!("fake fault {status}")})
        }
    }
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let target = match req.url.query() {
            Some(q) => format!("{}?{q}", req.url.path()),
            None => req.url.path().to_string(),
        };
        let mut extra = Duration::ZERO;
        let (mut resp, status) = match self.frame.take_fault(req.method.as_str(), &target) {
            Some(mut fault) if fault.status.is_some() => {
                let status = fault.status.unwrap_or(200);
                if fault.body.is_empty() {
                    fault.body = fault_body(status).to_string();
                }
                (fault.respond(), status)
            }
            other => {
                extra = other.map_or(Duration::ZERO, |f| f.delay);
                let r = handle(&mut lock(&self.state), req);
                (
                    ResponseTemplate::new(r.status).set_body_json(r.body),
                    r.status,
                )
            }
        };
        if !lock(&self.state).no_log {
            self.frame.record(req, now, status);
        }
        let delay = self.frame.latency() + extra;
        if !delay.is_zero() {
            resp = resp.set_delay(delay);
        }
        resp
    }
}

fn handle(st: &mut State, req: &Request) -> Reply {
    let method = req.method.to_string();
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if let (Some(expected), Some(given)) = (&st.basic, auth) {
        if given.starts_with("Basic ") && given != expected {
            return error(401, "authentication_failed", "Invalid username or password");
        }
    }
    let write = method != "GET";
    if write && st.require_auth && auth.is_none() {
        return reply(
            403,
            json!({"message": "You must be logged in to access this resource", "error": true}),
        );
    }
    let path = req.url.path();
    if let Some(id) = path
        .strip_prefix("/api/views/")
        .and_then(|p| p.strip_suffix(".json"))
    {
        if method != "GET" {
            return unexpected(req);
        }
        return match st.datasets.get(id) {
            Some(ds) => reply(200, ds.spec.metadata_json()),
            None => error(404, "not_found", &format!("Cannot find view with id {id}")),
        };
    }
    let Some(id) = path
        .strip_prefix("/resource/")
        .and_then(|p| p.strip_suffix(".json"))
    else {
        return unexpected(req);
    };
    let id = id.to_string();
    let Some(ds) = st.datasets.get(&id) else {
        return error(404, "not_found", &format!("Dataset {id} not found"));
    };
    match method.as_str() {
        "GET" => read(ds, req),
        "POST" | "PUT" => write_rows(st, &id, req, method == "PUT"),
        _ => unexpected(req),
    }
}

fn unexpected(req: &Request) -> Reply {
    reply(
        418,
        json!({"error": true, "message": format!(
            "FAKE SOCRATA: unexpected request {} {} — not a SODA 2.1 route this fake serves", req.method, req.url
        )}),
    )
}

// ---- reads ----

enum Cond {
    Eq(String, String),
    In(String, Vec<String>),
}

fn parse_literals(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some('\'') => {}
            Some(_) => return None,
        }
        let mut lit = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    lit.push('\'');
                }
                '\'' => break,
                c => lit.push(c),
            }
        }
        out.push(lit);
    }
}

fn parse_where(w: &str) -> Option<Vec<Cond>> {
    w.split(" AND ")
        .map(|c| {
            let c = c
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim();
            if let Some((f, rest)) = c.split_once(" IN ") {
                let list = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
                Some(Cond::In(
                    f.trim().trim_matches('`').to_string(),
                    parse_literals(list)?,
                ))
            } else {
                let (f, v) = c.split_once(" = ")?;
                let v = parse_literals(v)?;
                (v.len() == 1)
                    .then(|| Cond::Eq(f.trim().trim_matches('`').to_string(), v[0].clone()))
            }
        })
        .collect()
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => match (text(a), text(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (None, None) => Ordering::Equal,
        },
    }
}

fn sid(row: &Row) -> u64 {
    row.get(":id")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("row-"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn read(ds: &StoredDataset, req: &Request) -> Reply {
    let param = |k: &str| {
        req.url
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    let order = param("$order");
    let by_sid = |o: &str| o.trim() == ":id" || o.trim().eq_ignore_ascii_case(":id asc");
    let num = |k: &str, d: usize| param(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(d);
    let (offset, limit) = (num("$offset", 0), num("$limit", 1000));
    let filtered = param("$where").is_some() || param("$q").is_some();
    let select = param("$select");
    if select
        .as_deref()
        .is_some_and(|s| s.replace(' ', "").eq_ignore_ascii_case("count(*)"))
    {
        // SODA 2.1's aggregate: one row, the count as text.
        let count = if filtered {
            match filter_and_order(ds, &param, None) {
                Ok(rows) => rows.len(),
                Err(reply) => return reply,
            }
        } else {
            ds.rows.len()
        };
        return reply(200, serde_json::json!([{"count": count.to_string()}]));
    }
    let rows: Vec<Row> = if !filtered && order.as_deref().map_or(true, by_sid) {
        // Stored order (or, without `$order`, its reverse) and no filter: only the page's rows
        // are read.
        let page = |i: usize| ds.rows[i].row();
        match order {
            // Socrata promises no order without $order: answer in reverse so skipped ordering shows.
            None => (0..ds.rows.len())
                .rev()
                .skip(offset)
                .take(limit)
                .map(page)
                .collect(),
            Some(_) => (offset..ds.rows.len()).take(limit).map(page).collect(),
        }
    } else {
        match filter_and_order(ds, &param, order.as_deref()) {
            Ok(rows) => rows.into_iter().skip(offset).take(limit).collect(),
            Err(reply) => return reply,
        }
    };
    let fields: Option<Vec<String>> = select
        .as_deref()
        .filter(|s| s.trim() != "*" && !s.contains(":*"))
        .map(|s| {
            s.split(',')
                .map(|f| f.trim().trim_matches('`').to_string())
                .collect()
        });
    let system = select.as_deref().is_some_and(|s| s.contains(":*"));
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut m = Row::new();
            for (k, v) in r {
                let wanted = match &fields {
                    Some(fs) => fs.contains(k),
                    None => !k.starts_with(':') || system,
                };
                match v {
                    _ if !wanted => {}
                    Value::Null => {}
                    Value::Number(n) => {
                        m.insert(k.clone(), Value::String(n.to_string()));
                    }
                    other => {
                        m.insert(k.clone(), other.clone());
                    }
                }
            }
            Value::Object(m)
        })
        .collect();
    reply(200, Value::Array(out))
}

/// Every row `$where` and `$q` keep, in `$order` (each stored row is read).
fn filter_and_order(
    ds: &StoredDataset,
    param: &dyn Fn(&str) -> Option<String>,
    order: Option<&str>,
) -> Result<Vec<Row>, Reply> {
    let mut rows: Vec<Row> = ds.rows.iter().map(Stored::row).collect();
    if let Some(w) = param("$where") {
        let Some(conds) = parse_where(&w) else {
            return Err(error(400, "query.compiler.malformed", &format!(
                "fake Socrata understands only `field = 'v'` and `field IN ('a', …)` joined by AND; got {w:?}"
            )));
        };
        rows.retain(|r| {
            conds.iter().all(|c| match c {
                Cond::Eq(f, v) => text(r.get(f)).as_deref() == Some(v),
                Cond::In(f, vs) => text(r.get(f)).is_some_and(|t| vs.contains(&t)),
            })
        });
    }
    if let Some(q) = param("$q") {
        let q = q.to_lowercase();
        rows.retain(|r| {
            r.values()
                .any(|v| v.as_str().is_some_and(|s| s.to_lowercase().contains(&q)))
        });
    }
    match order {
        None => rows.reverse(),
        // Rows are stored in `:id` order (appended with rising ids, deletes keep the order).
        Some(order) if order.trim() == ":id" || order.trim().eq_ignore_ascii_case(":id asc") => {}
        Some(order) => {
            let terms: Vec<(String, bool)> = order
                .split(',')
                .map(|t| {
                    let mut parts = t.split_whitespace();
                    let f = parts.next().unwrap_or("").trim_matches('`').to_string();
                    let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
                    (f, desc)
                })
                .collect();
            rows.sort_by(|a, b| {
                for (f, desc) in &terms {
                    let o = if f == ":id" {
                        sid(a).cmp(&sid(b))
                    } else {
                        compare(a.get(f), b.get(f))
                    };
                    let o = if *desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
        }
    }
    Ok(rows)
}

// ---- writes ----

pub(crate) fn with_sid(mut row: Row, sid: u64) -> Row {
    row.remove(":deleted");
    row.insert(":id".into(), Value::String(format!("row-{sid}")));
    row
}

pub(crate) fn without_system_fields(row: &Row) -> Row {
    row.iter()
        .filter(|(k, _)| !k.starts_with(':'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn write_rows(st: &mut State, id: &str, req: &Request, replace: bool) -> Reply {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&req.body) else {
        return error(
            400,
            "invalid_request",
            "Request body must be a JSON array of row objects",
        );
    };
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(row) = item else {
            return error(
                400,
                "invalid_request",
                "Every element of the array must be a row object",
            );
        };
        rows.push(row);
    }
    let ds = st.datasets.get(id).expect("checked by caller");
    for row in &rows {
        for key in row.keys() {
            let known =
                key == ":id" || key == ":deleted" || ds.spec.columns.iter().any(|c| &c.0 == key);
            if !known {
                return error(
                    400,
                    "invalid_request",
                    &format!("Illegal field name sent: {key}"),
                );
            }
        }
    }
    if !ds.spec.may_write() {
        return error(
            403,
            "permission_denied",
            "You do not have permission to write to this dataset",
        );
    }
    // A value its column's type refuses: the row is not applied and is counted in `Errors`
    // inside the 200, as SODA 2.1 reports row-level failures (api-facts §3.3).
    let (rows, refused): (Vec<Row>, Vec<Row>) = rows
        .into_iter()
        .partition(|row| row.iter().all(|(k, v)| ds.spec.accepts(k, v)));
    let rid = ds.spec.row_identifier.clone();
    let (mut created, mut updated, mut deleted, mut errors, mut by_rid, mut by_sid) =
        (0, 0, 0, refused.len(), 0, 0);
    let mut next_sid = st.next_sid;
    let ds = st.datasets.get_mut(id).expect("checked");
    if replace {
        ds.rows.clear();
        ds.index = None;
    }
    let rid = rid.as_deref();
    let mut index = ds
        .index
        .take()
        .unwrap_or_else(|| RowIndex::build(&ds.rows, rid));
    // Deleted rows leave the index at once but stay in `rows` until the end, so positions hold.
    let mut gone: HashSet<usize> = HashSet::new();
    for row in rows {
        let is_delete = row.get(":deleted") == Some(&Value::Bool(true));
        let key_by_rid = rid.and_then(|f| row.get(f)).filter(|v| !v.is_null());
        let found = if let Some(v) = key_by_rid {
            index.by_identifier(v)
        } else if let Some(s) = row.get(":id") {
            index.by_sid(s)
        } else {
            None
        };
        let matched_by_rid = key_by_rid.is_some();
        match (is_delete, found) {
            (true, Some(i)) => {
                index.remove(&ds.rows[i].row(), i, rid);
                gone.insert(i);
                deleted += 1;
            }
            (true, None) => errors += 1,
            (false, Some(i)) => {
                let mut stored = ds.rows[i].row();
                index.remove(&stored, i, rid);
                for (k, v) in row {
                    if k == ":id" || k == ":deleted" {
                        continue;
                    }
                    if v.is_null() {
                        stored.remove(&k);
                    } else {
                        stored.insert(k, v);
                    }
                }
                index.insert(&stored, i, rid);
                ds.rows[i] = Stored::new(&stored);
                updated += 1;
                if matched_by_rid {
                    by_rid += 1
                } else {
                    by_sid += 1
                }
            }
            (false, None) if rid.is_some() && !matched_by_rid => errors += 1,
            (false, None) => {
                next_sid += 1;
                let row = with_sid(row, next_sid);
                index.insert(&row, ds.rows.len(), rid);
                ds.rows.push(Stored::new(&row));
                created += 1;
            }
        }
    }
    if gone.is_empty() {
        ds.index = Some(index);
    } else {
        let mut i = 0;
        ds.rows.retain(|_| {
            let keep = !gone.contains(&i);
            i += 1;
            keep
        });
    }
    st.next_sid = next_sid;
    reply(
        200,
        json!({"Errors": errors, "Rows Deleted": deleted, "Rows Updated": updated, "By SID": by_sid,
               "Rows Created": created, "By RowIdentifier": by_rid}),
    )
}
