//! The fake's HTTP side: its one wiremock responder (faults, latency and the log from the
//! shared frame), the JWT and profile checks, and each route's answer, as PostgREST would.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::{json, Value};
use wiremock::{Request, ResponseTemplate};

use super::cell::{pack, Row};
use super::store::{decode, parse_query, Parsed, Reject, State, Table};

pub(crate) struct Handler {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) frame: Arc<Frame>,
}

fn reject(r: Reject) -> ResponseTemplate {
    let body = json!({"code": r.code, "details": r.details, "hint": null, "message": r.message});
    let mut t = ResponseTemplate::new(r.status).set_body_json(body);
    if r.status == 401 {
        t = t.insert_header(
            "WWW-Authenticate",
            if r.code == "PGRST301" {
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    r.message
                )
            } else {
                "Bearer".to_string()
            },
        );
    }
    t
}

/// An answer and its status: the status goes into the frame's request log, and wiremock's
/// template does not tell it.
type Reply = (ResponseTemplate, u16);

fn json_response(status: u16, body: &Value) -> Reply {
    let t = ResponseTemplate::new(status)
        .set_body_raw(body.to_string(), "application/json; charset=utf-8");
    (t, status)
}

fn empty(status: u16) -> Reply {
    (ResponseTemplate::new(status), status)
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

impl wiremock::Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let (resp, status, extra) = self.answer(req);
        if lock(&self.state).logging {
            self.frame.record(req, now, status);
        }
        let delay = self.frame.delay_for(req) + extra;
        if delay.is_zero() {
            resp
        } else {
            resp.set_delay(delay)
        }
    }
}

impl Handler {
    /// The answer, its status (for the log) and any extra delay: an injected fault first (with a
    /// PostgREST error body when it brings none), else what PostgREST would answer.
    fn answer(&self, req: &Request) -> (ResponseTemplate, u16, Duration) {
        let target = match req.url.query() {
            Some(q) => format!("{}?{q}", req.url.path()),
            None => req.url.path().to_string(),
        };
        let mut extra = Duration::ZERO;
        let mut passed = None;
        if let Some(mut fault) = self.frame.take_fault(req.method.as_str(), &target) {
            if let Some(status) = fault.status {
                if fault.body.is_empty() {
                    fault.body = json!({"code": null, "details": null, "hint": null,
                        "message": format!("injected fault {status}")})
                    .to_string();
                }
                return (fault.respond(), status, fault.delay);
            }
            extra = fault.delay;
            passed = Some(fault);
        }
        let mut st = lock(&self.state);
        let (resp, status) = match handle(&mut st, req) {
            Ok(t) => t,
            Err(r) => {
                let status = r.status;
                (reject(r), status)
            }
        };
        let resp = match &passed {
            Some(fault) => fault.finish(resp),
            None => resp,
        };
        (resp, status, extra)
    }
}

fn body_json(req: &Request) -> Result<Value, Reject> {
    serde_json::from_slice(&req.body)
        .map_err(|e| Reject::new(400, "PGRST102", format!("Empty or invalid json: {e}")))
}

fn handle(st: &mut State, req: &Request) -> Result<Reply, Reject> {
    let method = req.method.as_str().to_string();
    let path = decode(req.url.path().trim_start_matches('/'));
    let anonymous = check_jwt(st, req)?;
    let profile = if matches!(method.as_str(), "GET" | "HEAD") {
        "Accept-Profile"
    } else {
        "Content-Profile"
    };
    if let Some(s) = header(req, profile) {
        if s != st.schema {
            return Err(Reject::new(
                406,
                "PGRST106",
                format!("The schema must be one of the following: {}", st.schema),
            ));
        }
    }
    if let Some(function) = path.strip_prefix("rpc/") {
        return rpc(st, function, &method, req);
    }
    let parsed = parse_query(req.url.query())?;
    let schema = st.schema.clone();
    let now = st.clock_tick();
    let max_rows = st.max_rows;
    let table = st.tables.get_mut(&path).ok_or_else(|| {
        Reject::new(
            404,
            "PGRST205",
            format!("Could not find the table '{schema}.{path}' in the schema cache"),
        )
    })?;
    if anonymous {
        // Like the staging schema: the anonymous role has no grant on any table.
        return Err(Reject::new(
            401,
            "42501",
            format!("permission denied for table {path}"),
        ));
    }
    let prefer: Vec<String> = header(req, "Prefer")
        .map(|p| p.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let representation = prefer.iter().any(|p| p == "return=representation");
    match method.as_str() {
        // HEAD answers GET's status and headers with no body, as PostgREST does (its
        // EmbedInnerJoinSpec at v12.0.2: `HEAD ...` with `Prefer: count=exact` is 200 with
        // `Content-Range: 0-3/4` and an empty body).
        "GET" | "HEAD" => select(
            table,
            &parsed,
            max_rows,
            prefer.iter().any(|p| p == "count=exact"),
            method == "HEAD",
        ),
        "POST" => {
            let resolution = prefer
                .iter()
                .find_map(|p| p.strip_prefix("resolution="))
                .map(str::to_string);
            // Object and array cells (staged records) are packed straight from the body's text.
            let body = match super::cell::packed_rows(&req.body) {
                Some(rows) => rows,
                None => body_json(req)?,
            };
            insert(
                table,
                &parsed,
                body,
                resolution.as_deref(),
                representation,
                &now,
            )
        }
        "PATCH" => {
            let body = body_json(req)?;
            update(table, &parsed, body, representation, &now)
        }
        "DELETE" => delete(table, &parsed, representation),
        _ => Err(Reject::new(
            405,
            "PGRST117",
            format!("Unsupported HTTP method: {method}"),
        )),
    }
}

/// Returns whether the request is anonymous (no Authorization header).
fn check_jwt(st: &State, req: &Request) -> Result<bool, Reject> {
    let Some(expected) = &st.jwt else {
        return Ok(false);
    };
    let Some(auth) = header(req, "Authorization") else {
        return Ok(true);
    };
    let token = auth
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t);
    match token {
        Some(t) if t == expected && st.jwt_expired => {
            Err(Reject::new(401, "PGRST301", "JWT expired"))
        }
        Some(t) if t == expected => Ok(false),
        Some("") | None => Err(Reject::new(
            401,
            "PGRST301",
            "Expected 3 parts in JWT; got 1",
        )),
        Some(_) => Err(Reject::new(401, "PGRST301", "JWSError JWSInvalidSignature")),
    }
}

fn rows_response(status: u16, table: &Table, rows: &[&Row], p: &Parsed) -> Result<Reply, Reject> {
    // Rows are borrowed and only their selected columns copied: cloning whole rows per answer
    // made a load's upserts (which return `updated_at` alone) cost more than storing them.
    let out = rows
        .iter()
        .map(|r| table.project(r, &p.select))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json_response(status, &Value::Array(out)))
}

fn select(
    table: &Table,
    p: &Parsed,
    max_rows: Option<usize>,
    count: bool,
    head: bool,
) -> Result<Reply, Reject> {
    let offset = p.offset.unwrap_or(0);
    let mut take = p.limit.unwrap_or(usize::MAX);
    if let Some(cap) = max_rows {
        // db-max-rows: silently fewer rows, no error.
        take = take.min(cap);
    }
    let wanted = offset.saturating_add(take);
    let (idx, total) = match table.keyset_page(p, wanted)? {
        Some(idx) if !count => (idx, 0),
        _ => {
            let mut idx = table.matching(p)?;
            let total = idx.len();
            table.sort(&mut idx, p, offset.checked_add(take))?;
            (idx, total)
        }
    };
    let page: Vec<&Row> = idx
        .iter()
        .skip(offset)
        .take(take)
        .map(|&i| &table.rows[i])
        .collect();
    let total_s = if count {
        total.to_string()
    } else {
        "*".to_string()
    };
    if count && offset > 0 && offset >= total {
        // An offset past the last row, with a count: 416 PGRST103 naming both, and the total
        // in Content-Range (PostgREST's RangeSpec at v12.0.2, "refuses a range requesting
        // start past last item").
        let reject_416 = Reject::new(416, "PGRST103", "Requested range not satisfiable").details(
            format!("An offset of {offset} was requested, but there are only {total} rows."),
        );
        let t = reject(reject_416).insert_header("Content-Range", format!("*/{total}"));
        return Ok((t, 416));
    }
    let range = if page.is_empty() {
        format!("*/{total_s}")
    } else {
        format!("{}-{}/{total_s}", offset, offset + page.len() - 1)
    };
    let partial = count && page.len() < total;
    let status = if partial { 206 } else { 200 };
    let (t, status) = if head {
        let t = ResponseTemplate::new(status)
            .insert_header("Content-Type", "application/json; charset=utf-8");
        (t, status)
    } else {
        rows_response(status, table, &page, p)?
    };
    Ok((t.insert_header("Content-Range", range), status))
}

fn objects(body: Value) -> Result<Vec<Row>, Reject> {
    match body {
        Value::Object(o) => Ok(vec![o]),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(o) => Ok(o),
                _ => Err(Reject::new(400, "PGRST102", "All object keys must match")),
            })
            .collect(),
        _ => Err(Reject::new(400, "PGRST102", "Empty or invalid json")),
    }
}

fn check_payload(table: &Table, row: &Row, updating: bool) -> Result<(), Reject> {
    for col in row.keys() {
        if !table.spec.has_column(col) {
            return Err(Reject::new(
                400,
                "PGRST204",
                format!(
                    "Could not find the '{col}' column of '{}' in the schema cache",
                    table.spec.name
                ),
            ));
        }
        if table.spec.identity.as_deref() == Some(col.as_str()) {
            return Err(if updating {
                Reject::new(
                    400,
                    "428C9",
                    format!("column \"{col}\" can only be updated to DEFAULT"),
                )
            } else {
                Reject::new(
                    400,
                    "428C9",
                    format!("cannot insert a non-DEFAULT value into column \"{col}\""),
                )
            });
        }
    }
    Ok(())
}

fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn insert(
    table: &mut Table,
    p: &Parsed,
    body: Value,
    resolution: Option<&str>,
    representation: bool,
    now: &str,
) -> Result<Reply, Reject> {
    let incoming = objects(body)?;
    // The returned columns are part of the one statement: an unknown one fails it, writing nothing.
    if representation {
        for col in p.select.iter().flatten().filter(|c| *c != "*") {
            table.check_column(col)?;
        }
    }
    // PostgreSQL's json/jsonb cannot hold U+0000: the whole statement fails (SQLSTATE 22P05).
    if incoming.iter().any(|row| row.values().any(holds_nul)) {
        let mut reject = Reject::new(400, "22P05", "unsupported Unicode escape sequence");
        reject.details = Some("\\u0000 cannot be converted to text.".into());
        return Err(reject);
    }
    let target = p
        .on_conflict
        .clone()
        .unwrap_or_else(|| table.spec.primary_key.clone());
    if resolution.is_some() && p.on_conflict.is_some() && !table.spec.is_unique(&target) {
        return Err(Reject::new(
            400,
            "42P10",
            "there is no unique or exclusion constraint matching the ON CONFLICT specification",
        ));
    }
    // One statement: all rows or none. Work in place and undo on failure: copying the table per
    // request made large loads quadratic.
    let (len, next_identity) = (table.rows.len(), table.next_identity);
    let mut merged: Vec<(usize, Row)> = Vec::new();
    let mut touched: Vec<usize> = Vec::new();
    let applied = apply_rows(
        table,
        incoming,
        &target,
        resolution,
        now,
        &mut merged,
        &mut touched,
    );
    let inserted = match applied {
        Ok(inserted) => inserted,
        Err(reject) => {
            table.roll_back(len, next_identity, merged);
            return Err(reject);
        }
    };
    // v12+: an upsert that inserted nothing answers 200.
    let status = if resolution.is_some() && inserted == 0 {
        200
    } else {
        201
    };
    if representation {
        let rows: Vec<&Row> = touched.iter().map(|&i| &table.rows[i]).collect();
        rows_response(status, table, &rows, p)
    } else {
        Ok(empty(status))
    }
}

/// The rows of one INSERT/upsert statement, applied in order. Records what it merged (old values)
/// and touched, so the caller can roll back or answer with the rows.
fn apply_rows(
    table: &mut Table,
    incoming: Vec<Row>,
    target: &[String],
    resolution: Option<&str>,
    now: &str,
    merged: &mut Vec<(usize, Row)>,
    touched: &mut Vec<usize>,
) -> Result<usize, Reject> {
    let mut merged_here: HashSet<usize> = HashSet::new();
    let mut inserted = 0;
    for row in incoming {
        check_payload(table, &row, false)?;
        table.check_not_null(&row)?;
        let key: Vec<Value> = target
            .iter()
            .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
            .collect();
        let pk: Vec<Value> = table
            .spec
            .primary_key
            .iter()
            .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
            .collect();
        let existing = if target.is_empty() {
            None
        } else {
            table.find_key(target, &key)
        };
        match (existing, resolution) {
            (Some(i), Some("merge-duplicates")) => {
                if !merged_here.insert(i) {
                    return Err(Reject::new(
                        400,
                        "21000",
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    ));
                }
                let old = table.merge(i, row, now);
                merged.push((i, old));
                touched.push(i);
            }
            (Some(_), Some("ignore-duplicates")) => {}
            (Some(_), _) => return Err(table.duplicate(target, &key)),
            (None, _) => {
                let pk_cols = table.spec.primary_key.clone();
                if !pk_cols.is_empty() && table.find_key(&pk_cols, &pk).is_some() {
                    return Err(table.duplicate(&pk_cols, &pk));
                }
                table.insert_new(row, now, false);
                touched.push(table.rows.len() - 1);
                inserted += 1;
            }
        }
    }
    Ok(inserted)
}

fn update(
    table: &mut Table,
    p: &Parsed,
    body: Value,
    representation: bool,
    now: &str,
) -> Result<Reply, Reject> {
    let Value::Object(patch) = body else {
        return Err(Reject::new(400, "PGRST102", "PATCH needs a JSON object"));
    };
    check_payload(table, &patch, true)?;
    let idx = table.matching(p)?;
    let mut work = table.clone();
    for &i in &idx {
        for (k, v) in &patch {
            work.rows[i].insert(k.clone(), pack(v.clone()));
        }
        if let Some(t) = &work.spec.auto_now {
            work.rows[i].insert(t.clone(), Value::from(now));
        }
        work.check_not_null(&work.rows[i])?;
    }
    let pk = work.spec.primary_key.clone();
    if !pk.is_empty() {
        for &i in &idx {
            let key: Vec<Value> = pk
                .iter()
                .map(|c| work.rows[i].get(c).cloned().unwrap_or(Value::Null))
                .collect();
            if work.rows.iter().enumerate().any(|(j, r)| {
                j != i
                    && pk
                        .iter()
                        .map(|c| r.get(c).cloned().unwrap_or(Value::Null))
                        .collect::<Vec<_>>()
                        == key
            }) {
                return Err(work.duplicate(&pk, &key));
            }
        }
    }
    // Rows stay where they are, so the key indexes follow each changed row instead of being
    // rebuilt over the whole table by the next upsert.
    for &i in &idx {
        work.keys.changed(i, &table.rows[i], &work.rows[i]);
    }
    *table = work;
    if representation {
        let rows: Vec<&Row> = idx.iter().map(|&i| &table.rows[i]).collect();
        rows_response(200, table, &rows, p)
    } else {
        Ok(empty(204))
    }
}

fn delete(table: &mut Table, p: &Parsed, representation: bool) -> Result<Reply, Reject> {
    let idx = table.matching(p)?;
    let removed: Vec<Row> = idx.iter().map(|&i| table.rows[i].clone()).collect();
    // A delete that matched nothing (a replace's stale-row sweep after a full write) moves no
    // row, so the key indexes stay: rebuilding them would stall the next upsert for a scan of
    // the whole table, which at a million rows measured the fake instead of the client.
    if !idx.is_empty() {
        let gone: HashSet<usize> = idx.iter().copied().collect();
        let mut i = 0;
        table.rows.retain(|_| {
            let keep = !gone.contains(&i);
            i += 1;
            keep
        });
        table.keys.clear();
    }
    if representation {
        rows_response(200, table, &removed.iter().collect::<Vec<_>>(), p)
    } else {
        Ok(empty(204))
    }
}

fn rpc(st: &mut State, function: &str, method: &str, req: &Request) -> Result<Reply, Reject> {
    let f = st.rpcs.get(function).cloned().ok_or_else(|| {
        Reject::new(
            404,
            "PGRST202",
            format!(
                "Could not find the function {}.{function} in the schema cache",
                st.schema
            ),
        )
    })?;
    let args = match method {
        "POST" if req.body.is_empty() => json!({}),
        "POST" => body_json(req)?,
        "GET" => Value::Object(
            req.url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                .collect(),
        ),
        _ => {
            return Err(Reject::new(
                405,
                "PGRST101",
                "Only GET or POST requests are allowed for functions",
            ))
        }
    };
    match f(&args) {
        Ok(Value::Null) => Ok(empty(204)),
        Ok(v) => Ok(json_response(200, &v)),
        Err((status, message)) => Err(Reject::new(status, "P0001", message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TableSpec;

    fn table_with_index() -> Table {
        let mut table = Table::new(TableSpec::new("t").primary_key(["id"]));
        for id in 0..3 {
            table
                .rows
                .push(json!({"id": id}).as_object().unwrap().clone());
        }
        let cols = vec!["id".to_string()];
        assert_eq!(table.find_key(&cols, &[json!(2)]), Some(2));
        assert!(!table.keys.is_empty());
        table
    }

    #[test]
    fn a_delete_that_matches_nothing_keeps_the_key_indexes() {
        let mut table = table_with_index();
        let none = parse_query(Some("id=eq.7")).unwrap();
        delete(&mut table, &none, false).unwrap();
        assert_eq!(table.rows.len(), 3);
        assert!(!table.keys.is_empty(), "no row moved, so the index holds");

        let one = parse_query(Some("id=eq.0")).unwrap();
        delete(&mut table, &one, false).unwrap();
        assert_eq!(table.rows.len(), 2);
        assert!(
            table.keys.is_empty(),
            "rows moved: the index is rebuilt on next use"
        );
        let cols = vec!["id".to_string()];
        assert_eq!(table.find_key(&cols, &[json!(2)]), Some(1));
    }

    #[test]
    fn an_update_keeps_the_key_indexes_current() {
        let mut table = table_with_index();
        let row = parse_query(Some("id=eq.1")).unwrap();
        update(&mut table, &row, json!({"id": 7}), false, "now").unwrap();
        assert!(!table.keys.is_empty(), "no row moved, so the index holds");
        let cols = vec!["id".to_string()];
        assert_eq!(table.find_key(&cols, &[json!(7)]), Some(1));
        assert_eq!(table.find_key(&cols, &[json!(1)]), None);
        assert_eq!(table.find_key(&cols, &[json!(2)]), Some(2));
    }
}
