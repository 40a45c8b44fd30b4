//! What the fake holds (its state: tables, JWT, clock, functions) and the PostgREST query
//! semantics it applies to the tables.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::cell::{pack, unpack, unpack_row, Row};
use super::index::KeyIndexes;
use super::TableSpec;

pub(crate) type RpcFn = Arc<dyn Fn(&Value) -> Result<Value, (u16, String)> + Send + Sync>;

/// Everything the fake holds: its tables, the JWT it accepts, its clock, its functions.
pub(crate) struct State {
    pub(crate) tables: HashMap<String, Table>,
    pub(crate) jwt: Option<String>,
    pub(crate) jwt_expired: bool,
    pub(crate) schema: String,
    pub(crate) max_rows: Option<usize>,
    pub(crate) logging: bool,
    pub(crate) fixed_now: Option<DateTime<Utc>>,
    pub(crate) last_now: Option<DateTime<Utc>>,
    pub(crate) rpcs: HashMap<String, RpcFn>,
}

impl State {
    /// "now()" for one statement: the fixed time if set, else wall-clock time, strictly increasing so
    /// that every write is ordered after the previous one.
    pub(crate) fn clock_tick(&mut self) -> String {
        let now = match self.fixed_now {
            Some(t) => t,
            None => {
                let mut t = Utc::now();
                if let Some(last) = self.last_now {
                    if t <= last {
                        t = last + chrono::Duration::microseconds(1);
                    }
                }
                t
            }
        };
        self.last_now = Some(now);
        now.to_rfc3339_opts(SecondsFormat::Micros, false)
    }
}

/// An error the fake answers with: status and PostgREST's body fields.
#[derive(Debug, Clone)]
pub(crate) struct Reject {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) details: Option<String>,
}

impl Reject {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
        }
    }
    pub(crate) fn details(mut self, d: impl Into<String>) -> Self {
        self.details = Some(d.into());
        self
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) spec: TableSpec,
    pub(crate) rows: Vec<Row>,
    pub(crate) next_identity: i64,
    pub(crate) keys: KeyIndexes,
    /// Whether the rows sit in rising identity order, which lets a keyset page start with a binary
    /// search and stop when full, as Postgres walks its primary key index. True unless a row was
    /// planted with an explicit identity lower than the last one.
    pub(crate) identity_ordered: bool,
}

/// One parsed `col=op.value` filter.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Cmp(String, &'static str, String),
    In(String, Vec<String>),
    Is(String, String),
    Like(String, String),
    /// `col=not.op.value`.
    Not(Box<Cond>),
}

/// A parsed query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    pub(crate) select: Option<Vec<String>>,
    pub(crate) conds: Vec<Cond>,
    pub(crate) order: Vec<(String, bool, Option<bool>)>,
    pub(crate) limit: Option<usize>,
    pub(crate) offset: Option<usize>,
    pub(crate) on_conflict: Option<Vec<String>>,
    pub(crate) other: Vec<(String, String)>,
}

/// Decodes `%XX` and `+` (as a space, like PostgREST's HTTP stack does).
pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bad(msg: impl Into<String>) -> Reject {
    Reject::new(400, "PGRST100", msg)
}

fn parse_list(v: &str) -> Result<Vec<String>, Reject> {
    let inner = v
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| {
            bad(format!(
                "\"failed to parse filter (in.{v})\" (line 1, column 4)"
            ))
        })?;
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    if inner.is_empty() {
        return Ok(items);
    }
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => item.extend(chars.next()),
                    Some('"') => break,
                    Some(c) => item.push(c),
                    None => return Err(bad("unterminated quoted value in in-list")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if matches!(c, '(' | ')') {
                    return Err(bad(format!(
                        "unexpected \"{c}\" in in-list; quote values with reserved characters"
                    )));
                }
                item.push(c);
                chars.next();
            }
        }
        items.push(item);
        match chars.next() {
            Some(',') => continue,
            None => break,
            Some(c) => {
                return Err(bad(format!(
                    "unexpected \"{c}\" after a quoted in-list value"
                )))
            }
        }
    }
    Ok(items)
}

/// Parses a raw query string the way PostgREST reads it.
pub(crate) fn parse_query(raw: Option<&str>) -> Result<Parsed, Reject> {
    let mut p = Parsed::default();
    for pair in raw.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        match k.as_str() {
            "select" => p.select = Some(v.split(',').map(|s| s.trim().to_string()).collect()),
            "order" => {
                for key in v.split(',') {
                    let mut parts = key.split('.');
                    let col = parts.next().unwrap_or_default().to_string();
                    let (mut asc, mut nulls_first) = (true, None);
                    for m in parts {
                        match m {
                            "asc" => asc = true,
                            "desc" => asc = false,
                            "nullsfirst" => nulls_first = Some(true),
                            "nullslast" => nulls_first = Some(false),
                            other => return Err(bad(format!("unknown order modifier {other:?}"))),
                        }
                    }
                    p.order.push((col, asc, nulls_first));
                }
            }
            "limit" => {
                p.limit = Some(
                    v.parse()
                        .map_err(|_| bad(format!("limit {v:?} is not a number")))?,
                )
            }
            "offset" => {
                p.offset = Some(
                    v.parse()
                        .map_err(|_| bad(format!("offset {v:?} is not a number")))?,
                )
            }
            "on_conflict" => p.on_conflict = Some(v.split(',').map(str::to_string).collect()),
            "columns" => p.other.push((k, v)),
            _ => p.conds.push(parse_filter(k, &v)?),
        }
    }
    Ok(p)
}

/// `PGRST100` for a filter value with no operator, in PostgREST's words (its QuerySpec at
/// v12.0.2, "fails if an operator is not given": `id=0` is `"failed to parse filter (0)" (line
/// 1, column 1)` with details `unexpected "0" expecting "not" or operator (eq, gt, ...)`).
fn no_operator(v: &str) -> Reject {
    let first = v
        .chars()
        .next()
        .map_or("end of input".into(), |c| format!("\"{c}\""));
    bad(format!(
        "\"failed to parse filter ({v})\" (line 1, column 1)"
    ))
    .details(format!(
        "unexpected {first} expecting \"not\" or operator (eq, gt, ...)"
    ))
}

/// One `column=[not.]op.value` filter.
fn parse_filter(k: String, v: &str) -> Result<Cond, Reject> {
    if let Some(rest) = v.strip_prefix("not.") {
        return Ok(Cond::Not(Box::new(parse_filter(k, rest)?)));
    }
    let (op, val) = v.split_once('.').ok_or_else(|| no_operator(v))?;
    let cond = match op {
        "eq" | "neq" | "gt" | "gte" | "lt" | "lte" => {
            let op: &'static str = match op {
                "eq" => "eq",
                "neq" => "neq",
                "gt" => "gt",
                "gte" => "gte",
                "lt" => "lt",
                _ => "lte",
            };
            Cond::Cmp(k, op, val.to_string())
        }
        "in" => Cond::In(k, parse_list(val)?),
        "is" if matches!(val, "null" | "true" | "false" | "unknown") => {
            Cond::Is(k, val.to_string())
        }
        "like" => Cond::Like(k, val.to_string()),
        "cs" | "cd" | "ov" | "ilike" | "match" | "imatch" | "fts" | "plfts" | "phfts" | "wfts"
        | "isdistinct" | "sl" | "sr" | "nxl" | "nxr" | "adj" => {
            return Err(bad(format!(
                "the fake does not support the filter {op:?} ({k}={v})"
            )))
        }
        _ => return Err(no_operator(v)),
    };
    Ok(cond)
}

fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    // Every accepted form starts `YYYY-MM-DD`; rejecting the rest up front keeps filters on text
    // columns (app_id = …) from trying six parsers per row.
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() < 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Compares a stored value with a filter literal as Postgres would after casting the literal.
pub(crate) fn compare_literal(a: &Value, lit: &str) -> Option<Ordering> {
    match a {
        Value::Null => None,
        Value::Number(n) => n.as_f64()?.partial_cmp(&lit.trim().parse::<f64>().ok()?),
        Value::Bool(b) => Some(b.cmp(&lit.parse::<bool>().ok()?)),
        Value::String(s) => match (timestamp(s), timestamp(lit)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(s.as_str().cmp(lit)),
        },
        other => Some(other.to_string().cmp(&lit.to_string())),
    }
}

/// Orders two stored values (nulls handled by the caller).
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => match (timestamp(x), timestamp(y)) {
            (Some(p), Some(q)) => p.cmp(&q),
            _ => x.cmp(y),
        },
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // dp[j]: pattern[..i] matches text[..j]
    let mut dp = vec![false; t.len() + 1];
    dp[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        if pc == '*' || pc == '%' {
            let mut seen = false;
            for j in 0..=t.len() {
                seen |= dp[j];
                next[j] = seen;
            }
        } else {
            for j in 1..=t.len() {
                next[j] = dp[j - 1] && (pc == '_' || pc == t[j - 1]);
            }
        }
        dp = next;
    }
    dp[t.len()]
}

impl Cond {
    pub(crate) fn column(&self) -> &str {
        match self {
            Cond::Cmp(c, ..) | Cond::In(c, _) | Cond::Is(c, _) | Cond::Like(c, _) => c,
            Cond::Not(inner) => inner.column(),
        }
    }

    pub(crate) fn matches(&self, row: &Row) -> bool {
        let v = row.get(self.column()).unwrap_or(&Value::Null);
        match self {
            Cond::Cmp(_, op, lit) => match compare_literal(v, lit) {
                None => false,
                Some(o) => match *op {
                    "eq" => o == Ordering::Equal,
                    "neq" => o != Ordering::Equal,
                    "gt" => o == Ordering::Greater,
                    "gte" => o != Ordering::Less,
                    "lt" => o == Ordering::Less,
                    _ => o != Ordering::Greater,
                },
            },
            Cond::In(_, items) => items
                .iter()
                .any(|i| compare_literal(v, i) == Some(Ordering::Equal)),
            Cond::Is(_, what) => match what.as_str() {
                "null" => v.is_null(),
                "true" => v == &Value::Bool(true),
                "false" => v == &Value::Bool(false),
                _ => v.is_null(),
            },
            Cond::Like(_, pat) => v.as_str().is_some_and(|s| like(s, pat)),
            Cond::Not(inner) => !inner.matches(row),
        }
    }
}

impl Table {
    pub(crate) fn new(spec: TableSpec) -> Self {
        Self {
            spec,
            rows: Vec::new(),
            next_identity: 1,
            keys: KeyIndexes::default(),
            identity_ordered: true,
        }
    }

    /// Rejects a column the table does not have (only when the spec lists its columns).
    pub(crate) fn check_column(&self, col: &str) -> Result<(), Reject> {
        if col == "*" || self.spec.has_column(col) {
            Ok(())
        } else {
            Err(Reject::new(
                400,
                "42703",
                format!("column {}.{col} does not exist", self.spec.name),
            ))
        }
    }

    /// The first `wanted` matching rows of a keyset page, found without scanning the table: when
    /// the query orders by the identity column ascending and the rows sit in that order, start
    /// past its `> N` / `>= N` filter and stop once `wanted` rows matched. `None` when the query
    /// is not of that shape (the caller then scans and sorts).
    pub(crate) fn keyset_page(
        &self,
        p: &Parsed,
        wanted: usize,
    ) -> Result<Option<Vec<usize>>, Reject> {
        for c in &p.conds {
            self.check_column(c.column())?;
        }
        let Some(id) = self.spec.identity.as_deref() else {
            return Ok(None);
        };
        let by_identity = matches!(p.order.as_slice(), [(col, true, _)] if col == id);
        if !self.identity_ordered || !by_identity {
            return Ok(None);
        }
        let identity = |r: &Row| r.get(id).and_then(Value::as_i64).unwrap_or(i64::MIN);
        let start = p
            .conds
            .iter()
            .filter_map(|c| match c {
                Cond::Cmp(col, op @ ("gt" | "gte"), lit) if col == id => {
                    let n = lit.trim().parse::<i64>().ok()?;
                    Some(self.rows.partition_point(|r| {
                        if *op == "gt" {
                            identity(r) <= n
                        } else {
                            identity(r) < n
                        }
                    }))
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut page = Vec::new();
        for (i, row) in self.rows.iter().enumerate().skip(start) {
            if page.len() >= wanted {
                break;
            }
            if p.conds.iter().all(|c| c.matches(row)) {
                page.push(i);
            }
        }
        Ok(Some(page))
    }

    pub(crate) fn matching(&self, p: &Parsed) -> Result<Vec<usize>, Reject> {
        for c in &p.conds {
            self.check_column(c.column())?;
        }
        Ok((0..self.rows.len())
            .filter(|&i| p.conds.iter().all(|c| c.matches(&self.rows[i])))
            .collect())
    }

    /// Orders `idx` by the query's `order`; with `first = Some(k)` only the first `k` need to be
    /// right (a page), which a selection finds in linear time instead of sorting every match.
    pub(crate) fn sort(
        &self,
        idx: &mut Vec<usize>,
        p: &Parsed,
        first: Option<usize>,
    ) -> Result<(), Reject> {
        for (col, ..) in &p.order {
            self.check_column(col)?;
        }
        let cmp = |&a: &usize, &b: &usize| {
            for (col, asc, nulls_first) in &p.order {
                let (x, y) = (self.rows[a].get(col), self.rows[b].get(col));
                let x = x.filter(|v| !v.is_null());
                let y = y.filter(|v| !v.is_null());
                // Postgres: NULLS LAST for ascending, NULLS FIRST for descending.
                let nf = nulls_first.unwrap_or(!asc);
                let o = match (x, y) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => {
                        if nf {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    }
                    (Some(_), None) => {
                        if nf {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    }
                    (Some(x), Some(y)) => {
                        let o = compare_values(x, y);
                        if *asc {
                            o
                        } else {
                            o.reverse()
                        }
                    }
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        };
        if let Some(k) = first.filter(|&k| k < idx.len()) {
            if k == 0 {
                idx.clear();
                return Ok(());
            }
            idx.select_nth_unstable_by(k - 1, |a, b| cmp(a, b).then(a.cmp(b)));
            idx.truncate(k);
        }
        // Ties keep storage order, as a stable sort of the whole match would.
        idx.sort_by(|a, b| cmp(a, b).then(a.cmp(b)));
        Ok(())
    }

    pub(crate) fn project(&self, row: &Row, select: &Option<Vec<String>>) -> Result<Value, Reject> {
        match select {
            None => Ok(Value::Object(unpack_row(row))),
            Some(cols) if cols.iter().any(|c| c == "*") => Ok(Value::Object(unpack_row(row))),
            Some(cols) => {
                let mut out = Map::new();
                for c in cols {
                    self.check_column(c)?;
                    let cell = row.get(c).map_or(Value::Null, |v| unpack(v).into_owned());
                    out.insert(c.clone(), cell);
                }
                Ok(Value::Object(out))
            }
        }
    }

    pub(crate) fn find_key(&mut self, cols: &[String], key: &[Value]) -> Option<usize> {
        self.keys.find(&self.rows, cols, key)
    }

    /// Merges `row` into the stored row `i` and returns what it was (for a rollback).
    pub(crate) fn merge(&mut self, i: usize, row: Row, now: &str) -> Row {
        let old = self.rows[i].clone();
        let stored = &mut self.rows[i];
        for (k, v) in row {
            stored.insert(k, pack(v));
        }
        if let Some(t) = &self.spec.auto_now {
            stored.insert(t.clone(), Value::from(now));
        }
        self.keys.changed(i, &old, &self.rows[i]);
        old
    }

    /// Undoes a statement that failed part-way: merged rows get their old values back, appended
    /// rows go, the identity sequence is rewound (unlike Postgres, which burns the values; no test
    /// depends on the gap).
    pub(crate) fn roll_back(&mut self, len: usize, next_identity: i64, merged: Vec<(usize, Row)>) {
        for (i, old) in merged.into_iter().rev() {
            self.rows[i] = old;
        }
        self.rows.truncate(len);
        self.next_identity = next_identity;
        self.keys.clear();
    }

    /// Not-null columns and `CHECK (col IN ...)` constraints.
    pub(crate) fn check_not_null(&self, row: &Row) -> Result<(), Reject> {
        if let Some(message) = self.spec.violated_type(row) {
            return Err(Reject::new(400, "22P02", message));
        }
        if let Some(message) = self.spec.violated_check(row) {
            return Err(Reject::new(400, "23514", message));
        }
        for c in self.spec.primary_key.iter().chain(&self.spec.not_null) {
            if row.get(c).is_none_or(Value::is_null) {
                return Err(Reject::new(
                    400,
                    "23502",
                    format!("null value in column \"{c}\" of relation \"{}\" violates not-null constraint", self.spec.name),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn duplicate(&self, cols: &[String], key: &[Value]) -> Reject {
        let vals: Vec<String> = key
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect();
        Reject::new(
            409,
            "23505",
            format!(
                "duplicate key value violates unique constraint \"{}_pkey\"",
                self.spec.name
            ),
        )
        .details(format!(
            "Key ({})=({}) already exists.",
            cols.join(", "),
            vals.join(", ")
        ))
    }

    /// Inserts a new row the way the database would: identity from the sequence, auto-now column set.
    /// `seeding` keeps an auto-now value the caller gave (to plant old rows in tests).
    pub(crate) fn insert_new(&mut self, row: Row, now: &str, seeding: bool) {
        let mut row: Row = row.into_iter().map(|(k, v)| (k, pack(v))).collect();
        if let Some(id) = &self.spec.identity {
            if row.get(id).is_none_or(Value::is_null) {
                row.insert(id.clone(), Value::from(self.next_identity));
                self.next_identity += 1;
            } else if let Some(n) = row.get(id).and_then(Value::as_i64) {
                self.next_identity = self.next_identity.max(n + 1);
            }
        }
        if let Some(t) = &self.spec.auto_now {
            if !seeding || row.get(t).is_none_or(Value::is_null) {
                row.insert(t.clone(), Value::from(now));
            }
        }
        if let Some(id) = &self.spec.identity {
            let last = self
                .rows
                .last()
                .and_then(|r| r.get(id))
                .and_then(Value::as_i64);
            match (last, row.get(id).and_then(Value::as_i64)) {
                (Some(last), Some(new)) if new <= last => self.identity_ordered = false,
                (_, None) => self.identity_ordered = false,
                _ => {}
            }
        }
        self.rows.push(row);
        self.keys.appended(&self.rows);
    }
}
