//! Name templates: `{n}` and arithmetic on it in the names of devices, environments,
//! references and gateways (`room-{(n-1)/10+1}` puts ten sensors in each room,
//! `r{(n-1)%20+1:02}` numbers twenty rooms a floor from `r01`). The expression is
//! evalexpr's, over the integer `n` (integer division truncates); `:0W` after it pads the
//! number with zeros to `W` digits.

use evalexpr::{ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node};
use std::cell::RefCell;
use std::collections::HashMap;

type Value = evalexpr::Value<DefaultNumericTypes>;

/// Most compiled placeholders kept for `fill` (a scenario has a few; a cap keeps a
/// hostile one bounded).
const CACHE_CAP: usize = 1024;

/// A placeholder body split into its expression and its zero-padded width.
fn split_width(body: &str) -> (&str, usize) {
    if let Some((expr, w)) = body.rsplit_once(':')
        && !expr.ends_with(':')
        && w.starts_with('0')
        && w.len() > 1
        && w.chars().all(|c| c.is_ascii_digit())
    {
        return (expr, w[1..].parse().unwrap_or(0).min(32));
    }
    (body, 0)
}

/// Check `body` (the text between braces in `template`): an expression that reads only
/// `n`, whose value is a whole number; the message says what is wrong.
///
/// A group's template is checked for each of its devices: a body checked once is kept
/// (with its tree, for [`fill`]) and passes at once after.
pub(super) fn check(template: &str, body: &str) -> Result<(), String> {
    let (expr, _) = split_width(body);
    if TREES.with(|t| t.borrow().contains_key(expr)) {
        return Ok(());
    }
    let node = evalexpr::build_operator_tree::<DefaultNumericTypes>(expr).map_err(|e| {
        format!("\"{{{body}}}\" in \"{template}\" is not {{n}} or an expression over n: {e}")
    })?;
    let others: Vec<&str> = node
        .iter_variable_identifiers()
        .filter(|v| *v != "n")
        .collect();
    if let Some(v) = others.first() {
        return Err(format!(
            "\"{{{body}}}\" reads `{v}`; a name template's expressions read only n, the device's (or environment's) number in its group, from 1"
        ));
    }
    eval(&node, 1).map_err(|why| format!("\"{{{body}}}\" in \"{template}\": {why}"))?;
    TREES.with(|t| {
        let mut trees = t.borrow_mut();
        if trees.len() >= CACHE_CAP {
            trees.clear();
        }
        trees.insert(expr.to_string(), node);
    });
    Ok(())
}

thread_local! {
    /// The trees of the bodies [`check`] passed, by body; at most [`CACHE_CAP`].
    static TREES: RefCell<HashMap<String, Node<DefaultNumericTypes>>> = RefCell::new(HashMap::new());
}

/// The value of `node` for `n`: a whole number.
fn eval(node: &Node<DefaultNumericTypes>, n: usize) -> Result<i64, String> {
    let mut cx = HashMapContext::<DefaultNumericTypes>::new();
    cx.set_value("n".into(), Value::Int(n as i64))
        .map_err(|e| e.to_string())?;
    match node.eval_with_context(&cx) {
        Ok(Value::Int(i)) => Ok(i),
        Ok(Value::Float(f)) if f.fract() == 0.0 && f.is_finite() => Ok(f as i64),
        Ok(v) => Err(format!("gives {v}; expected a whole number")),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `template` numbers its copies: `{n}`, or an expression over n.
pub(super) fn numbered(template: &str) -> bool {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let (expr, _) = split_width(&after[..close]);
        if expr == "n"
            || expr
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == "n")
        {
            return true;
        }
        rest = &after[close + 1..];
    }
    false
}

/// `template` filled for `n` (its placeholders checked before).
pub(super) fn fill(template: &str, n: usize) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let body = &after[..close];
        let (expr, width) = split_width(body);
        let v = if expr == "n" {
            Ok(n as i64)
        } else {
            cached(expr, n)
        };
        match v {
            Ok(v) => out.push_str(&format!("{v:0width$}")),
            Err(_) => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Evaluate `expr` for `n`: with the tree [`check`] kept, or (for a body never
/// checked) one compiled for this call alone.
fn cached(expr: &str, n: usize) -> Result<i64, String> {
    let kept = TREES.with(|t| t.borrow().get(expr).map(|node| eval(node, n)));
    kept.unwrap_or_else(|| {
        let node = evalexpr::build_operator_tree(expr).map_err(|e| e.to_string())?;
        eval(&node, n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_with_arithmetic_and_padding() {
        assert_eq!(fill("dht-{n}", 7), "dht-7");
        assert_eq!(fill("room-{(n-1)/10+1}", 10), "room-1");
        assert_eq!(fill("room-{(n-1)/10+1}", 11), "room-2");
        assert_eq!(fill("f{(n-1)/20+1}-r{(n-1)%20+1:02}", 21), "f2-r01");
        assert_eq!(fill("x-{n:03}", 5), "x-005");
        assert_eq!(fill("plain", 3), "plain");
        assert!(numbered("r{(n-1)%20+1:02}") && numbered("{n}") && !numbered("hub"));
    }
}
