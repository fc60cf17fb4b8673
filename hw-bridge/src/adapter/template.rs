//! Home Assistant `value_template`s, the simple kind device firmware announces in its
//! MQTT discovery: `{{ value }}` (the payload as text) or a path into the JSON payload
//! (`{{ value_json.temperature }}`, `{{ value_json.AM2301.Temperature }}`,
//! `{{ value_json['AM2301'].Temperature }}`), followed by any of the filters `| float`,
//! `| int` and `| round(n)`.
//!
//! A template is parsed into that shape once, when the config is read, and never
//! evaluated as Jinja: anything else (arithmetic, conditions, other filters) is refused
//! with the reason, so the mirror only ever reads what it understood.

use serde_json::Value;
use std::fmt;

/// A parsed `value_template`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueTemplate {
    /// The template as written, for configs and messages.
    text: String,
    /// Where the value comes from.
    source: Source,
    /// What is done to it, in order.
    filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// `value`: the payload as text.
    Text,
    /// `value_json` and a path into it (possibly empty: the whole document).
    Json(Vec<Step>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name` or `['name']`.
    Key(String),
    /// `[3]`.
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Filter {
    /// `| float`.
    Float,
    /// `| int`: truncated toward zero, as Jinja's `int` does.
    Int,
    /// `| round(n)` (`| round` is `round(0)`).
    Round(u32),
}

/// Decimal places `round(n)` accepts: more than an f64 holds is a typo.
const MAX_PLACES: u32 = 15;

impl ValueTemplate {
    /// `{{ value }}`: what an entity without a `value_template` reads.
    pub fn payload() -> ValueTemplate {
        ValueTemplate {
            text: "{{ value }}".into(),
            source: Source::Text,
            filters: Vec::new(),
        }
    }

    /// Parse a template, or say why it is not one of the simple forms.
    pub fn parse(text: &str) -> Result<ValueTemplate, String> {
        let inner = text
            .trim()
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .ok_or_else(|| {
                "expected one expression in {{ }}, like {{ value_json.temperature }}".to_string()
            })?;
        if inner.contains("{{") || inner.contains("}}") {
            return Err("expected one expression in {{ }}, not several".into());
        }
        let mut p = Parser { s: inner, at: 0 };
        p.skip_ws();
        let source = match p.ident().as_deref() {
            Some("value") => Source::Text,
            Some("value_json") => Source::Json(p.path()?),
            Some(other) => {
                return Err(format!(
                    "`{other}` is not supported: start with value or value_json"
                ));
            }
            None => return Err("expected value or value_json".into()),
        };
        let mut filters = Vec::new();
        loop {
            p.skip_ws();
            if p.rest().is_empty() {
                break;
            }
            if !p.eat('|') {
                return Err(format!(
                    "unexpected `{}`: only a value, a JSON path and the filters float, int and round(n) are supported",
                    p.rest().trim()
                ));
            }
            p.skip_ws();
            filters.push(p.filter()?);
        }
        Ok(ValueTemplate {
            text: text.to_string(),
            source,
            filters,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it reads the payload as JSON.
    pub fn uses_json(&self) -> bool {
        matches!(self.source, Source::Json(_))
    }

    /// The value for a payload: `text` is the payload, `json` the payload parsed (needed
    /// when [`ValueTemplate::uses_json`]). `Ok(None)` when the path leads nowhere or to
    /// `null` (a sensor that failed its read often leaves its field out); `Err` when a
    /// filter cannot convert what it found.
    pub fn render(&self, text: &str, json: Option<&Value>) -> Result<Option<Value>, String> {
        let mut v = match &self.source {
            Source::Text => Value::String(text.to_string()),
            Source::Json(path) => {
                let Some(mut at) = json else {
                    return Err("the payload is not JSON".into());
                };
                for step in path {
                    let next = match step {
                        Step::Key(k) => at.get(k.as_str()),
                        Step::Index(i) => at.get(*i),
                    };
                    match next {
                        Some(n) => at = n,
                        None => return Ok(None),
                    }
                }
                if at.is_null() {
                    return Ok(None);
                }
                at.clone()
            }
        };
        for f in &self.filters {
            v = match f {
                Filter::Float => Value::from(number(&v)?),
                Filter::Int => {
                    let n = number(&v)?.trunc();
                    // Whole numbers well inside i64's range convert exactly.
                    if n.abs() < 9.0e15 {
                        Value::from(n as i64)
                    } else {
                        Value::from(n)
                    }
                }
                Filter::Round(places) => {
                    let scale = 10f64.powi(i32::try_from(*places).unwrap_or(0));
                    Value::from((number(&v)? * scale).round() / scale)
                }
            };
        }
        Ok(Some(v))
    }
}

impl fmt::Display for ValueTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What `float` makes of a value: numbers, numeric text, and booleans as 1 and 0.
fn number(v: &Value) -> Result<f64, String> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    };
    n.filter(|f| f.is_finite())
        .ok_or_else(|| format!("{} is not a number", short(v)))
}

/// A value for a message, cut at 40 characters.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}…", &s[..s.floor_char_boundary(40)])
    } else {
        s
    }
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    /// A Jinja name: a letter or `_`, then letters, digits and `_`.
    fn ident(&mut self) -> Option<String> {
        let rest = self.rest();
        let first = rest.chars().next()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.at += len;
        Some(rest[..len].to_string())
    }

    /// `.name`, `['name']`, `["name"]` and `[3]`, as many as there are.
    fn path(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        loop {
            if self.eat('.') {
                match self.ident() {
                    Some(k) => steps.push(Step::Key(k)),
                    None => {
                        return Err(format!(
                            "expected a name after `.`, found `{}`",
                            self.rest().trim()
                        ));
                    }
                }
            } else if self.eat('[') {
                self.skip_ws();
                let step = match self.peek() {
                    Some(q @ ('\'' | '"')) => {
                        self.at += 1;
                        let rest = self.rest();
                        let Some(end) = rest.find(q) else {
                            return Err(format!("unclosed quote in `[{q}{rest}`"));
                        };
                        let key = &rest[..end];
                        if key.contains('\\') {
                            return Err(format!("escapes in `['{key}']` are not supported"));
                        }
                        self.at += end + 1;
                        Step::Key(key.to_string())
                    }
                    Some(c) if c.is_ascii_digit() => {
                        let rest = self.rest();
                        let len = rest
                            .find(|c: char| !c.is_ascii_digit())
                            .unwrap_or(rest.len());
                        let i = rest[..len]
                            .parse::<usize>()
                            .map_err(|e| format!("index `{}`: {e}", &rest[..len]))?;
                        self.at += len;
                        Step::Index(i)
                    }
                    _ => {
                        return Err(format!(
                            "expected 'name' or a number in [ ], found `{}`",
                            self.rest().trim()
                        ));
                    }
                };
                self.skip_ws();
                if !self.eat(']') {
                    return Err(format!("expected `]`, found `{}`", self.rest().trim()));
                }
                steps.push(step);
            } else {
                return Ok(steps);
            }
        }
    }

    /// `float`, `int`, `round` or `round(n)`.
    fn filter(&mut self) -> Result<Filter, String> {
        let Some(name) = self.ident() else {
            return Err(format!(
                "expected a filter after `|`, found `{}`",
                self.rest().trim()
            ));
        };
        self.skip_ws();
        let args = if self.eat('(') {
            let rest = self.rest();
            let Some(end) = rest.find(')') else {
                return Err(format!("unclosed `(` after `{name}`"));
            };
            self.at += end + 1;
            Some(rest[..end].trim().to_string())
        } else {
            None
        };
        let args = args.as_deref().filter(|a| !a.is_empty());
        match (name.as_str(), args) {
            ("float", None) => Ok(Filter::Float),
            ("int", None) => Ok(Filter::Int),
            ("round", None) => Ok(Filter::Round(0)),
            ("round", Some(a)) => match a.parse::<u32>() {
                Ok(n) if n <= MAX_PLACES => Ok(Filter::Round(n)),
                _ => Err(format!(
                    "round({a}): expected a number of decimal places from 0 to {MAX_PLACES}"
                )),
            },
            ("float" | "int", Some(a)) => Err(format!(
                "{name}({a}): a default hides a broken payload; write `| {name}` without one"
            )),
            (other, _) => Err(format!(
                "filter `{other}` is not supported; expected float, int or round(n)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, payload: &str) -> Result<Option<Value>, String> {
        let t = ValueTemplate::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        let json = serde_json::from_str::<Value>(payload).ok();
        t.render(payload, json.as_ref())
    }

    #[test]
    fn the_simple_forms_parse_and_read_their_value() {
        let p = r#"{"temperature":21.46,"AM2301":{"Temperature":19.5},"power":"ON","list":[3,4]}"#;
        assert_eq!(
            render("{{ value_json.temperature }}", p),
            Ok(Some(json!(21.46)))
        );
        assert_eq!(
            render("{{value_json.AM2301.Temperature}}", p),
            Ok(Some(json!(19.5)))
        );
        assert_eq!(
            render("{{ value_json['AM2301'].Temperature }}", p),
            Ok(Some(json!(19.5)))
        );
        assert_eq!(
            render(r#"{{ value_json["power"] }}"#, p),
            Ok(Some(json!("ON")))
        );
        assert_eq!(render("{{ value_json.list[1] }}", p), Ok(Some(json!(4))));
        assert_eq!(render("{{ value }}", "21.5"), Ok(Some(json!("21.5"))));
        assert_eq!(
            render("{{ value | float }}", " 21.5 "),
            Ok(Some(json!(21.5)))
        );
        assert_eq!(
            render("{{ value_json.temperature | round(1) }}", p),
            Ok(Some(json!(21.5)))
        );
        assert_eq!(
            render("{{ value_json.temperature | int }}", p),
            Ok(Some(json!(21)))
        );
        assert_eq!(
            render("{{ value | float | round }}", "-2.6"),
            Ok(Some(json!(-3.0)))
        );
        assert_eq!(render("{{ value | int }}", "-2.6"), Ok(Some(json!(-2))));
        // A field left out (or null) is no value, not an error.
        assert_eq!(render("{{ value_json.humidity }}", p), Ok(None));
        assert_eq!(render("{{ value_json.AM2301.x.y }}", p), Ok(None));
        assert_eq!(render("{{ value_json.t }}", r#"{"t":null}"#), Ok(None));
    }

    #[test]
    fn filters_refuse_what_they_cannot_convert() {
        assert!(render("{{ value | float }}", "warm").is_err());
        assert!(render("{{ value_json.t | int }}", r#"{"t":[1]}"#).is_err());
        assert!(render("{{ value | round(1) }}", "nan").is_err());
        let t = ValueTemplate::parse("{{ value_json.t }}").expect("valid");
        assert_eq!(
            t.render("not json", None),
            Err("the payload is not JSON".into())
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for (t, why) in [
            ("value_json.t", "{{ }}"),
            ("{{ value_json.t }} °C", "{{ }}"),
            ("{{ value_json.t }}{{ value }}", "not several"),
            ("{{ states('sensor.x') }}", "`states` is not supported"),
            ("{{ value_json.t * 10 }}", "unexpected `* 10`"),
            ("{{ value_json.t | multiply(10) }}", "filter `multiply`"),
            ("{{ value_json.t | float(0) }}", "a default hides"),
            ("{{ value_json.t | round(x) }}", "round(x)"),
            ("{{ value_json.t | round(99) }}", "round(99)"),
            ("{{ value_json. }}", "a name after `.`"),
            ("{{ value_json[t] }}", "'name' or a number"),
            ("{{ value_json['t }}", "unclosed quote"),
            ("{{ value_json['t' }}", "expected `]`"),
            ("{{ value_json.t | }}", "a filter after `|`"),
            (
                "{{ value_json.t if value_json.t else 0 }}",
                "unexpected `if",
            ),
            ("{{ }}", "expected value or value_json"),
            ("{{ value_jsonx.t }}", "`value_jsonx` is not supported"),
        ] {
            match ValueTemplate::parse(t) {
                Ok(p) => panic!("{t} accepted as {p:?}"),
                Err(e) => assert!(e.contains(why), "{t}: {e}"),
            }
        }
    }

    #[test]
    fn the_text_is_kept_as_written() {
        let t = ValueTemplate::parse("{{value_json.x|float}}").expect("valid");
        assert_eq!(t.as_str(), "{{value_json.x|float}}");
        assert!(t.uses_json());
        assert!(!ValueTemplate::payload().uses_json());
    }
}
