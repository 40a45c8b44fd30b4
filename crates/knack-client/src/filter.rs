//! A typed builder for Knack's filter JSON (the `filters` query parameter).

use chrono::{DateTime, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

/// How the rules of a [`Filter`] combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Every rule must hold.
    And,
    /// One rule is enough.
    Or,
}

/// A filter: `{"match": "and"|"or", "rules": [...]}`.
///
/// ```
/// use knack_client::{Filter, Operator, Rule};
/// let f = Filter::and([
///     Rule::new("field_1", Operator::Is, "Dodgit"),
///     Rule::blank("field_2", Operator::IsNotBlank),
/// ]);
/// assert_eq!(
///     f.to_json_string(),
///     r#"{"match":"and","rules":[{"field":"field_1","operator":"is","value":"Dodgit"},{"field":"field_2","operator":"is not blank"}]}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    #[serde(rename = "match")]
    match_: Match,
    rules: Vec<Rule>,
}

impl Filter {
    /// Records matching every rule.
    pub fn and(rules: impl IntoIterator<Item = Rule>) -> Self {
        Self {
            match_: Match::And,
            rules: rules.into_iter().collect(),
        }
    }

    /// Records matching at least one rule.
    pub fn or(rules: impl IntoIterator<Item = Rule>) -> Self {
        Self {
            match_: Match::Or,
            rules: rules.into_iter().collect(),
        }
    }

    /// How the rules combine.
    pub fn match_mode(&self) -> Match {
        self.match_
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Records of a date_time field modified on or after the local calendar
    /// day that contains `instant` in the app's timezone `tz`: rules `is` OR
    /// `is after`, with the day as `MM/DD/YYYY`.
    ///
    /// Why a whole day: Knack compares date_time fields by calendar day in
    /// the app's timezone and cannot filter by time of day (the original's
    /// docstring said so too), so "after 14:05" cannot be expressed. Taking
    /// the whole day containing the instant never misses a record; the price
    /// is re-reading the records of that day, which the upsert downstream
    /// absorbs. The day is computed in `tz` because an instant late in the UTC
    /// evening is still "yesterday" in Austin: using the UTC date would skip
    /// records modified that local evening.
    pub fn modified_since(
        field_key: impl Into<String>,
        instant: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Self {
        let field = field_key.into();
        let day = instant.with_timezone(&tz).date_naive();
        Self::or([
            Rule::date(field.clone(), Operator::Is, day),
            Rule::date(field, Operator::IsAfter, day),
        ])
    }

    /// The JSON text Knack expects in the `filters` query parameter (the
    /// HTTP layer URL-encodes it).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("a filter always serializes")
    }
}

/// A rule operator. [`Operator::Other`] passes any operator Knack knows
/// that this list lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operator {
    /// `is`
    Is,
    /// `is not`
    IsNot,
    /// `contains`
    Contains,
    /// `does not contain`
    DoesNotContain,
    /// `starts with`
    StartsWith,
    /// `ends with`
    EndsWith,
    /// `is blank` (takes no value)
    IsBlank,
    /// `is not blank` (takes no value)
    IsNotBlank,
    /// `higher than`
    HigherThan,
    /// `lower than`
    LowerThan,
    /// `is before`
    IsBefore,
    /// `is after`
    IsAfter,
    /// `is today` (takes no value)
    IsToday,
    /// `is during the current` (relative: takes a unit)
    IsDuringTheCurrent,
    /// `is during the previous` (relative: range and unit)
    IsDuringThePrevious,
    /// `is during the next` (relative: range and unit)
    IsDuringTheNext,
    /// `is before the previous` (relative: range and unit)
    IsBeforeThePrevious,
    /// `is after the next` (relative: range and unit)
    IsAfterTheNext,
    /// Any other operator, sent as written.
    Other(String),
}

impl Operator {
    /// The operator as Knack spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Is => "is",
            Self::IsNot => "is not",
            Self::Contains => "contains",
            Self::DoesNotContain => "does not contain",
            Self::StartsWith => "starts with",
            Self::EndsWith => "ends with",
            Self::IsBlank => "is blank",
            Self::IsNotBlank => "is not blank",
            Self::HigherThan => "higher than",
            Self::LowerThan => "lower than",
            Self::IsBefore => "is before",
            Self::IsAfter => "is after",
            Self::IsToday => "is today",
            Self::IsDuringTheCurrent => "is during the current",
            Self::IsDuringThePrevious => "is during the previous",
            Self::IsDuringTheNext => "is during the next",
            Self::IsBeforeThePrevious => "is before the previous",
            Self::IsAfterTheNext => "is after the next",
            Self::Other(s) => s,
        }
    }
}

/// The unit of a relative date rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RelativeUnit {
    /// `days`
    Days,
    /// `weeks`
    Weeks,
    /// `months`
    Months,
    /// `years`
    Years,
    /// `rolling years`
    #[serde(rename = "rolling years")]
    RollingYears,
    /// `week` (with `is during the current`)
    Week,
    /// `month` (with `is during the current`)
    Month,
    /// `quarter` (with `is during the current`)
    Quarter,
    /// `year` (with `is during the current`)
    Year,
}

/// One rule: `{"field", "operator", "value"?, "range"?, "type"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    field: String,
    operator: Operator,
    value: Option<Value>,
    range: Option<u32>,
    unit: Option<RelativeUnit>,
}

impl Rule {
    /// A rule comparing `field` with `value`.
    pub fn new(field: impl Into<String>, operator: Operator, value: impl Into<Value>) -> Self {
        Self {
            field: field.into(),
            operator,
            value: Some(value.into()),
            range: None,
            unit: None,
        }
    }

    /// A rule comparing a date_time `field` with a calendar day, sent as Knack writes dates in
    /// filters, `MM/DD/YYYY` (so no caller formats it by hand). Knack compares by whole day in
    /// the app's timezone (see [`Filter::modified_since`]).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use knack_client::{Operator, Rule};
    /// let rule = Rule::date("field_12", Operator::IsAfter, NaiveDate::from_ymd_opt(2024, 3, 7).unwrap());
    /// assert_eq!(rule.value(), Some(&serde_json::json!("03/07/2024")));
    /// ```
    pub fn date(field: impl Into<String>, operator: Operator, day: chrono::NaiveDate) -> Self {
        Self::new(field, operator, day.format("%m/%d/%Y").to_string())
    }

    /// A rule that takes no value (`is blank`, `is not blank`, `is today`):
    /// Knack wants the `value` key left out, not null.
    pub fn blank(field: impl Into<String>, operator: Operator) -> Self {
        Self {
            field: field.into(),
            operator,
            value: None,
            range: None,
            unit: None,
        }
    }

    /// A relative date rule, such as "is during the previous 3 months".
    /// `range` is left out for `is during the current`, which takes only a unit.
    pub fn relative(
        field: impl Into<String>,
        operator: Operator,
        range: Option<u32>,
        unit: RelativeUnit,
    ) -> Self {
        Self {
            field: field.into(),
            operator,
            value: None,
            range,
            unit: Some(unit),
        }
    }

    /// The field key.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The operator.
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// The value compared with, if the operator takes one.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("field", &self.field)?;
        m.serialize_entry("operator", self.operator.as_str())?;
        if let Some(v) = &self.value {
            m.serialize_entry("value", v)?;
        }
        if let Some(r) = self.range {
            m.serialize_entry("range", &r)?;
        }
        if let Some(u) = &self.unit {
            m.serialize_entry("type", u)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::Chicago;
    use serde_json::json;

    fn day_of(f: &Filter) -> &str {
        f.rules()[0].value().unwrap().as_str().unwrap()
    }

    #[test]
    fn modified_since_uses_the_local_day_across_dst() {
        let cases = [
            // Spring forward 2026-03-08 02:00 CST: 05:30Z is 23:30 CST the day before.
            ((2026, 3, 8, 5, 30), "03/07/2026"),
            // 08:30Z is 03:30 CDT, after the switch: same day.
            ((2026, 3, 8, 8, 30), "03/08/2026"),
            // Local midnight exactly is that day.
            ((2026, 3, 8, 6, 0), "03/08/2026"),
            ((2026, 3, 8, 5, 59), "03/07/2026"),
            // Fall back 2026-11-01 02:00 CDT: 04:59Z is 23:59 CDT on Oct 31.
            ((2026, 11, 1, 4, 59), "10/31/2026"),
            ((2026, 11, 1, 5, 0), "11/01/2026"),
            // 07:30Z is 01:30 CST (the repeated hour, second pass): still Nov 1.
            ((2026, 11, 1, 7, 30), "11/01/2026"),
            // New year in UTC, still the old year in Chicago.
            ((2027, 1, 1, 3, 0), "12/31/2026"),
        ];
        for ((y, mo, d, h, mi), want) in cases {
            let at = Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
            let f = Filter::modified_since("field_9", at, Chicago);
            assert_eq!(day_of(&f), want, "instant {at}");
        }
    }

    #[test]
    fn modified_since_is_is_or_is_after() {
        let at = Utc.with_ymd_and_hms(2026, 3, 8, 5, 30, 0).unwrap();
        let f = Filter::modified_since("field_9", at, Chicago);
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"match": "or", "rules": [
                {"field": "field_9", "operator": "is", "value": "03/07/2026"},
                {"field": "field_9", "operator": "is after", "value": "03/07/2026"},
            ]})
        );
    }

    #[test]
    fn relative_and_valueless_rules_serialize_like_knacks_docs() {
        let f = Filter::and([
            Rule::relative(
                "field_3",
                Operator::IsDuringThePrevious,
                Some(3),
                RelativeUnit::Months,
            ),
            Rule::relative(
                "field_3",
                Operator::IsDuringTheCurrent,
                None,
                RelativeUnit::Quarter,
            ),
            Rule::blank("field_4", Operator::IsToday),
            Rule::new("field_5", Operator::HigherThan, 10),
            Rule::new(
                "field_6",
                Operator::Other("is any".into()),
                json!(["a", "b"]),
            ),
        ]);
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"match": "and", "rules": [
                {"field": "field_3", "operator": "is during the previous", "range": 3, "type": "months"},
                {"field": "field_3", "operator": "is during the current", "type": "quarter"},
                {"field": "field_4", "operator": "is today"},
                {"field": "field_5", "operator": "higher than", "value": 10},
                {"field": "field_6", "operator": "is any", "value": ["a", "b"]},
            ]})
        );
    }
}
