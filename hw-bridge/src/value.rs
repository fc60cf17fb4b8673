//! State values as people and firmware write them: `on`, `"ON"`, `1`, `true` all mean the
//! same switch state. Shadows compare normalised values, so a desired `true` is met by a
//! Tasmota `"ON"`.

use crate::error::BridgeError;
use serde_json::Value;

/// Normalise a value a device reported: switch words become booleans, numeric strings
/// become numbers; anything else is kept as it is.
pub fn normalise(v: &Value) -> Value {
    match v {
        Value::String(s) => parse_text(s),
        other => other.clone(),
    }
}

/// Read a value typed on a command line or sent as text by firmware.
pub fn parse_text(s: &str) -> Value {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => return Value::Bool(true),
        "off" | "false" | "no" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = t.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(f);
    }
    Value::String(t.to_string())
}

/// Whether a reported value meets a desired one. Numbers compare by value (a desired `1`
/// is met by `1.0`); a desired switch state `true` is met by `1` and `false` by `0`.
pub fn same(desired: &Value, reported: &Value) -> bool {
    let (d, r) = (normalise(desired), normalise(reported));
    match (&d, &r) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Bool(a), Value::Number(b)) | (Value::Number(b), Value::Bool(a)) => {
            b.as_f64() == Some(if *a { 1.0 } else { 0.0 })
        }
        _ => d == r,
    }
}

/// A value as a number, for readings: numbers, numeric strings, and switch states (1/0).
pub fn as_reading(v: &Value) -> Option<f64> {
    match normalise(v) {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Parse `key=value` pairs from the command line into a desired-state object.
pub fn parse_assignments(pairs: &[String]) -> Result<serde_json::Map<String, Value>, BridgeError> {
    let mut out = serde_json::Map::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            return Err(BridgeError::BadInput(format!(
                "\"{p}\" is not key=value (for example power=on)"
            )));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(BridgeError::BadInput(format!("\"{p}\" has an empty key")));
        }
        out.insert(k.to_string(), parse_text(v));
    }
    if out.is_empty() {
        return Err(BridgeError::BadInput(
            "nothing to set: give at least one key=value".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn switch_words_and_numbers_are_normalised() {
        assert_eq!(parse_text("ON"), json!(true));
        assert_eq!(parse_text("off"), json!(false));
        assert_eq!(parse_text("21.5"), json!(21.5));
        assert_eq!(parse_text("3"), json!(3));
        assert_eq!(parse_text("auto"), json!("auto"));
        assert_eq!(normalise(&json!("OFF")), json!(false));
    }

    #[test]
    fn desired_is_met_by_equivalent_reports() {
        assert!(same(&json!(true), &json!("ON")));
        assert!(same(&json!(true), &json!(1)));
        assert!(same(&json!(1), &json!(1.0)));
        assert!(!same(&json!(true), &json!("OFF")));
        assert!(!same(&json!(20), &json!(21)));
    }

    #[test]
    fn assignments_parse_and_reject_bad_pairs() {
        let m = parse_assignments(&["power=on".into(), "level=3".into()]).expect("valid");
        assert_eq!(m.get("power"), Some(&json!(true)));
        assert_eq!(m.get("level"), Some(&json!(3)));
        assert!(parse_assignments(&["power".into()]).is_err());
        assert!(parse_assignments(&["=on".into()]).is_err());
        assert!(parse_assignments(&[]).is_err());
    }

    #[test]
    fn readings_accept_numbers_text_and_switches() {
        assert_eq!(as_reading(&json!("21.5")), Some(21.5));
        assert_eq!(as_reading(&json!(true)), Some(1.0));
        assert_eq!(as_reading(&json!("nan")), None);
        assert_eq!(as_reading(&json!({"a": 1})), None);
    }
}
