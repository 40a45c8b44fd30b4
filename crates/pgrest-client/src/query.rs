//! Building PostgREST query strings so that no value can change the query's shape.
//!
//! Every value and column name is percent-encoded byte by byte (only `A-Z a-z 0-9 - . _ ~` stay as they
//! are), so `&`, `=`, `#` and `+` in a value can never start a new parameter or turn into a space: a
//! timestamp offset `+00:00` is sent as `%2B00:00`. Inside `in.(…)` lists every item is also wrapped in
//! double quotes with `"` and `\` backslash-escaped, because commas and parentheses structure the list.
//!
//! Column names get the same care: a name holding a character PostgREST reads as syntax (`.` `,` `:`
//! `(` `)` `"`, or whitespace), or equal to a reserved parameter (`select`, `order`, `limit`,
//! `offset`, `or`, `and`, `not`, `on_conflict`, `columns`), is double-quoted, as PostgREST's URL
//! grammar asks (<https://docs.postgrest.org/en/v12/references/api/url_grammar.html#reserved-characters>).
//! Unquoted, `order=gt.1` would be read as a sort and `a.b=eq.1` as an embedded resource.

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

/// One test of one column, for [`Query::filter`], [`Query::not`] and [`Query::or`]; built like
/// the query's own filters (`Condition::eq("lanes", 4)`), negated with `!` (`std::ops::Not`).
///
/// ```
/// use pgrest_client::{Condition, IsValue, Query};
/// let q = Query::new()
///     .or([Condition::lt("lanes", 2), Condition::is("lanes", IsValue::Null)])
///     .not(Condition::eq("status", "retired"));
/// assert_eq!(
///     q.to_query_string(),
///     "or=(lanes.lt.%222%22,lanes.is.null)&status=not.eq.retired"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    column: String,
    negated: bool,
    filter: Filter,
}

impl Condition {
    fn op(column: &str, op: &'static str, value: impl FilterValue) -> Self {
        Self::of(column, Filter::Op(op, value.to_filter_value()))
    }
    fn of(column: &str, filter: Filter) -> Self {
        Self {
            column: column.to_string(),
            negated: false,
            filter,
        }
    }
    /// `column = value`
    pub fn eq(column: &str, value: impl FilterValue) -> Self {
        Self::op(column, "eq", value)
    }
    /// `column <> value`
    pub fn neq(column: &str, value: impl FilterValue) -> Self {
        Self::op(column, "neq", value)
    }
    /// `column > value`
    pub fn gt(column: &str, value: impl FilterValue) -> Self {
        Self::op(column, "gt", value)
    }
    /// `column >= value`
    pub fn gte(column: &str, value: impl FilterValue) -> Self {
        Self::op(column, "gte", value)
    }
    /// `column < value`
    pub fn lt(column: &str, value: impl FilterValue) -> Self {
        Self::op(column, "lt", value)
    }
    /// `column <= value`
    pub fn lte(column: &str, value: impl FilterValue) -> Self {
        Self::op(column, "lte", value)
    }
    /// `column LIKE pattern` (`*` for SQL's `%`).
    pub fn like(column: &str, pattern: impl FilterValue) -> Self {
        Self::op(column, "like", pattern)
    }
    /// `column IN (values…)`.
    pub fn in_<V: FilterValue>(column: &str, values: impl IntoIterator<Item = V>) -> Self {
        let values = values.into_iter().map(|v| v.to_filter_value()).collect();
        Self::of(column, Filter::In(values))
    }
    /// `column IS NULL/TRUE/FALSE/UNKNOWN`
    pub fn is(column: &str, value: IsValue) -> Self {
        Self::of(column, Filter::Is(value))
    }

    /// `key=value` as a parameter of its own (ANDed with the others).
    fn parameter(&self) -> String {
        format!("{}={}", encode(&column(&self.column)), self.test(false))
    }

    /// `column.op.value` inside a logic tree.
    fn in_tree(&self) -> String {
        format!("{}.{}", encode(&column(&self.column)), self.test(true))
    }

    /// `[not.]op.value`. In a logic tree `,` `.` `:` and parentheses are syntax, so every value
    /// is double-quoted there, as PostgREST's grammar asks
    /// (<https://docs.postgrest.org/en/v12/references/api/tables_views.html#logical-operators>).
    fn test(&self, in_tree: bool) -> String {
        let value = |v: &str| {
            if in_tree {
                encode(&quote(v))
            } else {
                encode(v)
            }
        };
        let rhs = match &self.filter {
            Filter::Op(op, v) => format!("{op}.{}", value(v)),
            Filter::Is(v) => format!("is.{}", v.as_str()),
            Filter::In(vs) => {
                let items: Vec<String> = vs.iter().map(|v| encode(&quote(v))).collect();
                format!("in.({})", items.join(","))
            }
        };
        let not = if self.negated { "not." } else { "" };
        format!("{not}{rhs}")
    }
}

/// `!condition`: the opposite test, PostgREST's `not.` prefix (`status=not.eq.retired`).
impl std::ops::Not for Condition {
    type Output = Condition;

    fn not(mut self) -> Condition {
        self.negated = !self.negated;
        self
    }
}

/// A row test: one condition, or conditions any of which may hold (`or=(…)`).
#[derive(Debug, Clone, PartialEq)]
enum Part {
    One(Condition),
    Or(Vec<Condition>),
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
    filters: Vec<Part>,
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

    fn op(self, column: &str, op: &'static str, value: impl FilterValue) -> Self {
        self.filter(Condition::op(column, op, value))
    }

    /// Adds a condition (ANDed with the others), such as a negated one.
    pub fn filter(mut self, condition: Condition) -> Self {
        self.filters.push(Part::One(condition));
        self
    }

    /// Rows where `condition` does not hold: `column=not.op.value`.
    pub fn not(self, condition: Condition) -> Self {
        self.filter(!condition)
    }

    /// Rows where any of `conditions` holds: PostgREST's `or=(a.lt.2,a.is.null)`, ANDed with
    /// the other filters. An empty list adds nothing.
    pub fn or(mut self, conditions: impl IntoIterator<Item = Condition>) -> Self {
        let conditions: Vec<Condition> = conditions.into_iter().collect();
        if !conditions.is_empty() {
            self.filters.push(Part::Or(conditions));
        }
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
    pub fn in_<V: FilterValue>(self, column: &str, values: impl IntoIterator<Item = V>) -> Self {
        self.filter(Condition::in_(column, values))
    }
    /// `column IS NULL/TRUE/FALSE/UNKNOWN`
    pub fn is(self, column: &str, value: IsValue) -> Self {
        self.filter(Condition::is(column, value))
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
        for part in &self.filters {
            parts.push(match part {
                Part::One(condition) => condition.parameter(),
                Part::Or(any) => {
                    let items: Vec<String> = any.iter().map(Condition::in_tree).collect();
                    format!("or=({})", items.join(","))
                }
            });
        }
        if !self.order.is_empty() {
            let keys: Vec<String> = self
                .order
                .iter()
                .map(|(c, d)| {
                    format!(
                        "{}.{}",
                        encode(&column(c)),
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

/// Parameter names PostgREST reserves; a column so named must be quoted to be filtered on.
const RESERVED: &[&str] = &[
    "select",
    "order",
    "limit",
    "offset",
    "or",
    "and",
    "not",
    "on_conflict",
    "columns",
];

/// A column name as a filter key or sort key: quoted when PostgREST would otherwise read it as
/// syntax or as a reserved parameter, as is otherwise (so ordinary queries look as they always did).
fn column(name: &str) -> String {
    let syntax = name
        .chars()
        .any(|c| matches!(c, '.' | ',' | ':' | '(' | ')' | '"') || c.is_whitespace());
    if syntax || RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        quote(name)
    } else {
        name.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_columns_are_sent_as_they_are() {
        let q = Query::new()
            .eq("app_id", "a")
            .gte("updated_at", "t")
            .order_asc("id");
        assert_eq!(
            q.to_query_string(),
            "app_id=eq.a&updated_at=gte.t&order=id.asc"
        );
    }

    /// A column named like a reserved parameter must not become that parameter: unquoted,
    /// `order=gt.1` is a sort, `limit=eq.5` a limit and `or=eq.x` a logic tree.
    #[test]
    fn reserved_column_names_are_quoted() {
        for name in [
            "order", "limit", "offset", "select", "or", "and", "not", "Order",
        ] {
            let qs = Query::new().eq(name, "1").to_query_string();
            assert_eq!(qs, format!("%22{name}%22=eq.1"));
        }
        assert_eq!(
            Query::new().order_desc("order").to_query_string(),
            "order=%22order%22.desc"
        );
    }

    /// `.` would read as an embedded resource, `,` and `()` as list syntax.
    #[test]
    fn columns_with_reserved_characters_are_quoted() {
        assert_eq!(
            Query::new()
                .like("information.cpe", "*MS*")
                .to_query_string(),
            "%22information.cpe%22=like.%2AMS%2A"
        );
        assert_eq!(
            Query::new()
                .eq("a,b", "1")
                .is("f(x)", IsValue::Null)
                .to_query_string(),
            "%22a%2Cb%22=eq.1&%22f%28x%29%22=is.null"
        );
        assert_eq!(
            Query::new().eq("say \"hi\"", "1").to_query_string(),
            "%22say%20%5C%22hi%5C%22%22=eq.1"
        );
    }

    /// Filters are separate parameters, which PostgREST combines with AND; a value holding an
    /// `or` expression stays a value.
    #[test]
    fn every_filter_is_its_own_and_ed_parameter() {
        let q = Query::new()
            .eq("a", "1,or(b.eq.2)")
            .in_("c", ["x", "y"])
            .neq("a", "3");
        assert_eq!(
            q.to_query_string(),
            "a=eq.1%2Cor%28b.eq.2%29&c=in.(%22x%22,%22y%22)&a=neq.3"
        );
    }
}
