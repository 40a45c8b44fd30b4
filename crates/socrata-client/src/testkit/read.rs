//! The fake's reads: `GET /resource/{id}.json` with `$where` (the SoQL of `soql.rs`), simple
//! filters (`?field=value`), `$q`, `$order`, `$select` (`count(*)` too), `$limit` and `$offset`;
//! answered with SODA 2.1's `X-SODA2-Fields` and `X-SODA2-Types` headers.

use std::cmp::Ordering;

use serde_json::Value;
use wiremock::Request;

use super::index::KeyOrder;
use super::reply::{error, reply, Reply};
use super::soql::{self, Expr, Literal};
use super::store::{Stored, StoredDataset};
use crate::Row;

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

pub(super) fn read(ds: &mut StoredDataset, req: &Request) -> Reply {
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
    let filtered =
        param("$where").is_some() || param("$q").is_some() || !simple_filters(req).is_empty();
    let select = param("$select");
    if select
        .as_deref()
        .is_some_and(|s| s.replace(' ', "").eq_ignore_ascii_case("count(*)"))
    {
        // SODA 2.1's aggregate: one row, the count as text.
        let count = if filtered {
            match filter_and_order(ds, req, &param, None) {
                Ok(rows) => rows.len(),
                Err(reply) => return reply,
            }
        } else {
            ds.rows.len()
        };
        return reply(200, serde_json::json!([{"count": count.to_string()}]));
    }
    let keyset = keyset_after(ds, req, &param, order.as_deref());
    let rows: Vec<Row> = if let Some(after) = keyset {
        let page = key_order(ds).map(|index| {
            let page: Vec<usize> = index
                .after(after.as_deref())
                .skip(offset)
                .take(limit)
                .collect();
            page
        });
        match page {
            Some(page) => page.into_iter().map(|i| ds.rows[i].row()).collect(),
            None => match filter_and_order(ds, req, &param, order.as_deref()) {
                Ok(rows) => rows.into_iter().skip(offset).take(limit).collect(),
                Err(reply) => return reply,
            },
        }
    } else if !filtered && order.as_deref().is_none_or(by_sid) {
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
        match filter_and_order(ds, req, &param, order.as_deref()) {
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
    let mut answer = reply(200, Value::Array(out));
    answer.headers = soda2_headers(ds, fields.as_deref(), system);
    answer
}

/// `X-SODA2-Fields` and `X-SODA2-Types`: the result's columns and their types as JSON arrays,
/// as SODA 2.1 sends them with every read (soda-ruby's recorded
/// test/resources/earthquakes_where_gt_5.response, github.com/socrata/soda-ruby at
/// a2b3e4790701555418e3ade96468526edfa98727).
fn soda2_headers(
    ds: &StoredDataset,
    selected: Option<&[String]>,
    system: bool,
) -> Vec<(&'static str, String)> {
    let mut columns: Vec<(String, String)> = ds
        .spec
        .column_types()
        .filter(|(name, _)| selected.is_none_or(|s| s.contains(name)))
        .collect();
    if system {
        for name in [":id", ":created_at", ":updated_at"] {
            columns.push((name.to_string(), "meta_data".to_string()));
        }
    }
    let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
    let types: Vec<&str> = columns.iter().map(|c| c.1.as_str()).collect();
    vec![
        ("X-SODA2-Fields", Value::from(names).to_string()),
        ("X-SODA2-Types", Value::from(types).to_string()),
    ]
}

/// For a keyset read on the row identifier (`$order=<identifier>` or `<identifier>, :id`, and no
/// filter but an optional `$where=<identifier> > 'last'`), the value it reads after (`Some(None)`
/// for the first page); `None` for any other read.
fn keyset_after(
    ds: &StoredDataset,
    req: &Request,
    param: &dyn Fn(&str) -> Option<String>,
    order: Option<&str>,
) -> Option<Option<String>> {
    let id = ds.spec.row_identifier.as_deref()?;
    let field = |f: &str| f.trim().trim_matches('`') == id;
    // `<id>` or `<id>, :id` ascending (`pages_by_key` breaks ties by `:id`, the stored order).
    let terms: Vec<Vec<&str>> = order?
        .split(',')
        .map(|t| t.split_whitespace().collect())
        .collect();
    let ascending = |t: &[&str]| t.len() == 1 || (t.len() == 2 && t[1].eq_ignore_ascii_case("asc"));
    let by_id = terms.iter().all(|t| ascending(t))
        && match terms.as_slice() {
            [first] => field(first[0]),
            [first, then] => field(first[0]) && then[0] == ":id",
            _ => false,
        };
    if !by_id || id.starts_with(':') || param("$q").is_some() || !simple_filters(req).is_empty() {
        return None;
    }
    match param("$where") {
        None => Some(None),
        Some(w) => match soql::parse(&w).ok()? {
            Expr::Cmp(f, op, Literal::Text(last)) if op == ">" && field(&f) => Some(Some(last)),
            _ => None,
        },
    }
}

/// The dataset's [`KeyOrder`], built on first use; `None` when a row's identifier is not text.
/// A failed build is remembered too (until the next write), so a dataset without one is not
/// parsed again for every page.
fn key_order(ds: &mut StoredDataset) -> Option<&KeyOrder> {
    if ds.key_order.is_none() {
        let built = match ds.spec.row_identifier.clone() {
            Some(id) => KeyOrder::build(ds.rows.iter().map(Stored::row), &id),
            None => None,
        };
        ds.key_order = Some(built);
    }
    ds.key_order.as_ref().and_then(Option::as_ref)
}

/// SODA's simple filters: every parameter not starting with `$` is `field = 'value'`
/// (<https://dev.socrata.com/docs/filtering.html>).
fn simple_filters(req: &Request) -> Vec<Expr> {
    req.url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| Expr::Cmp(k.into_owned(), "=".into(), Literal::Text(v.into_owned())))
        .collect()
}

/// Every row `$where` and `$q` keep, in `$order` (each stored row is read).
fn filter_and_order(
    ds: &StoredDataset,
    req: &Request,
    param: &dyn Fn(&str) -> Option<String>,
    order: Option<&str>,
) -> Result<Vec<Row>, Reply> {
    let mut rows: Vec<Row> = ds.rows.iter().map(Stored::row).collect();
    let mut conditions = simple_filters(req);
    if let Some(w) = param("$where") {
        match soql::parse(&w) {
            Ok(expr) => conditions.push(expr),
            Err(why) => {
                return Err(error(
                    400,
                    "query.compiler.malformed",
                    &format!("Could not parse SoQL query \"{w}\": {why}"),
                ))
            }
        }
    }
    rows.retain(|r| conditions.iter().all(|c| soql::matches(c, r)));
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
