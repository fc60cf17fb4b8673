//! SLO gates: `--fail-on 'p99>50ms,p999>200ms,loss>0,dup>0,connect_fail>0,rate<0.95'`.
//! A condition names a figure of the report, a comparison and a limit; the command
//! exits 3 when any condition holds, and the report lists each with what was measured
//! (`fail_on`), so a CI pipeline can gate a broker release on it.
//!
//! Figures: latency percentiles `p50`, `p90`, `p99`, `p999`, `max` (milliseconds: a
//! bare number, or with `us`, `ms` or `s`), counts `loss`, `dup`, `reorder`,
//! `connect_fail`, `dropped` (a count, or with `%` a share of what was sent), and `rate`
//! (what was sent over what was asked, 0 to 1). Which figures a command has is its
//! driver's list; a condition on a figure the run did not measure (no latency samples)
//! holds, so a gate never passes on nothing.

/// A comparison.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, schemars::JsonSchema, serde::Serialize, serde::Deserialize,
)]
pub enum Op {
    /// `>`
    #[serde(rename = ">")]
    Above,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
    /// `<`
    #[serde(rename = "<")]
    Below,
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
}

/// One condition, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// As written.
    pub text: String,
    /// The figure's name.
    pub figure: String,
    /// The comparison.
    pub op: Op,
    /// The limit, in the figure's unit (ms, a count, a share 0..1 for `%` and `rate`).
    pub limit: f64,
    /// A share of what was sent (`loss>0.1%`) rather than a count.
    pub share: bool,
}

/// One condition with what the run measured: the report's `fail_on` entries.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// The condition as written (`p99>50ms`).
    pub condition: String,
    /// The measured value in the condition's unit (ms; a count; a share 0..1 for `%`
    /// and `rate`); `null` when the run did not measure it.
    pub measured: Option<f64>,
    /// Whether the condition held (the gate failed on it).
    pub held: bool,
}

/// Latency figures, in milliseconds.
pub const LATENCY: [&str; 5] = ["p50", "p90", "p99", "p999", "max"];

/// Parse `--fail-on`: conditions separated by commas, each on one of `figures`.
pub fn parse(text: &str, figures: &[&str]) -> Result<Vec<Condition>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| condition(c, figures))
        .collect()
}

fn condition(text: &str, figures: &[&str]) -> Result<Condition, String> {
    let at = text.find(['<', '>']).ok_or_else(|| {
        format!("`{text}`: expected a figure, < or > (or <=, >=) and a limit, like p99>50ms")
    })?;
    let figure = text[..at].trim().to_string();
    let rest = &text[at..];
    let (op, limit) = match () {
        () if rest.starts_with(">=") => (Op::AtLeast, &rest[2..]),
        () if rest.starts_with("<=") => (Op::AtMost, &rest[2..]),
        () if rest.starts_with('>') => (Op::Above, &rest[1..]),
        _ => (Op::Below, &rest[1..]),
    };
    if !figures.contains(&figure.as_str()) {
        return Err(format!(
            "`{text}`: {} is not a figure here; expected one of {}",
            if figure.is_empty() {
                "nothing"
            } else {
                &figure
            },
            figures.join(", ")
        ));
    }
    let (limit, share) = value(&figure, limit.trim()).map_err(|why| format!("`{text}`: {why}"))?;
    Ok(Condition {
        text: text.to_string(),
        figure,
        op,
        limit,
        share,
    })
}

/// A limit in the figure's unit, and whether it is a share (`%`).
fn value(figure: &str, s: &str) -> Result<(f64, bool), String> {
    let latency = LATENCY.contains(&figure);
    // What the written number is divided by to give the figure's unit.
    let (number, scale, share) = if latency {
        if let Some(n) = s.strip_suffix("us") {
            (n, 1e3, false)
        } else if let Some(n) = s.strip_suffix("ms") {
            (n, 1.0, false)
        } else if let Some(n) = s.strip_suffix('s') {
            (n, 1e-3, false)
        } else {
            (s, 1.0, false)
        }
    } else if let Some(n) = s.strip_suffix('%') {
        (n, 100.0, figure != "rate")
    } else {
        (s, 1.0, false)
    };
    let x: f64 = number.trim().parse().map_err(|_| {
        format!(
            "the limit `{s}` is not a number{}",
            if latency { " (with us, ms or s)" } else { "" }
        )
    })?;
    if !x.is_finite() || x < 0.0 {
        return Err(format!(
            "the limit `{s}` must be a finite number of at least 0"
        ));
    }
    // Divided, not multiplied: 95 / 100 is 0.95 exactly as written, 95 · 0.01 is not.
    Ok((x / scale, share))
}

/// Judge every condition against `measured` (a figure's value, in its unit, or `None`)
/// and `sent` (for shares).
pub fn judge(
    conditions: &[Condition],
    measured: impl Fn(&str) -> Option<f64>,
    sent: u64,
) -> Vec<Verdict> {
    conditions
        .iter()
        .map(|c| {
            let v = measured(&c.figure).map(|v| {
                if c.share {
                    if sent == 0 { 0.0 } else { v / sent as f64 }
                } else {
                    v
                }
            });
            let held = v.is_none_or(|v| match c.op {
                Op::Above => v > c.limit,
                Op::AtLeast => v >= c.limit,
                Op::Below => v < c.limit,
                Op::AtMost => v <= c.limit,
            });
            Verdict {
                condition: c.text.clone(),
                measured: v.map(crate::measure::round4),
                held,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIGURES: &[&str] = &[
        "p50",
        "p90",
        "p99",
        "p999",
        "max",
        "loss",
        "dup",
        "connect_fail",
        "rate",
    ];

    #[test]
    fn conditions_parse_with_their_units() {
        let c = parse(
            "p99>50ms, p999>=0.2s,loss>0,dup>0.1%,rate<95%,max<=800us",
            FIGURES,
        )
        .unwrap();
        let got: Vec<(&str, Op, f64, bool)> = c
            .iter()
            .map(|c| (c.figure.as_str(), c.op, c.limit, c.share))
            .collect();
        assert_eq!(
            got,
            [
                ("p99", Op::Above, 50.0, false),
                ("p999", Op::AtLeast, 200.0, false),
                ("loss", Op::Above, 0.0, false),
                ("dup", Op::Above, 0.001, true),
                ("rate", Op::Below, 0.95, false),
                ("max", Op::AtMost, 0.8, false),
            ]
        );
    }

    #[test]
    fn a_bad_condition_says_what_it_expected() {
        let e = parse("p98>5ms", FIGURES).unwrap_err();
        assert!(
            e.contains("p98 is not a figure here; expected one of p50"),
            "{e}"
        );
        assert!(
            parse("p99=5ms", FIGURES)
                .unwrap_err()
                .contains("expected a figure, < or >")
        );
        assert!(
            parse("p99>fast", FIGURES)
                .unwrap_err()
                .contains("not a number (with us, ms or s)")
        );
        assert!(
            parse("loss>-1", FIGURES)
                .unwrap_err()
                .contains("at least 0")
        );
    }

    #[test]
    fn verdicts_hold_or_not_and_nothing_measured_holds() {
        let c = parse("p99>50ms,loss>0,dup>1%,rate<0.95", FIGURES).unwrap();
        let healthy = |f: &str| match f {
            "p99" => Some(3.2),
            "loss" | "dup" => Some(0.0),
            "rate" => Some(1.0),
            _ => None,
        };
        assert!(judge(&c, healthy, 1000).iter().all(|v| !v.held));
        let sick = |f: &str| match f {
            "p99" => None,
            "loss" => Some(3.0),
            "dup" => Some(20.0),
            "rate" => Some(0.5),
            _ => None,
        };
        let v = judge(&c, sick, 1000);
        assert!(v.iter().all(|v| v.held), "{v:?}");
        assert_eq!(v[0].measured, None);
        assert_eq!(v[2].measured, Some(0.02));
    }
}
