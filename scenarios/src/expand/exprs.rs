//! Expressions of user models: compiled once with evalexpr, every name they read checked
//! against the model's scope, a trial evaluation with the start values (so a type error
//! is found at load, at its line), and the order readings are evaluated in (a reading
//! after every reading its expression reads; a circle is an error).

use super::check::{Ctx, Res};
use crate::user_model::{Expr, ExprValue, Scope};
use std::collections::HashMap;
use std::ops::Range;

/// Functions an expression may call: evalexpr's built-in arithmetic, nothing random.
const FUNCTIONS: &[&str] = &[
    "if",
    "min",
    "max",
    "floor",
    "round",
    "ceil",
    "math::abs",
    "math::sqrt",
    "math::cbrt",
    "math::pow",
    "math::exp",
    "math::exp2",
    "math::ln",
    "math::log",
    "math::log2",
    "math::log10",
    "math::sin",
    "math::cos",
    "math::tan",
    "math::asin",
    "math::acos",
    "math::atan",
    "math::atan2",
    "math::sinh",
    "math::cosh",
    "math::tanh",
    "math::hypot",
];

/// Compile `src` (at `span`), every variable it reads one of `known`'s names.
pub(super) fn compile(
    cx: &Ctx,
    span: Range<usize>,
    src: &str,
    known: &HashMap<String, usize>,
) -> Res<Expr> {
    let node = evalexpr::build_operator_tree(src).map_err(|e| {
        cx.at(
            span.clone(),
            format!("the expression `{src}` does not parse: {e}"),
        )
    })?;
    if let Some(w) = node.iter_write_variable_identifiers().next() {
        return Err(cx.at(
            span,
            format!("the expression `{src}` assigns to `{w}`; expressions read values, they never set them (use a transition)"),
        ));
    }
    for name in node.iter_read_variable_identifiers() {
        if !known.contains_key(name) {
            let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
            names.sort_unstable();
            let hint = crate::suggest::hint(name, names.iter().copied(), |k| format!("`{k}`"));
            return Err(cx.at(
                span,
                format!(
                    "the expression `{src}` reads `{name}`, which is not a reading, a state or one of t, hour, env_temperature, env_humidity, env_pressure; known: {}{hint}",
                    names.join(", ")
                ),
            ));
        }
    }
    if let Some(f) = node
        .iter_function_identifiers()
        .find(|f| !FUNCTIONS.contains(f))
    {
        let hint = crate::suggest::hint(f, FUNCTIONS.iter().copied(), |k| format!("`{k}`"));
        return Err(cx.at(
            span,
            format!(
                "the expression `{src}` calls `{f}`, which is not a function here; expected one of {}{hint}",
                FUNCTIONS.join(", ")
            ),
        ));
    }
    Ok(Expr {
        source: src.to_string(),
        node,
    })
}

/// The indices of `known` that `e` reads, within `range`.
pub(super) fn reads(e: &Expr, known: &HashMap<String, usize>, range: Range<usize>) -> Vec<usize> {
    let mut out: Vec<usize> = e
        .node
        .iter_read_variable_identifiers()
        .filter_map(|n| known.get(n).copied())
        .filter(|i| range.contains(i))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Readings in an order where each comes after those it reads (`deps[i]`, reading
/// indices); a circle is reported at `spans[i]` of a reading on it, with its names.
pub(super) fn order(
    cx: &Ctx,
    deps: &[Vec<usize>],
    names: &[&str],
    spans: &[Range<usize>],
) -> Res<Vec<usize>> {
    // 0 = not seen, 1 = on the current path, 2 = placed.
    let mut mark = vec![0u8; deps.len()];
    let mut out = Vec::with_capacity(deps.len());
    for start in 0..deps.len() {
        let mut path = Vec::new();
        visit(start, deps, &mut mark, &mut out, &mut path).map_err(|circle| {
            let words: Vec<&str> = circle.iter().map(|&i| names[i]).collect();
            cx.at(
                spans[circle[0]].clone(),
                format!(
                    "these readings' expressions read each other in a circle: {}; expected each to read only readings computed before it",
                    words.join(" → ")
                ),
            )
        })?;
    }
    Ok(out)
}

/// Depth-first placement; `Err` holds the circle found, its first reading repeated last.
fn visit(
    i: usize,
    deps: &[Vec<usize>],
    mark: &mut [u8],
    out: &mut Vec<usize>,
    path: &mut Vec<usize>,
) -> Result<(), Vec<usize>> {
    match mark[i] {
        2 => return Ok(()),
        1 => {
            let from = path.iter().position(|&p| p == i).unwrap_or(0);
            let mut circle = path[from..].to_vec();
            circle.push(i);
            return Err(circle);
        }
        _ => {}
    }
    mark[i] = 1;
    path.push(i);
    for &d in &deps[i] {
        visit(d, deps, mark, out, path)?;
    }
    path.pop();
    mark[i] = 2;
    out.push(i);
    Ok(())
}

/// Evaluate `e` once with `values` (the start of a run), so a type error (a word added
/// to a number, a condition that is a number) is refused at its line.
pub(super) fn trial(
    cx: &Ctx,
    span: Range<usize>,
    e: &Expr,
    index: &HashMap<String, usize>,
    values: &[ExprValue],
    condition: bool,
) -> Res<ExprValue> {
    let scope = Scope { index, values };
    let got = if condition {
        e.truth(&scope).map(ExprValue::Boolean)
    } else {
        e.number(&scope).map(ExprValue::Float)
    };
    got.map_err(|why| cx.at(span, format!("with the start values, {why}")))
}
