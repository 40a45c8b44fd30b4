//! The fake's HTTP side: its one wiremock responder (faults, latency and the log from the
//! shared frame, and faults deferred to the Nth call), routing, tokens, and what the fake does
//! for each operation.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use knack_services_core::lock;
use knack_services_core::testkit::Frame;
use serde_json::{json, Value};
use wiremock::{Request, Respond, ResponseTemplate};

use super::sql::Where;
use super::store::{FakeLayer, State};
use super::{FeatureFailure, ITEM_ID, OBJECT_ID_FIELD, ORG_ID, PASSWORD, SERVICE_NAME, USERNAME};
use crate::types::{Feature, Geometry};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) struct Responder {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) frame: Arc<Frame>,
    pub(crate) base: String,
}

fn error_body(code: i64, message: &str, details: &[&str]) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"error": {"code": code, "message": message, "details": details}}))
}

/// Splits a path into (operation, layer id).
pub(crate) fn route(path: &str) -> (String, Option<u32>) {
    let service = format!("/{ORG_ID}/arcgis/rest/services/{SERVICE_NAME}/FeatureServer");
    let admin = format!("/{ORG_ID}/arcgis/rest/admin/services/{SERVICE_NAME}/FeatureServer/");
    if path == "/sharing/rest/generateToken" {
        return ("generateToken".into(), None);
    }
    if path == "/sharing/rest/community/self" {
        return ("self".into(), None);
    }
    if path.starts_with("/sharing/rest/content/items/") {
        return ("item".into(), None);
    }
    if path == service {
        return ("service".into(), None);
    }
    if let Some(rest) = path.strip_prefix(&admin) {
        if let Some((id, "truncate")) = rest.split_once('/') {
            if let Ok(id) = id.parse() {
                return ("truncate".into(), Some(id));
            }
        }
    }
    if let Some(rest) = path.strip_prefix(&format!("{service}/")) {
        let (id, op) = rest.split_once('/').unwrap_or((rest, "layer"));
        if let Ok(id) = id.parse() {
            if matches!(
                op,
                "layer"
                    | "query"
                    | "addFeatures"
                    | "updateFeatures"
                    | "deleteFeatures"
                    | "applyEdits"
            ) {
                return (op.into(), Some(id));
            }
        }
    }
    ("unknown".into(), None)
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let at = Instant::now();
        let target = match req.url.query() {
            Some(q) => format!("{}?{q}", req.url.path()),
            None => req.url.path().to_string(),
        };
        self.release_deferred(&target);
        let fault = self.frame.take_fault(req.method.as_str(), &target);
        let (resp, status) = match &fault {
            Some(f) if f.status.is_some() => (f.respond(), f.status.unwrap_or(200)),
            Some(f) => {
                let (resp, status) = self.answer(req);
                (f.finish(resp), status)
            }
            None => self.answer(req),
        };
        if !lock(&self.state).no_log {
            self.frame.record(req, at, status);
        }
        let extra = fault.filter(|f| f.status.is_none()).map(|f| f.delay);
        resp.set_delay(self.frame.delay_for(req) + extra.unwrap_or_default())
    }
}

impl Responder {
    /// Counts this request against the deferred faults and queues those whose turn has come.
    fn release_deferred(&self, target: &str) {
        let mut st = lock(&self.state);
        let mut due = Vec::new();
        st.deferred.retain_mut(|(part, skip, fault)| {
            if !target.contains(part.as_str()) {
                return true;
            }
            if *skip == 0 {
                due.push(fault.clone());
                return false;
            }
            *skip -= 1;
            true
        });
        drop(st);
        for fault in due {
            self.frame.inject(fault);
        }
    }

    /// The fake's own answer and its status.
    fn answer(&self, req: &Request) -> (ResponseTemplate, u16) {
        let mut params: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        params.extend(url::form_urlencoded::parse(&req.body).into_owned());
        let path = req.url.path().to_string();
        let (operation, layer) = route(&path);
        if operation == "unknown" {
            let body = format!("FAKE AGOL: unexpected request {} {path}", req.method);
            return (ResponseTemplate::new(418).set_body_string(body), 418);
        }
        let p = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if p("f").as_deref() != Some("json") {
            let body = "<html><body>ArcGIS REST (f=json missing)</body></html>";
            return (ResponseTemplate::new(200).set_body_string(body), 200);
        }
        let mut st = lock(&self.state);
        if operation == "generateToken" {
            return (self.generate_token(&mut st, &p), 200);
        }
        if operation == "self" {
            return (community_self(&st, p("token")), 200);
        }
        if st.require_token {
            let token = p("token").or_else(|| {
                req.headers
                    .get("x-esri-authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_string)
            });
            match token {
                None => return (error_body(499, "Token Required", &[]), 200),
                Some(t) if st.tokens.get(&t).is_none_or(|exp| *exp <= now_ms()) => {
                    return (error_body(498, "Invalid token.", &[]), 200)
                }
                Some(_) => {}
            }
        }
        // Links the fake hands out go through the chaos proxy once there is one.
        let base = self.frame.proxy_uri().unwrap_or_else(|| self.base.clone());
        let resp = handle(&mut st, &base, &operation, layer, &p);
        let rule = st
            .apply_then_fail
            .iter_mut()
            .find(|r| r.remaining > 0 && r.operation == operation);
        match rule {
            Some(rule) => {
                rule.remaining -= 1;
                let body = "<html>Gateway Time-out (injected, after applying)</html>";
                let status = rule.status;
                (ResponseTemplate::new(status).set_body_string(body), status)
            }
            None => (resp, 200),
        }
    }

    fn generate_token(
        &self,
        st: &mut State,
        p: &dyn Fn(&str) -> Option<String>,
    ) -> ResponseTemplate {
        if p("username").as_deref() != Some(USERNAME) || p("password").as_deref() != Some(PASSWORD)
        {
            return error_body(
                400,
                "Unable to generate token.",
                &["Invalid username or password."],
            );
        }
        if p("client").as_deref() == Some("referer") && p("referer").is_none() {
            return error_body(
                400,
                "Unable to generate token.",
                &["'referer' must be specified."],
            );
        }
        let minutes: u64 = p("expiration").and_then(|m| m.parse().ok()).unwrap_or(60);
        let ttl = st.token_ttl_ms.unwrap_or(minutes * 60_000);
        st.tokens_issued += 1;
        let token = format!("fake-token-{}-{:x}", st.tokens_issued, now_ms());
        let expires = now_ms() + ttl;
        st.tokens.insert(token.clone(), expires);
        ResponseTemplate::new(200)
            .set_body_json(json!({"token": token, "expires": expires, "ssl": true}))
    }
}

type Params<'a> = &'a dyn Fn(&str) -> Option<String>;

fn ok(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

fn invalid(details: &str) -> ResponseTemplate {
    error_body(400, "Unable to complete operation.", &[details])
}

pub(crate) fn handle(
    st: &mut State,
    base: &str,
    op: &str,
    layer: Option<u32>,
    p: Params<'_>,
) -> ResponseTemplate {
    match op {
        "item" => ok(json!({
            "id": ITEM_ID,
            "type": "Feature Service",
            "title": "Acceptance Signals",
            "url": format!("{base}/{ORG_ID}/arcgis/rest/services/{SERVICE_NAME}/FeatureServer"),
        })),
        "service" => {
            let list = |tables: bool| -> Vec<Value> {
                st.layers
                    .iter()
                    .filter(|l| l.is_table == tables)
                    .map(|l| json!({"id": l.id, "name": l.name}))
                    .collect()
            };
            ok(json!({
                "serviceDescription": "",
                "capabilities": "Create,Delete,Query,Update,Editing",
                "maxRecordCount": 2000,
                "layers": list(false),
                "tables": list(true),
            }))
        }
        _ => {
            let Some(l) = layer.and_then(|id| st.layer_mut(id)) else {
                return error_body(400, "Invalid URL", &["Layer does not exist"]);
            };
            match op {
                "layer" => ok(layer_info(l)),
                "query" => query(l, p),
                "truncate" => {
                    if !l.supports_truncate {
                        return error_body(400, "", &["Unable to truncate layer data."]);
                    }
                    l.features.clear();
                    l.next_oid = 1;
                    ok(json!({"success": true}))
                }
                _ => edit(st, layer.unwrap_or_default(), op, p),
            }
        }
    }
}

fn layer_info(l: &FakeLayer) -> Value {
    let mut v = json!({
        "id": l.id,
        "name": l.name,
        "type": if l.is_table { "Table" } else { "Feature Layer" },
        "objectIdField": OBJECT_ID_FIELD,
        "maxRecordCount": l.max_record_count,
        "supportsTruncate": l.supports_truncate,
        "capabilities": "Create,Delete,Query,Update,Editing",
        "advancedQueryCapabilities": {"supportsPagination": true},
        "fields": l.fields,
    });
    if let Some(g) = &l.geometry_type {
        v["geometryType"] = json!(g);
    }
    v
}

fn parse_ids(s: &str) -> Result<Vec<i64>, String> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    t.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().map_err(|_| format!("bad object id {x:?}")))
        .collect()
}

fn query(l: &mut FakeLayer, p: Params<'_>) -> ResponseTemplate {
    let w = match Where::parse(&p("where").unwrap_or_else(|| "1=1".into())) {
        Ok(w) => w,
        Err(e) => return invalid(&format!("'where' parameter is invalid: {e}")),
    };
    let ids = match p("objectIds").map(|s| parse_ids(&s)).transpose() {
        Ok(ids) => ids,
        Err(e) => return invalid(&e),
    };
    let matched: Vec<i64> = l.features.matching_ids(&w, ids.as_deref());
    let flag = |n: &str| p(n).as_deref() == Some("true");
    if flag("returnCountOnly") {
        return ok(json!({"count": matched.len()}));
    }
    if flag("returnIdsOnly") {
        let ids: Vec<i64> = matched.clone();
        return ok(json!({"objectIdFieldName": OBJECT_ID_FIELD, "objectIds": ids}));
    }
    let offset: usize = p("resultOffset").and_then(|s| s.parse().ok()).unwrap_or(0);
    let max = l.max_record_count as usize;
    let count = p("resultRecordCount")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(max)
        .min(max);
    let out_fields = p("outFields").unwrap_or_else(|| "*".into());
    let wanted: Option<Vec<String>> = (out_fields.trim() != "*").then(|| {
        out_fields
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect()
    });
    let geometry = p("returnGeometry").as_deref() != Some("false") && !l.is_table;
    let page: Vec<Value> = matched
        .iter()
        .skip(offset)
        .take(count)
        .filter_map(|oid| l.features.get(oid))
        .map(|f| {
            let attributes: serde_json::Map<String, Value> = f
                .attributes
                .iter()
                .filter(|(k, _)| {
                    wanted
                        .as_ref()
                        .is_none_or(|w| w.contains(&k.to_ascii_lowercase()))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut v = json!({ "attributes": attributes });
            if geometry {
                if let Some(g) = &f.geometry {
                    v["geometry"] = json!(g);
                }
            }
            v
        })
        .collect();
    let mut body = json!({
        "objectIdFieldName": OBJECT_ID_FIELD,
        "spatialReference": {"wkid": 4326, "latestWkid": 4326},
        "fields": l.fields,
        "features": page,
    });
    if let Some(g) = &l.geometry_type {
        body["geometryType"] = json!(g);
    }
    if offset + count < matched.len() {
        body["exceededTransferLimit"] = json!(true);
    }
    ok(body)
}

/// Reads sent features, keeping `"geometry": null` ([`Geometry::Null`]) apart from a missing key:
/// `Feature`'s own reading folds both into `None`, as query results need.
fn parse_features(p: Params<'_>, name: &str) -> Result<Vec<Feature>, String> {
    let bad = |e: serde_json::Error| format!("'{name}' is not features JSON: {e}");
    let raw: Vec<Value> = match p(name) {
        None => return Ok(vec![]),
        Some(s) if s.trim().is_empty() => return Ok(vec![]),
        Some(s) => serde_json::from_str(&s).map_err(bad)?,
    };
    raw.into_iter()
        .map(|v| {
            let null = v.get("geometry").is_some_and(Value::is_null);
            let mut f: Feature = serde_json::from_value(v).map_err(bad)?;
            if null {
                f.geometry = Some(Geometry::Null);
            }
            Ok(f)
        })
        .collect()
}

/// The first attribute value the layer's fields refuse, as ArcGIS words it: text longer than
/// the field's `length`, a value a number field cannot take, text that looks like HTML. Attributes
/// the layer has no field for are ignored, as ArcGIS ignores them. The messages are those of
/// Esri's feature-service error table ("Setting of value for <field> failed.", "Invalid untrusted
/// HTML content detected in field: <field>.") with that table's codes, 1016 and 1006
/// (<https://developers.arcgis.com/rest/services-reference/enterprise/feature-service-error-codes.htm>).
fn invalid_value(fields: &[Value], f: &Feature) -> Option<(i64, String)> {
    let setting_failed = |name: &str| (1016, format!("Setting of value for {name} failed."));
    for (key, value) in &f.attributes {
        let Some(field) = fields.iter().find(|d| {
            d["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(key))
        }) else {
            continue;
        };
        let name = field["name"].as_str().unwrap_or(key);
        let kind = field["type"].as_str().unwrap_or("");
        let refused = match (kind, value) {
            (_, Value::Null) => false,
            ("esriFieldTypeString", Value::String(s)) => {
                if looks_like_html(s) {
                    return Some((
                        1006,
                        format!("Invalid untrusted HTML content detected in field: {name}."),
                    ));
                }
                field["length"]
                    .as_u64()
                    .is_some_and(|max| s.chars().count() as u64 > max)
            }
            ("esriFieldTypeSmallInteger", v) => !integer_in(v, i16::MIN.into(), i16::MAX.into()),
            ("esriFieldTypeInteger", v) => !integer_in(v, i32::MIN.into(), i32::MAX.into()),
            ("esriFieldTypeBigInteger", v) => !integer_in(v, i64::MIN, i64::MAX),
            ("esriFieldTypeDouble" | "esriFieldTypeSingle", Value::Number(_)) => false,
            ("esriFieldTypeDouble" | "esriFieldTypeSingle", Value::String(s)) => {
                s.trim().parse::<f64>().is_err()
            }
            ("esriFieldTypeDouble" | "esriFieldTypeSingle", _) => true,
            _ => false,
        };
        if refused {
            return Some(setting_failed(name));
        }
    }
    None
}

/// Whether `v` is a whole number (or text of one) within `min..=max`.
fn integer_in(v: &Value, min: i64, max: i64) -> bool {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.is_some_and(|n| (min..=max).contains(&n))
}

/// ArcGIS's HTML check, as far as this fake knows it: a `<` that opens a tag (`<p`, `</b`, `<!`)
/// with a `>` after it. `a < b > c` is not a tag.
fn looks_like_html(s: &str) -> bool {
    s.match_indices('<').any(|(at, _)| {
        let rest = &s[at + 1..];
        rest.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
            && rest.contains('>')
    })
}

struct Outcome {
    object_id: Option<i64>,
    error: Option<(i64, String)>,
}

fn result_json(o: &Outcome, rolled_back: bool) -> Value {
    match (&o.error, rolled_back) {
        (Some((code, d)), _) => {
            json!({"objectId": o.object_id.unwrap_or(-1), "success": false, "error": {"code": code, "description": d}})
        }
        (None, true) => {
            json!({"objectId": o.object_id.unwrap_or(-1), "success": false, "error": {"code": 1003, "description": "Operation rolled back."}})
        }
        (None, false) => json!({"objectId": o.object_id, "success": true}),
    }
}

fn edit(st: &mut State, layer_id: u32, op: &str, p: Params<'_>) -> ResponseTemplate {
    st.edit_calls += 1;
    let call = st.edit_calls;
    let rollback = p("rollbackOnFailure").as_deref() != Some("false");
    let (adds, updates) = match op {
        "addFeatures" => (parse_features(p, "features"), Ok(vec![])),
        "updateFeatures" => (Ok(vec![]), parse_features(p, "features")),
        "applyEdits" => (parse_features(p, "adds"), parse_features(p, "updates")),
        _ => (Ok(vec![]), Ok(vec![])),
    };
    let (adds, updates) = match (adds, updates) {
        (Ok(a), Ok(u)) => (a, u),
        (Err(e), _) | (_, Err(e)) => return invalid(&e),
    };
    let failures = st.failures.clone();
    let Some(l) = st.layer_mut(layer_id) else {
        return invalid("Layer does not exist");
    };
    let mut deletes: Vec<i64> = match op {
        "deleteFeatures" | "applyEdits" => {
            let key = if op == "applyEdits" {
                "deletes"
            } else {
                "objectIds"
            };
            match p(key).map(|s| parse_ids(&s)).transpose() {
                Ok(ids) => ids.unwrap_or_default(),
                Err(e) => return invalid(&e),
            }
        }
        _ => vec![],
    };
    if op == "deleteFeatures" {
        if let Some(w) = p("where") {
            match Where::parse(&w) {
                Ok(w) => deletes.extend(l.features.matching_ids(&w, None)),
                Err(e) => return invalid(&format!("'where' parameter is invalid: {e}")),
            }
        }
    }
    // Values the layer's fields refuse: with rollbackOnFailure=true ArcGIS rolls the whole call
    // back and says only that (a top-level error naming no feature); with false, each refused
    // feature gets its own result and the others are applied.
    let add_invalid: Vec<Option<(i64, String)>> =
        adds.iter().map(|f| invalid_value(&l.fields, f)).collect();
    let upd_invalid: Vec<Option<(i64, String)>> = updates
        .iter()
        .map(|f| invalid_value(&l.fields, f))
        .collect();
    if rollback && add_invalid.iter().chain(&upd_invalid).any(Option::is_some) {
        return error_body(
            400,
            "Unable to complete operation.",
            &["Operation rolled back."],
        );
    }
    let mut first = true;
    let mut feature_error = |f: Option<&Feature>| -> Option<(i64, String)> {
        let nth = std::mem::take(&mut first)
            && failures
                .iter()
                .any(|r| matches!(r, FeatureFailure::NthEditCall(n) if *n == call));
        if nth {
            return Some((1000, format!("Injected failure of edit call {call}.")));
        }
        let f = f?;
        failures.iter().find_map(|r| match r {
            FeatureFailure::AttributeEquals {
                layer,
                field,
                value,
            } if *layer == layer_id && f.attributes.get(field) == Some(value) => {
                Some((1000, format!("Injected failure: {field} = {value}.")))
            }
            _ => None,
        })
    };
    let mut next_oid = l.next_oid;
    let add_out: Vec<Outcome> = adds
        .iter()
        .zip(add_invalid)
        .map(|(f, invalid)| {
            let error = feature_error(Some(f)).or(invalid);
            let object_id = error.is_none().then(|| {
                next_oid += 1;
                next_oid - 1
            });
            Outcome { object_id, error }
        })
        .collect();
    let upd_out: Vec<Outcome> = updates
        .iter()
        .zip(upd_invalid)
        .map(|(f, invalid)| {
            let oid = f.attributes.get(OBJECT_ID_FIELD).and_then(Value::as_i64);
            let error = feature_error(Some(f)).or(invalid).or_else(|| match oid {
                Some(id) if l.features.contains_key(&id) => None,
                _ => Some((1019, "Object is missing.".to_string())),
            });
            Outcome {
                object_id: oid,
                error,
            }
        })
        .collect();
    let del_out: Vec<Outcome> = deletes
        .iter()
        .map(|id| {
            let error = feature_error(None).or_else(|| {
                (!l.features.contains_key(id)).then(|| (1019, "Object is missing.".to_string()))
            });
            Outcome {
                object_id: Some(*id),
                error,
            }
        })
        .collect();
    let any_failed = add_out
        .iter()
        .chain(&upd_out)
        .chain(&del_out)
        .any(|o| o.error.is_some());
    let rolled_back = rollback && any_failed;
    if !rolled_back {
        for (f, o) in adds.into_iter().zip(&add_out) {
            if o.error.is_none() {
                l.insert(f);
            }
        }
        for (f, o) in updates.into_iter().zip(&upd_out) {
            if let (None, Some(id)) = (&o.error, o.object_id) {
                if let Some(mut stored) = l.features.get(&id) {
                    stored.attributes.extend(f.attributes);
                    // As AGOL: no key keeps the shape, `null` removes it, a shape replaces it.
                    match f.geometry {
                        _ if l.is_table => {}
                        None => {}
                        Some(Geometry::Null) => stored.geometry = None,
                        Some(g) => stored.geometry = Some(g),
                    }
                    l.features.insert(id, &stored);
                }
            }
        }
        for o in &del_out {
            if let (None, Some(id)) = (&o.error, o.object_id) {
                l.features.remove(&id);
            }
        }
    }
    let list =
        |v: &[Outcome]| -> Vec<Value> { v.iter().map(|o| result_json(o, rolled_back)).collect() };
    ok(match op {
        "addFeatures" => json!({"addResults": list(&add_out)}),
        "updateFeatures" => json!({"updateResults": list(&upd_out)}),
        "deleteFeatures" => json!({"deleteResults": list(&del_out)}),
        _ => json!({
            "addResults": list(&add_out),
            "updateResults": list(&upd_out),
            "deleteResults": list(&del_out),
        }),
    })
}

/// `/sharing/rest/community/self`: the signed-in user, which Esri's arcgis-rest-js asks for
/// right after `generateToken` (`ArcGISIdentityManager.signIn`); shaped as its recorded mock
/// `GroupMemberUserResponse` (packages/arcgis-rest-portal/test/mocks/users/user.ts, at
/// 8ab270bbb9cdf55b0127993f5bd01bc3538034e8). It always needs a token: 499 without, 498 for
/// one the fake did not issue or that expired, both inside a 200 as ArcGIS answers.
fn community_self(st: &State, token: Option<String>) -> ResponseTemplate {
    let Some(token) = token else {
        return error_body(499, "Token Required", &[]);
    };
    if st.tokens.get(&token).is_none_or(|exp| *exp <= now_ms()) {
        return error_body(498, "Invalid token.", &[]);
    }
    ResponseTemplate::new(200).set_body_json(json!({
        "username": USERNAME,
        "fullName": "Agol Tester",
        "firstName": "Agol",
        "lastName": "Tester",
        "description": "The fake's only user.",
        "email": "agol-tester@example.org",
        "orgId": ORG_ID,
        "role": "org_publisher",
        "privileges": ["portal:user:createItem", "features:user:edit"],
        "level": "2",
        "disabled": false,
        "access": "org",
        "culture": "en",
        "region": "US",
        "units": "metric",
        "provider": "arcgis",
        "created": 1_258_501_046_000_i64,
        "modified": 1_290_625_562_000_i64,
        "groups": [],
    }))
}
