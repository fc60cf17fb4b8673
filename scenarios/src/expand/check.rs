//! What every table's checks share: where errors point, the size limits and the checks of
//! single values (durations, positive numbers, `count`).

use crate::catalog::ModelKind;
use crate::duration::Dur;
use crate::error::Located;
use std::ops::Range;
use toml::Spanned;

/// Most devices one scenario may hold; beyond this a typo in `count` is likelier than intent.
pub(super) const MAX_DEVICES: usize = 2_000_000;

/// Most device references the expanded scenario may hold: the heaters of every thermostat,
/// the targets of every event and the devices of every rule, added up. Each one is stored,
/// so a few lines (a `*` event repeated, many thermostats in a room of many heaters) could
/// otherwise ask for more memory than the machine has. Ten times the largest fleet.
const MAX_REFERENCES: usize = 10 * MAX_DEVICES;

/// A check's result: the value, or the message and the place it points at.
pub(super) type Res<T> = Result<T, Located>;

/// Where errors point.
pub(super) struct Ctx<'a> {
    /// The scenario text, to turn byte spans into lines and columns.
    pub(super) src: &'a str,
    /// The file name as the user gave it.
    pub(super) file: &'a str,
}

impl Ctx<'_> {
    /// A message pointing at `span`.
    pub(super) fn at(&self, span: Range<usize>, message: impl Into<String>) -> Located {
        Located::at(self.file, self.src, span, message)
    }
}

/// Counts device references against [`MAX_REFERENCES`].
#[derive(Default)]
pub(super) struct References(usize);

impl References {
    /// Count `n` more references, made by `what` at `span`; refuse past the limit.
    pub(super) fn add(&mut self, cx: &Ctx, span: Range<usize>, n: usize, what: &str) -> Res<()> {
        self.0 += n;
        if self.0 > MAX_REFERENCES {
            return Err(cx.at(
                span,
                format!(
                    "{what} brings the device references of thermostats, events and rules to {} in all; expected at most {MAX_REFERENCES} (a \"*\" target on a large fleet adds up quickly)",
                    self.0
                ),
            ));
        }
        Ok(())
    }
}

/// Check every `{name}` in a template against the placeholders `known` where it is used;
/// anything else would be published (or named) as literal text, so it is an error that
/// lists the known ones and suggests the closest.
pub(super) fn placeholders(cx: &Ctx, t: &Spanned<String>, known: &[&str]) -> Res<()> {
    let list = || {
        known
            .iter()
            .map(|k| format!("{{{k}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut rest = t.get_ref().as_str();
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}').filter(|&c| !after[..c].contains('{')) else {
            return Err(cx.at(
                t.span(),
                format!(
                    "\"{}\" opens a '{{' it never closes; expected a placeholder: {}",
                    t.get_ref(),
                    list()
                ),
            ));
        };
        let name = &after[..close];
        if known == ["n"] && name != "n" && name.contains('n') {
            // Arithmetic on the number: `{(n-1)/10+1}`, `{n:03}`.
            super::name_template::check(t.get_ref(), name).map_err(|why| cx.at(t.span(), why))?;
        } else if !known.contains(&name) {
            let hint = crate::suggest::hint(name, known.iter().copied(), |k| format!("{{{k}}}"));
            return Err(cx.at(
                t.span(),
                format!(
                    "\"{{{name}}}\" is not a placeholder here; expected {}{hint}",
                    list()
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Fill `{n}` (and expressions over it) in a name template.
pub(super) fn expand_n(template: &str, n: usize) -> String {
    super::name_template::fill(template, n)
}

/// Names for an error message: all of a few, or the first four and the last of many.
pub(super) fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else if v.len() > 8 {
        format!(
            "{} … {} ({} in all)",
            v[..4].join(", "),
            v[v.len() - 1],
            v.len()
        )
    } else {
        v.join(", ")
    }
}

/// `[lo, hi]` with `lo < hi`, both finite.
pub(super) fn pair(cx: &Ctx, r: &Spanned<[f64; 2]>, key: &str) -> Res<(f64, f64)> {
    let [lo, hi] = *r.get_ref();
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(cx.at(
            r.span(),
            format!("{key} is [{lo}, {hi}]; expected [low, high] with low below high"),
        ));
    }
    Ok((lo, hi))
}

/// A duration longer than zero, in seconds.
pub(super) fn positive(cx: &Ctx, d: &Spanned<Dur>, key: &str) -> Res<f64> {
    let v = d.get_ref().secs();
    if v <= 0.0 {
        return Err(cx.at(
            d.span(),
            format!("{key} must be longer than zero; expected a duration like \"10s\""),
        ));
    }
    Ok(v)
}

/// A finite number above zero.
pub(super) fn positive_f(cx: &Ctx, v: &Spanned<f64>, key: &str) -> Res<f64> {
    number(cx, v, key, |x| x > 0.0, "a positive number")
}

/// A finite number of zero or more.
pub(super) fn non_negative_f(cx: &Ctx, v: &Spanned<f64>, key: &str) -> Res<f64> {
    number(cx, v, key, |x| x >= 0.0, "zero or more")
}

/// A finite number that `fits`; `expected` says which, for the message.
fn number(
    cx: &Ctx,
    v: &Spanned<f64>,
    key: &str,
    fits: fn(f64) -> bool,
    expected: &str,
) -> Res<f64> {
    let x = *v.get_ref();
    if !(fits(x) && x.is_finite()) {
        return Err(cx.at(v.span(), format!("{key} is {x}; expected {expected}")));
    }
    Ok(x)
}

/// A publish period no shorter than a `kind`'s part can measure; `subject` names what is
/// asking (`a dht22`, `dht-1 (a dht22)`), only built when the period is refused.
pub(super) fn fast_enough(
    cx: &Ctx,
    p: &Spanned<Dur>,
    every: f64,
    kind: &ModelKind,
    subject: impl FnOnce() -> String,
) -> Res<()> {
    if let Some((min, why)) = kind.min_publish_every()
        && every < min
    {
        return Err(cx.at(
            p.span(),
            format!(
                "publish_every {} is too short for {}: {why}; expected at least {}",
                p.get_ref(),
                subject(),
                Dur(min)
            ),
        ));
    }
    Ok(())
}

/// A table's `count` (1 if absent); more than one needs `{n}` in the table's `name` key
/// (called `what` in the message) so each copy is named apart.
pub(super) fn count_of(
    cx: &Ctx,
    count: Option<&Spanned<i64>>,
    name: &Spanned<String>,
    what: &str,
) -> Res<usize> {
    let Some(c) = count else { return Ok(1) };
    let v = *c.get_ref();
    if v < 1 {
        return Err(cx.at(c.span(), format!("count is {v}; expected at least 1")));
    }
    if v > MAX_DEVICES as i64 {
        return Err(cx.at(
            c.span(),
            format!("count is {v}; expected at most {MAX_DEVICES}"),
        ));
    }
    if v > 1 && !super::name_template::numbered(name.get_ref()) {
        return Err(cx.at(
            name.span(),
            format!("count = {v} needs \"{{n}}\" in the {what} so each one gets its own name (\"thermo-{{n}}\")"),
        ));
    }
    Ok(v as usize)
}

/// Longest string MQTT can carry (a topic, a client id): its length is a 16-bit number.
pub(super) const MQTT_MAX_STRING: usize = 65_535;

/// Why `text` cannot go into an MQTT topic or client id, if it cannot: a control
/// character (NUL among them, which MQTT forbids and brokers cut or refuse), or more
/// bytes than an MQTT string holds.
pub(super) fn mqtt_string_problem(text: &str) -> Option<String> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Some(format!(
            "holds the control character U+{:04X}; expected printable characters only",
            c as u32
        ));
    }
    if text.len() > MQTT_MAX_STRING {
        return Some(format!(
            "is {} bytes long; MQTT strings hold at most {MQTT_MAX_STRING} bytes",
            text.len()
        ));
    }
    None
}

/// A name or template shortened for a message: a 70,000-character id is not quoted whole.
pub(super) fn shown(text: &str) -> String {
    const MAX: usize = 60;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}
