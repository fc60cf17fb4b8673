//! `[analytics]`: the detectors' window, spike method and threshold, and staleness.

use super::check::{Ctx, Res, positive, positive_f};
use crate::raw::AnalyticsTable;
use crate::spec::AnalyticsSpec;

/// `[analytics]` over [`AnalyticsSpec::default`].
pub(super) fn spec(cx: &Ctx, t: Option<&AnalyticsTable>) -> Res<AnalyticsSpec> {
    let mut a = AnalyticsSpec::default();
    let Some(t) = t else { return Ok(a) };
    if let Some(w) = &t.window {
        a.window = positive(cx, w, "window")?;
    }
    if let Some(m) = &t.spike_method {
        a.robust_spikes = match m.get_ref().as_str() {
            "sigma" => false,
            "robust_z" => {
                a.spike_threshold = 3.5;
                true
            }
            other => {
                return Err(cx.at(
                    m.span(),
                    format!(
                        "spike_method \"{other}\" is not known; expected \"sigma\" or \"robust_z\""
                    ),
                ));
            }
        };
    }
    if let Some(th) = &t.spike_threshold {
        a.spike_threshold = positive_f(cx, th, "spike_threshold")?;
    }
    if let Some(f) = &t.stale_factor {
        let v = positive_f(cx, f, "stale_factor")?;
        if v < 1.0 {
            return Err(cx.at(
                f.span(),
                format!("stale_factor is {v}; expected at least 1 (one publish period)"),
            ));
        }
        a.stale_factor = v;
    }
    Ok(a)
}
