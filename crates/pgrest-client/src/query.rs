//! Building PostgREST query strings so that no value can change the query's shape.
//!
//! Every value and column name is percent-encoded byte by byte (only `A-Z a-z 0-9 - . _ ~` stay as they
//! are), so `&`, `=`, `#` and `+` in a value can never start a new parameter or turn into a space: a
//! timestamp offset `+00:00` is sent as `%2B00:00`. Inside `in.(…)` lists every item is also wrapped in
//! double quotes with `"` and `\` backslash-escaped, because commas and parentheses structure the list.

use std::fmt::Write as _;

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A value that can stand on the right-hand side of a filter.
///
/// Implemented for strings, integers, floats, booleans and chrono dates/times; timestamps are written as
/// RFC 3339 with their offset (`2021-01-01T00:00:00+00:00`), which Postgres reads unambiguously.
pub trait FilterValue {
    /// The value as PostgREST should read it (before URL encoding).
    fn to_filter_value(&self) -> String;
}

impl<T: FilterValue + ?Sized> FilterValue for &T {
    fn to_filter_value(&self) -> String {
        (**self).to_filter_value()
    }
}
impl FilterValue for str {
    fn to_filter_value(&self) -> String {
        self.to_string()
    }
}
impl FilterValue for String {
    fn to_filter_value(&self) -> String {
        self.clone()
    }
}
macro_rules! display_value {
    ($($t:ty),*) => {$(
        impl FilterValue for $t {
            fn to_filter_value(&self) -> String { self.to_string() }
        }
    )*};
}
display_value!(
    i16,
    i32,
    i64,
    u16,
    u32,
    u64,
    usize,
    f32,
    f64,
    bool,
    chrono::NaiveDate
);
impl<Tz: chrono::TimeZone> FilterValue for chrono::DateTime<Tz>
where
    Tz::Offset: std::fmt::Display,
{
    fn to_filter_value(&self) -> String {
        self.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
    }
}
impl FilterValue for serde_json::Value {
    fn to_filter_value(&self) -> String {
        match self {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// Operand of the `is` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsValue {
    /// `is.null`
    Null,
    /// `is.true`
    True,
    /// `is.false`
    False,
    /// `is.unknown`
    Unknown,
}

impl IsValue {
    fn as_str(self) -> &'static str {
        match self {
            IsValue::Null => "null",
            IsValue::True => "true",
            IsValue::False => "false",
            IsValue::Unknown => "unknown",
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Op(&'static str, String),
    In(Vec<String>),
    Is(IsValue),
}

/// Select, filters, order, limit and offset for one table or view.
///
/// ```
/// use pgrest_client::Query;
/// let q = Query::new().select("id,record").eq("app_id", "x&app_id=eq.other").order_asc("id").limit(10);
/// assert_eq!(
///     q.to_query_string(),
///     "select=id%2Crecord&app_id=eq.x%26app_id%3Deq.other&order=id.asc&limit=10"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    select: Option<String>,
    filters: Vec<(String, Filter)>,
    order: Vec<(String, Direction)>,
    limit: Option<u64>,
    offset: Option<u64>,
}

impl Query {
    /// An empty query: every column, every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Columns to return, in PostgREST's `select` syntax (`id,record`, `*`).
    pub fn select(mut self, columns: impl Into<String>) -> Self {
        self.select = Some(columns.into());
        self
    }

    fn op(mut self, column: &str, op: &'static str, value: impl FilterValue) -> Self {
        self.filters
            .push((column.to_string(), Filter::Op(op, value.to_filter_value())));
        self
    }

    /// `column = value`
    pub fn eq(self, column: &str, value: impl FilterValue) -> Self {
        self.op(column, "eq", value)
    }
    /// `column <> value`
    pub fn neq(self, column: &str, value: impl FilterValue) -> Self {
        self.op(column, "neq", value)
    }
    /// `column > value`
    pub fn gt(self, column: &str, value: impl FilterValue) -> Self {
        self.op(column, "gt", value)
    }
    /// `column >= value`
    pub fn gte(self, column: &str, value: impl FilterValue) -> Self {
        self.op(column, "gte", value)
    }
    /// `column < value`
    pub fn lt(self, column: &str, value: impl FilterValue) -> Self {
        self.op(column, "lt", value)
    }
    /// `column <= value`
    pub fn lte(self, column: &str, value: impl FilterValue) -> Self {
        self.op(column, "lte", value)
    }
    /// `column LIKE pattern`, where `*` stands for SQL's `%` (PostgREST's convention).
    pub fn like(self, column: &str, pattern: impl FilterValue) -> Self {
        self.op(column, "like", pattern)
    }
    /// `column IN (values…)`; each value is quoted, so commas and parentheses inside values are safe.
    pub fn in_<V: FilterValue>(
        mut self,
        column: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values = values.into_iter().map(|v| v.to_filter_value()).collect();
        self.filters.push((column.to_string(), Filter::In(values)));
        self
    }
    /// `column IS NULL/TRUE/FALSE/UNKNOWN`
    pub fn is(mut self, column: &str, value: IsValue) -> Self {
        self.filters.push((column.to_string(), Filter::Is(value)));
        self
    }
    /// Adds a sort key (keys apply in the order they are added).
    pub fn order(mut self, column: &str, direction: Direction) -> Self {
        self.order.push((column.to_string(), direction));
        self
    }
    /// Adds an ascending sort key.
    pub fn order_asc(self, column: &str) -> Self {
        self.order(column, Direction::Asc)
    }
    /// Adds a descending sort key.
    pub fn order_desc(self, column: &str) -> Self {
        self.order(column, Direction::Desc)
    }
    /// At most `n` rows (the server's `db-max-rows` may still return fewer).
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }
    /// Skip the first `n` rows. Prefer keyset paging ([`crate::Keyset`]) for reading many rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Whether any row filter is set; updates and deletes refuse to run without one.
    pub fn has_filters(&self) -> bool {
        !self.filters.is_empty()
    }

    pub(crate) fn has_paging(&self) -> bool {
        !self.order.is_empty() || self.limit.is_some() || self.offset.is_some()
    }

    pub(crate) fn selected(&self) -> Option<&str> {
        self.select.as_deref()
    }

    /// The encoded query string (without `?`), exactly as sent.
    pub fn to_query_string(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(s) = &self.select {
            parts.push(format!("select={}", encode(s)));
        }
        for (col, f) in &self.filters {
            let rhs = match f {
                Filter::Op(op, v) => format!("{op}.{}", encode(v)),
                Filter::Is(v) => format!("is.{}", v.as_str()),
                Filter::In(vs) => {
                    let items: Vec<String> = vs.iter().map(|v| encode(&quote(v))).collect();
                    format!("in.({})", items.join(","))
                }
            };
            parts.push(format!("{}={rhs}", encode(col)));
        }
        if !self.order.is_empty() {
            let keys: Vec<String> = self
                .order
                .iter()
                .map(|(c, d)| {
                    format!(
                        "{}.{}",
                        encode(c),
                        if *d == Direction::Asc { "asc" } else { "desc" }
                    )
                })
                .collect();
            parts.push(format!("order={}", keys.join(",")));
        }
        if let Some(n) = self.limit {
            parts.push(format!("limit={n}"));
        }
        if let Some(n) = self.offset {
            parts.push(format!("offset={n}"));
        }
        parts.join("&")
    }
}

/// Double-quotes an `in` list item, escaping `"` and `\` the way PostgREST's list parser expects.
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
