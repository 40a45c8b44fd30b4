//! The fake's HTTP side: its one wiremock responder (faults, latency and the log from the
//! shared frame), auth, routing, metadata, and the writes (upserts, replaces, deletes).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::{json, Value};
use wiremock::{Request, Respond, ResponseTemplate};

use super::index::RowIndex;
use super::read::read;
use super::reply::{dataset_missing, error, reply, Reply};
use super::store::{State, Stored};
use crate::Row;

pub(crate) struct Handler {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) frame: Arc<Frame>,
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
                extra = other.as_ref().map_or(Duration::ZERO, |f| f.delay);
                let r = handle(&mut lock(&self.state), req);
                let mut resp = ResponseTemplate::new(r.status);
                if let Some(body) = r.body {
                    resp = resp.set_body_json(body);
                }
                for (name, value) in r.headers {
                    resp = resp.insert_header(name, value.as_str());
                }
                if let Some(fault) = &other {
                    resp = fault.finish(resp);
                }
                (resp, r.status)
            }
        };
        if !lock(&self.state).no_log {
            self.frame.record(req, now, status);
        }
        let delay = self.frame.delay_for(req) + extra;
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
    let Some(resource) = path
        .strip_prefix("/resource/")
        .and_then(|p| p.strip_suffix(".json"))
    else {
        return unexpected(req);
    };
    // `/resource/{id}.json`, or one row: `/resource/{id}/{row id}.json`.
    let (id, row_id) = match resource.split_once('/') {
        Some((id, row)) => {
            // The row id as the client percent-encoded it into the path.
            let decoded = url::form_urlencoded::parse(format!("r={row}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned());
            (id.to_string(), decoded)
        }
        None => (resource.to_string(), None),
    };
    let Some(ds) = st.datasets.get_mut(&id) else {
        return dataset_missing(&id);
    };
    match (method.as_str(), row_id) {
        ("GET", None) => read(ds, req),
        ("POST" | "PUT", None) => match parse_rows(&req.body) {
            Ok(rows) => write_rows(st, &id, rows, method == "PUT"),
            Err(reply) => reply,
        },
        ("DELETE", Some(row_id)) => delete_row(st, &id, &row_id),
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

/// A write's body: a JSON array of row objects.
fn parse_rows(body: &[u8]) -> Result<Vec<Row>, Reply> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(error(
            400,
            "invalid_request",
            "Request body must be a JSON array of row objects",
        ));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(row) => Ok(row),
            _ => Err(error(
                400,
                "invalid_request",
                "Every element of the array must be a row object",
            )),
        })
        .collect()
}

/// `DELETE /resource/{id}/{row id}.json`: one row by its row identifier (`:id` on a dataset
/// without one), as dev.socrata.com's "Manipulating Rows Directly" describes; applied as the
/// upsert of `{"<row identifier>": id, ":deleted": true}` it is, answered `200` with no body.
/// A row that is not there is a 404 (its exact body is not recorded anywhere we know of).
fn delete_row(st: &mut State, id: &str, row_id: &str) -> Reply {
    let ds = st.datasets.get(id).expect("checked by caller");
    let key = ds
        .spec
        .row_identifier
        .clone()
        .unwrap_or_else(|| ":id".into());
    let mut row = Row::new();
    row.insert(key, Value::String(row_id.to_string()));
    row.insert(":deleted".into(), Value::Bool(true));
    let answer = write_rows(st, id, vec![row], false);
    match answer
        .body
        .as_ref()
        .and_then(|b| b["Rows Deleted"].as_u64())
    {
        Some(1) => Reply {
            status: 200,
            body: None,
            headers: Vec::new(),
        },
        Some(_) => error(404, "not_found", &format!("Row {row_id} not found in {id}")),
        None => answer,
    }
}

fn write_rows(st: &mut State, id: &str, rows: Vec<Row>, replace: bool) -> Reply {
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
    ds.key_order = None;
    if replace {
        ds.rows.clear();
        ds.index = None;
    }
    let rid = rid.as_deref();
    let mut index = ds
        .index
        .take()
        .unwrap_or_else(|| RowIndex::build(ds.rows.iter().map(Stored::row), rid));
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
