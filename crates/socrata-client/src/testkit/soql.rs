//! The part of SoQL's `$where` the fake evaluates, as Socrata reads it
//! (<https://dev.socrata.com/docs/queries/where.html>): comparisons (`=`, `!=`, `<>`, `<`, `<=`,
//! `>`, `>=`) of a field with a literal, spaces optional (`id='1'`); `IN (...)` and `NOT IN`;
//! `IS NULL` and `IS NOT NULL`; `AND`, `OR`, `NOT` and parentheses; keywords in any case. A
//! number column compares as numbers, the rest as text.

use std::cmp::Ordering;

use serde_json::Value;

use crate::Row;

/// A parsed `$where`.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    Cmp(String, String, Literal),
    In(String, Vec<Literal>, bool),
    Null(String, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A literal: `'text'` or a number (kept as written).
#[derive(Debug, Clone)]
pub(super) enum Literal {
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    Op(String),
    Open,
    Close,
    Comma,
}

fn tokens(s: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = s.chars().collect();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
                i += 1;
            }
            '\'' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => break,
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Token::Text(text));
            }
            '`' => {
                let end = chars[i + 1..].iter().position(|&ch| ch == '`');
                let end = end.ok_or("unterminated `identifier`")? + i + 1;
                out.push(Token::Word(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            '=' | '!' | '<' | '>' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = if ["!=", "<>", "<=", ">="].contains(&two.as_str()) {
                    two
                } else {
                    c.to_string()
                };
                i += op.len();
                out.push(Token::Op(op));
            }
            _ if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while chars
                    .get(i)
                    .is_some_and(|ch| ch.is_ascii_digit() || *ch == '.')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                out.push(Token::Number(
                    text.parse().map_err(|_| format!("bad number {text}"))?,
                ));
            }
            _ if c.is_alphanumeric() || c == '_' || c == ':' || c == '@' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|ch| ch.is_alphanumeric() || matches!(ch, '_' | ':' | '@'))
                {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

/// Parses a `$where`; the error says where it stopped making sense.
pub(super) fn parse(s: &str) -> Result<Expr, String> {
    let tokens = tokens(s)?;
    let mut p = Parser { tokens, at: 0 };
    let expr = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(expr),
        Some(t) => Err(format!("unexpected {t:?} after a complete condition")),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn keyword(&mut self, word: &str) -> bool {
        let hit = matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
        self.at += usize::from(hit);
        hit
    }

    fn next(&mut self) -> Result<Token, String> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("the condition ends too early")?;
        self.at += 1;
        Ok(t)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            return match self.next()? {
                Token::Close => Ok(inner),
                t => Err(format!("expected `)`, got {t:?}")),
            };
        }
        let Token::Word(field) = self.next()? else {
            return Err("expected a field name".into());
        };
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            return if self.keyword("NULL") {
                Ok(Expr::Null(field, negated))
            } else {
                Err("expected NULL after IS".into())
            };
        }
        let negated = self.keyword("NOT");
        if self.keyword("IN") {
            if self.next()? != Token::Open {
                return Err("expected `(` after IN".into());
            }
            let mut items = vec![self.literal()?];
            loop {
                match self.next()? {
                    Token::Comma => items.push(self.literal()?),
                    Token::Close => return Ok(Expr::In(field, items, negated)),
                    t => return Err(format!("expected `,` or `)` in IN (...), got {t:?}")),
                }
            }
        }
        if negated {
            return Err("expected IN after NOT".into());
        }
        match self.next()? {
            Token::Op(op) => Ok(Expr::Cmp(field, op, self.literal()?)),
            t => Err(format!("expected an operator after {field}, got {t:?}")),
        }
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next()? {
            Token::Text(t) => Ok(Literal::Text(t)),
            Token::Number(n) => Ok(Literal::Number(n)),
            t => Err(format!("expected a literal, got {t:?}")),
        }
    }
}

/// `value` against `literal`: as numbers when the literal is a number, or the value is a
/// number and the literal reads as one (SODA keeps a number column as numbers and sends them
/// as text); as text otherwise. `None` for a missing value, or text against a number.
fn compare(value: Option<&Value>, literal: &Literal) -> Option<Ordering> {
    let value = value.filter(|v| !v.is_null())?;
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match literal {
        Literal::Number(n) => number?.partial_cmp(n),
        Literal::Text(t) => match (value, t.trim().parse::<f64>()) {
            (Value::Number(_), Ok(n)) => number?.partial_cmp(&n),
            (Value::String(s), _) => Some(s.as_str().cmp(t)),
            (other, _) => Some(other.to_string().as_str().cmp(t)),
        },
    }
}

/// Whether `row` satisfies `expr` (a comparison with a missing value is false, as in SQL).
pub(super) fn matches(expr: &Expr, row: &Row) -> bool {
    match expr {
        Expr::Cmp(field, op, lit) => {
            compare(row.get(field), lit).is_some_and(|o| match op.as_str() {
                "=" => o == Ordering::Equal,
                "!=" | "<>" => o != Ordering::Equal,
                "<" => o == Ordering::Less,
                "<=" => o != Ordering::Greater,
                ">" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
        Expr::In(field, items, negated) => {
            let value = row.get(field).filter(|v| !v.is_null());
            value.is_some()
                && items
                    .iter()
                    .any(|l| compare(value, l) == Some(Ordering::Equal))
                    != *negated
        }
        Expr::Null(field, negated) => row.get(field).is_none_or(Value::is_null) != *negated,
        Expr::And(a, b) => matches(a, row) && matches(b, row),
        Expr::Or(a, b) => matches(a, row) || matches(b, row),
        Expr::Not(e) => !matches(e, row),
    }
}
