//! A small SoQL builder: `$select`, `$where`, `$order`, `$limit`, `$offset`, `$q`.
//!
//! Values are quoted with [`literal`] so that user data cannot change a query's meaning;
//! the whole parameter is then percent-encoded by the URL layer.

/// Quotes a string as a SoQL literal: `O'Brien` → `'O''Brien'` (a quote is escaped by doubling).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Writes a field name for SoQL: plain names (`[a-z0-9_]`, or a system field like `:id`) as is,
/// anything else between backticks.
pub fn ident(field: &str) -> String {
    let plain = !field.is_empty()
        && field
            .strip_prefix(':')
            .unwrap_or(field)
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !field.chars().next().is_some_and(|c| c.is_ascii_digit());
    if plain {
        field.to_string()
    } else {
        format!("`{}`", field.replace('`', ""))
    }
}

/// A SoQL query. Every part is optional; an empty query reads the whole dataset.
///
/// ```
/// use socrata_client::Query;
/// let q = Query::new()
///     .select("id, location_name")
///     .where_eq("signal_type", "PHB")
///     .and_where("lane_count > 2 OR lane_count IS NULL")
///     .order("location_name")
///     .limit(500);
/// // Conditions combined with AND are each parenthesised, so an OR inside one never leaks.
/// assert_eq!(
///     q.where_clause(),
///     Some("(signal_type = 'PHB') AND (lane_count > 2 OR lane_count IS NULL)")
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    select: Option<String>,
    /// Every condition, raw; combined with AND in [`Query::where_clause`].
    conditions: Vec<String>,
    /// The `$where` rendered from `conditions` (kept so `where_clause` can lend it).
    filter: Option<String>,
    order: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
    search: Option<String>,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// `$select`: the columns or expressions to return.
    pub fn select(mut self, select: impl Into<String>) -> Self {
        self.select = Some(select.into());
        self
    }

    /// `$where`: a raw SoQL condition, replacing every earlier one. Quote values with [`literal`].
    pub fn filter(mut self, condition: impl Into<String>) -> Self {
        self.conditions.clear();
        self.push(condition.into())
    }

    /// Adds a raw condition with `AND`. Once two or more conditions are combined, each one (the
    /// earlier ones included) is parenthesised, so an `OR` in any of them cannot bind across the
    /// `AND`: `filter("a = 1 OR b = 2").and_where("c = 3")` is `(a = 1 OR b = 2) AND (c = 3)`.
    pub fn and_where(self, condition: impl AsRef<str>) -> Self {
        self.push(condition.as_ref().to_owned())
    }

    /// Adds `field = 'value'` with `AND` (see [`Query::and_where`]), the value safely quoted.
    pub fn where_eq(self, field: &str, value: &str) -> Self {
        let c = format!("{} = {}", ident(field), literal(value));
        self.push(c)
    }

    fn push(mut self, condition: String) -> Self {
        self.conditions.push(condition);
        self.filter = match self.conditions.as_slice() {
            [] => None,
            [only] => Some(only.clone()),
            all => Some(
                all.iter()
                    .map(|c| format!("({c})"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            ),
        };
        self
    }

    /// Adds `field IN ('a', 'b', …)` with `AND`, every value safely quoted.
    pub fn where_in<I, S>(self, field: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list: Vec<String> = values.into_iter().map(|v| literal(v.as_ref())).collect();
        self.and_where(format!("{} IN ({})", ident(field), list.join(", ")))
    }

    /// `$order`, e.g. `"location_name DESC"`. When paging, `:id` is appended as a tiebreaker
    /// unless the order already mentions it, so pages never skip or repeat rows.
    pub fn order(mut self, order: impl Into<String>) -> Self {
        self.order = Some(order.into());
        self
    }

    /// `$limit`: the most rows to return in total (the stream pages below it).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// `$offset`: rows to skip first.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// `$q`: full-text search.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// The `$where` condition built so far.
    pub fn where_clause(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// The total row limit, if any.
    pub fn total_limit(&self) -> Option<u64> {
        self.limit
    }

    /// The starting offset (0 by default).
    pub fn start_offset(&self) -> u64 {
        self.offset.unwrap_or(0)
    }

    /// The order actually sent: the user's order plus `:id` as tiebreaker, or `:id` alone.
    pub fn effective_order(&self) -> String {
        match self
            .order
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            None => ":id".to_string(),
            Some(o) if o.contains(":id") => o.to_string(),
            Some(o) => format!("{o}, :id"),
        }
    }

    /// The parameters of a count of what this query matches: `$select=count(*)` with its
    /// `$where` and `$q`; its select, order, limit and offset do not change a count.
    pub fn count_params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![("$select", "count(*)".to_string())];
        if let Some(w) = &self.filter {
            p.push(("$where", w.clone()));
        }
        if let Some(q) = &self.search {
            p.push(("$q", q.clone()));
        }
        p
    }

    /// The query parameters of one page (`$order` always present).
    pub fn page_params(&self, limit: u64, offset: u64) -> Vec<(&'static str, String)> {
        let mut p = Vec::with_capacity(6);
        if let Some(s) = &self.select {
            p.push(("$select", s.clone()));
        }
        if let Some(w) = &self.filter {
            p.push(("$where", w.clone()));
        }
        if let Some(q) = &self.search {
            p.push(("$q", q.clone()));
        }
        p.push(("$order", self.effective_order()));
        p.push(("$limit", limit.to_string()));
        p.push(("$offset", offset.to_string()));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_doubles_quotes() {
        assert_eq!(literal("O'Brien"), "'O''Brien'");
        assert_eq!(literal("x' OR 1=1 --"), "'x'' OR 1=1 --'");
    }

    #[test]
    fn ident_backticks_odd_names() {
        assert_eq!(ident("lane_count"), "lane_count");
        assert_eq!(ident(":id"), ":id");
        assert_eq!(ident("two words"), "`two words`");
        assert_eq!(ident("1abc"), "`1abc`");
    }

    #[test]
    fn order_always_has_id() {
        assert_eq!(Query::new().effective_order(), ":id");
        assert_eq!(
            Query::new().order("name DESC").effective_order(),
            "name DESC, :id"
        );
        assert_eq!(Query::new().order(":id DESC").effective_order(), ":id DESC");
        let p = Query::new().select("a").search("x").page_params(10, 20);
        assert_eq!(
            p,
            vec![
                ("$select", "a".to_string()),
                ("$q", "x".into()),
                ("$order", ":id".into()),
                ("$limit", "10".into()),
                ("$offset", "20".into())
            ]
        );
    }

    #[test]
    fn where_in_quotes_each_value() {
        let q = Query::new().where_in("id", ["a", "b'c"]);
        assert_eq!(q.where_clause(), Some("id IN ('a', 'b''c')"));
    }

    /// Every pair of condition builders, in both orders: an OR in either side stays inside its
    /// parentheses, the earlier condition included.
    #[test]
    fn every_and_combination_parenthesises_both_sides() {
        let or = "a = 1 OR b = 2";
        let cases: Vec<(Query, &str)> = vec![
            (
                Query::new().filter(or).where_eq("c", "x"),
                "(a = 1 OR b = 2) AND (c = 'x')",
            ),
            (Query::new().where_eq("c", "x").filter(or), "a = 1 OR b = 2"),
            (
                Query::new().filter(or).and_where("c = 3 OR d = 4"),
                "(a = 1 OR b = 2) AND (c = 3 OR d = 4)",
            ),
            (Query::new().and_where(or).filter("e = 5"), "e = 5"),
            (
                Query::new().filter(or).where_in("id", ["p", "q"]),
                "(a = 1 OR b = 2) AND (id IN ('p', 'q'))",
            ),
            (
                Query::new().where_eq("c", "x").and_where(or),
                "(c = 'x') AND (a = 1 OR b = 2)",
            ),
            (
                Query::new().where_eq("c", "x").where_eq("d", "y"),
                "(c = 'x') AND (d = 'y')",
            ),
            (
                Query::new().where_eq("c", "x").where_in("id", ["p"]),
                "(c = 'x') AND (id IN ('p'))",
            ),
            (
                Query::new().and_where(or).where_eq("c", "x"),
                "(a = 1 OR b = 2) AND (c = 'x')",
            ),
            (
                Query::new().and_where(or).and_where("c = 3"),
                "(a = 1 OR b = 2) AND (c = 3)",
            ),
            (
                Query::new().and_where(or).where_in("id", ["p"]),
                "(a = 1 OR b = 2) AND (id IN ('p'))",
            ),
            (
                Query::new().where_in("id", ["p"]).filter(or),
                "a = 1 OR b = 2",
            ),
            (
                Query::new().where_in("id", ["p"]).where_eq("c", "x"),
                "(id IN ('p')) AND (c = 'x')",
            ),
            (
                Query::new().where_in("id", ["p"]).and_where(or),
                "(id IN ('p')) AND (a = 1 OR b = 2)",
            ),
            (
                Query::new().where_in("id", ["p"]).where_in("k", ["r"]),
                "(id IN ('p')) AND (k IN ('r'))",
            ),
            (
                Query::new().filter(or).filter("e = 5").where_eq("c", "x"),
                "(e = 5) AND (c = 'x')",
            ),
            (
                Query::new()
                    .filter(or)
                    .and_where("c = 3")
                    .and_where("d = 4"),
                "(a = 1 OR b = 2) AND (c = 3) AND (d = 4)",
            ),
        ];
        for (q, want) in cases {
            assert_eq!(q.where_clause(), Some(want));
        }
        assert_eq!(Query::new().where_clause(), None);
        assert_eq!(Query::new().filter(or).where_clause(), Some(or));
    }
}
