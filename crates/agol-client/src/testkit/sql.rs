//! The small subset of ArcGIS SQL the fake understands: `1=1`, `field = literal`,
//! `field <> literal`, `field IN (literal, ...)`, `field > number` (and `>=`, `<`, `<=`), joined
//! by `AND`, each optionally in parentheses.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            '=' | '<' | '>' | '!' => {
                let mut op = c.to_string();
                if let Some(n @ ('=' | '>')) = chars.get(i + 1) {
                    op.push(*n);
                    i += 1;
                }
                out.push(Tok::Op(op));
                i += 1;
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                out.push(Tok::Num(
                    text.parse().map_err(|_| format!("bad number {text}"))?,
                ));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Cond {
    True,
    Cmp {
        field: String,
        negate: bool,
        values: Vec<Value>,
    },
    /// `field > n` and the like: `op` is one of `>`, `>=`, `<`, `<=`.
    Range {
        field: String,
        op: String,
        value: f64,
    },
}

/// A parsed `where` clause.
#[derive(Debug, Clone)]
pub(crate) struct Where(Vec<Cond>);

fn literal(t: Option<&Tok>) -> Result<Value, String> {
    match t {
        Some(Tok::Str(s)) => Ok(Value::String(s.clone())),
        Some(Tok::Num(n)) => Ok(serde_json::json!(n)),
        other => Err(format!("expected a literal, got {other:?}")),
    }
}

impl Where {
    pub(crate) fn parse(s: &str) -> Result<Where, String> {
        let toks = tokenize(s)?;
        let mut conds = Vec::new();
        let mut i = 0;
        // Only AND joins conditions, so parentheses around them change nothing: skipped.
        let mut open = 0usize;
        loop {
            while toks.get(i) == Some(&Tok::LParen) {
                open += 1;
                i += 1;
            }
            match (toks.get(i), toks.get(i + 1), toks.get(i + 2)) {
                (Some(Tok::Num(a)), Some(Tok::Op(op)), Some(Tok::Num(b))) if op == "=" => {
                    if a != b {
                        return Err("only 1=1 is supported as a constant condition".into());
                    }
                    conds.push(Cond::True);
                    i += 3;
                }
                (Some(Tok::Ident(f)), Some(Tok::Op(op)), Some(Tok::Num(n)))
                    if matches!(op.as_str(), ">" | ">=" | "<" | "<=") =>
                {
                    conds.push(Cond::Range {
                        field: f.clone(),
                        op: op.clone(),
                        value: *n,
                    });
                    i += 3;
                }
                (Some(Tok::Ident(f)), Some(Tok::Op(op)), _) => {
                    let negate = match op.as_str() {
                        "=" => false,
                        "<>" | "!=" => true,
                        other => return Err(format!("operator {other} not supported by the fake")),
                    };
                    conds.push(Cond::Cmp {
                        field: f.clone(),
                        negate,
                        values: vec![literal(toks.get(i + 2))?],
                    });
                    i += 3;
                }
                (Some(Tok::Ident(f)), Some(Tok::Ident(kw)), Some(Tok::LParen))
                    if kw.eq_ignore_ascii_case("in") =>
                {
                    let mut values = Vec::new();
                    i += 3;
                    loop {
                        values.push(literal(toks.get(i))?);
                        i += 1;
                        match toks.get(i) {
                            Some(Tok::Comma) => i += 1,
                            Some(Tok::RParen) => {
                                i += 1;
                                break;
                            }
                            other => return Err(format!("expected , or ) got {other:?}")),
                        }
                    }
                    conds.push(Cond::Cmp {
                        field: f.clone(),
                        negate: false,
                        values,
                    });
                }
                other => return Err(format!("cannot parse condition at {other:?}")),
            }
            while open > 0 && toks.get(i) == Some(&Tok::RParen) {
                open -= 1;
                i += 1;
            }
            match toks.get(i) {
                None if open == 0 => break,
                None => return Err("unbalanced parentheses".into()),
                Some(Tok::Ident(kw)) if kw.eq_ignore_ascii_case("and") => i += 1,
                Some(other) => return Err(format!("expected AND, got {other:?}")),
            }
        }
        Ok(Where(conds))
    }

    /// A condition every match must meet that an index on its field can answer:
    /// `field = x` or `field IN (...)`, as `(field, values)`.
    pub(crate) fn indexable(&self) -> Option<(&str, &[Value])> {
        self.0.iter().find_map(|c| match c {
            Cond::Cmp {
                field,
                negate: false,
                values,
            } => Some((field.as_str(), values.as_slice())),
            _ => None,
        })
    }

    /// Whether every feature matches (`1=1`).
    pub(crate) fn is_always_true(&self) -> bool {
        self.0.iter().all(|c| matches!(c, Cond::True))
    }

    pub(crate) fn matches(&self, attributes: &Map<String, Value>) -> bool {
        self.0.iter().all(|c| match c {
            Cond::True => true,
            Cond::Cmp {
                field,
                negate,
                values,
            } => {
                let actual = attributes
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(field))
                    .map(|(_, v)| v);
                let hit = actual.is_some_and(|a| values.iter().any(|v| same(a, v)));
                hit != *negate
            }
            Cond::Range { field, op, value } => {
                let actual = attributes
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(field))
                    .and_then(|(_, v)| v.as_f64());
                actual.is_some_and(|a| match op.as_str() {
                    ">" => a > *value,
                    ">=" => a >= *value,
                    "<" => a < *value,
                    _ => a <= *value,
                })
            }
        })
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parses_the_clauses_the_pipeline_sends() {
        let a = attrs(json!({"id": "a'b", "n": 3, "t": "x"}));
        assert!(Where::parse("1=1").unwrap().matches(&a));
        assert!(Where::parse("id = 'a''b'").unwrap().matches(&a));
        assert!(!Where::parse("id = 'ab'").unwrap().matches(&a));
        assert!(Where::parse("id IN ('z','a''b')").unwrap().matches(&a));
        assert!(!Where::parse("id in ('z')").unwrap().matches(&a));
        assert!(Where::parse("n = 3 AND t <> 'y'").unwrap().matches(&a));
        assert!(Where::parse("(n = 3) AND (n > 2)").unwrap().matches(&a));
        assert!(Where::parse("n >= 3 AND n <= 3").unwrap().matches(&a));
        assert!(!Where::parse("(id IN ('z')) AND (n > 3)")
            .unwrap()
            .matches(&a));
        assert!(!Where::parse("n < 3").unwrap().matches(&a));
        assert!(Where::parse("(n = 3").is_err());
        assert!(Where::parse("id LIKE 'a%'").is_err());
    }
}
