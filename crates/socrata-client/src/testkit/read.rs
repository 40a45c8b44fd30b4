//! The fake's reads: `GET /resource/{id}.json` with `$where`, `$q`, `$order`, `$select`
//! (`count(*)` too), `$limit` and `$offset`.

use std::cmp::Ordering;

use serde_json::Value;
use wiremock::Request;

use super::reply::{error, reply, Reply};
use super::store::{Stored, StoredDataset};
use crate::Row;

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

pub(super) fn read(ds: &StoredDataset, req: &Request) -> Reply {
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
    let rows: Vec<Row> = if !filtered && order.as_deref().is_none_or(by_sid) {
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
