//! Grading alerts against the ground truth of injected faults.
//!
//! Matching rule: an alert matches a fault when it is on the same device, on the same
//! reading if both name one, of a kind that can reveal that fault (table in
//! [`reveals`]: besides the fault's own kind, the alerts its onset or end causes, such as
//! the jump when a stuck value is released), and its episode `[start, end]` (an open episode runs to the end of the
//! run) overlaps `[fault.start, fault.end + grace]` with `grace = max(60 s, 4 × the
//! device's publish period)`: a detector needs a few messages to see a change. A fault
//! is detected when at least one alert matches it; its delay is the earliest matching
//! alert's `raised − fault.start`. An alert that matches no fault is a false alert.
//! Precision for a fault kind counts the alerts whose kind points first at that fault
//! kind ([`primary`]). An alert that matches no fault but an episode the scenario
//! planned (a device it took off line, a rate it changed; [`explains`]), by the same
//! overlap rule, is expected: reported apart, and left out of precision.

use super::fleet::Alert;
use crate::fault::FaultRecord;
use std::collections::BTreeMap;

// The grades are part of the report's JSON contract, so their types live with it.
pub use crate::report::{Detection, KindScore};

/// Alert kinds that can reveal a fault kind.
pub fn reveals(fault: &str) -> &'static [&'static str] {
    match fault {
        "spike" => &["spike"],
        // A held value parts from the twin (drift) and jumps when released (spike).
        "stuck" => &["stuck", "drift", "spike"],
        // The reading jumps back when a drift ends.
        "drift" => &["drift", "spike"],
        "dropout" => &["stale", "gap"],
        "noise" => &["spike", "rate_of_change", "drift"],
        "offline" => &["offline", "stale"],
        "battery_death" => &["stale", "offline"],
        "clock_skew" => &["clock_skew"],
        "duplicate" => &["duplicate"],
        "reorder" => &["reorder"],
        _ => &[],
    }
}

/// Alert kinds a planned episode explains.
pub fn explains(planned: &str) -> &'static [&'static str] {
    match planned {
        // Its session dropped (the last will), it fell silent, and a gap in its `seq`
        // is seen nowhere (nothing was sent), but staleness is.
        "disconnect" => &["offline", "stale", "gap"],
        // A slower rate looks silent to a detector that learnt the old one.
        "rate" => &["stale", "gap"],
        // A state changed on purpose (a command, a modelled transition): the readings
        // that follow the state step to a new level.
        "command" | "transition" => &["spike", "drift", "rate_of_change"],
        _ => &[],
    }
}

/// The fault kind an alert kind points at first (for precision).
pub fn primary(alert: &str) -> Option<&'static str> {
    Some(match alert {
        "spike" => "spike",
        "stuck" => "stuck",
        "drift" => "drift",
        "stale" | "gap" => "dropout",
        "offline" => "offline",
        "rate_of_change" => "noise",
        "clock_skew" => "clock_skew",
        "duplicate" => "duplicate",
        "reorder" => "reorder",
        _ => return None,
    })
}

/// What matching needs besides the alert and the record.
struct Grading<'a> {
    periods: &'a [f64],
    run_end: f64,
    silent: BTreeMap<u32, Vec<(f64, f64)>>,
}

/// Where a device was silent (off line, dropped out, dead, disconnected on purpose), by
/// fleet index: a fault whose end falls in a silence shows its effect (a value jumping
/// back, a held message sent) only with the first message after it.
fn silences<'a>(records: impl Iterator<Item = &'a FaultRecord>) -> BTreeMap<u32, Vec<(f64, f64)>> {
    let mut out: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
    for r in records {
        if matches!(
            r.kind.as_str(),
            "offline" | "dropout" | "battery_death" | "disconnect"
        ) {
            out.entry(r.device_index)
                .or_default()
                .push((r.start, r.end));
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// The end of the window in which `f`'s effects are looked for: `f.end + grace`, moved
/// past every silence of the device that began inside it.
fn effect_end(f: &FaultRecord, grace: f64, silent: &BTreeMap<u32, Vec<(f64, f64)>>) -> f64 {
    let mut end = f.end + grace;
    for &(s, e) in silent.get(&f.device_index).map_or(&[][..], Vec::as_slice) {
        if s <= end && e > f.end {
            end = end.max(e + grace);
        }
    }
    end
}

fn matches(a: &Alert, f: &FaultRecord, g: &Grading) -> bool {
    let kinds = match reveals(&f.kind) {
        [] => explains(&f.kind),
        k => k,
    };
    if a.device_index != f.device_index || !kinds.contains(&a.kind.as_str()) {
        return false;
    }
    if let (Some(fs), Some(as_)) = (&f.sensor, &a.sensor)
        && fs != as_
    {
        return false;
    }
    let period = g
        .periods
        .get(f.device_index as usize)
        .copied()
        .unwrap_or(10.0);
    let grace = (4.0 * period).max(60.0);
    a.start <= effect_end(f, grace, &g.silent) && a.end.unwrap_or(g.run_end) >= f.start
}

/// Grade `alerts` against `faults`, with what `planned` explains set apart.
pub fn score(
    faults: &[FaultRecord],
    planned: &[FaultRecord],
    alerts: &[Alert],
    periods: &[f64],
    run_end: f64,
) -> Detection {
    let mut per_kind: BTreeMap<String, KindScore> = BTreeMap::new();
    let blank = || KindScore {
        injected: 0,
        detected: 0,
        recall: None,
        alerts: 0,
        true_alerts: 0,
        precision: None,
        mean_delay_s: None,
        max_delay_s: None,
    };
    let mut delays: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let g = Grading {
        periods,
        run_end,
        silent: silences(faults.iter().chain(planned)),
    };
    for f in faults {
        let k = per_kind.entry(f.kind.clone()).or_insert_with(blank);
        k.injected += 1;
        let delay = alerts
            .iter()
            .filter(|a| matches(a, f, &g))
            .map(|a| (a.raised - f.start).max(0.0))
            .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.min(d))));
        if let Some(d) = delay {
            k.detected += 1;
            delays.entry(f.kind.clone()).or_default().push(d);
        }
    }
    let mut false_alerts = Vec::new();
    let mut expected_alerts = Vec::new();
    for a in alerts {
        let hit = faults.iter().any(|f| matches(a, f, &g));
        if !hit && planned.iter().any(|p| matches(a, p, &g)) {
            expected_alerts.push(a.clone());
            continue;
        }
        if let Some(p) = primary(&a.kind) {
            let k = per_kind.entry(p.to_string()).or_insert_with(blank);
            k.alerts += 1;
            k.true_alerts += u64::from(hit);
        }
        if !hit {
            false_alerts.push(a.clone());
        }
    }
    for (name, k) in per_kind.iter_mut() {
        k.recall = (k.injected > 0).then(|| k.detected as f64 / k.injected as f64);
        k.precision = (k.alerts > 0).then(|| k.true_alerts as f64 / k.alerts as f64);
        if let Some(d) = delays.get(name) {
            k.mean_delay_s = Some(crate::report::round4(
                d.iter().sum::<f64>() / d.len() as f64,
            ));
            k.max_delay_s = Some(crate::report::round4(d.iter().copied().fold(0.0, f64::max)));
        }
    }
    Detection {
        rule: "an alert matches a fault on the same device (and reading, when both name one), of a kind that reveals it, whose episode overlaps [fault start, fault end + max(60 s, 4 x publish period)], that end moved past any silence of the device (offline, dropout, battery death, disconnect) beginning before it; delay = alert raised - fault start".into(),
        per_kind,
        false_alerts,
        expected_alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: &str, start: f64, end: f64) -> FaultRecord {
        FaultRecord {
            device_index: 0,
            device: "d".into(),
            sensor: Some("temperature".into()),
            kind: kind.into(),
            start,
            end,
        }
    }

    fn alert(kind: &str, start: f64, end: Option<f64>, raised: f64) -> Alert {
        Alert {
            device: "d".into(),
            sensor: Some("temperature".into()),
            kind: kind.into(),
            start,
            end,
            raised,
            value: 0.0,
            device_index: 0,
        }
    }

    #[test]
    fn matching_counts_recall_precision_delay_and_false_alerts() {
        let faults = [fault("stuck", 100.0, 200.0), fault("stuck", 1000.0, 1100.0)];
        let alerts = [
            alert("stuck", 170.0, Some(200.0), 170.0), // detects the first, 70 s late
            alert("stuck", 5000.0, Some(5010.0), 5000.0), // matches nothing
            alert("duplicate", 150.0, Some(150.0), 150.0), // cannot reveal stuck
        ];
        let d = score(&faults, &[], &alerts, &[10.0], 6000.0);
        let s = &d.per_kind["stuck"];
        assert_eq!((s.injected, s.detected), (2, 1));
        assert_eq!(s.recall, Some(0.5));
        assert_eq!((s.alerts, s.true_alerts), (2, 1));
        assert_eq!(s.precision, Some(0.5));
        assert_eq!(s.mean_delay_s, Some(70.0));
        assert_eq!(d.false_alerts.len(), 2);
    }

    #[test]
    fn grace_and_open_episodes() {
        let f = [fault("dropout", 100.0, 400.0)];
        // A stale alert raised 50 s after the end still matches (grace 60 s) …
        let late = [alert("stale", 440.0, None, 450.0)];
        assert_eq!(
            score(&f, &[], &late, &[10.0], 900.0).per_kind["dropout"].detected,
            1
        );
        // … one 100 s after does not.
        let later = [alert("stale", 500.0, Some(520.0), 500.0)];
        assert_eq!(
            score(&f, &[], &later, &[10.0], 900.0).per_kind["dropout"].detected,
            0
        );
    }

    #[test]
    fn a_silence_after_a_fault_moves_its_window_to_the_first_message_after_it() {
        // A drift ends while the device is off line: the jump back shows at reconnect.
        let mut offline = fault("offline", 380.0, 700.0);
        offline.sensor = None;
        let faults = [fault("drift", 100.0, 400.0), offline];
        let jump = [alert("spike", 701.0, Some(701.0), 701.0)];
        let d = score(&faults, &[], &jump, &[10.0], 900.0);
        assert!(d.false_alerts.is_empty(), "{:?}", d.false_alerts);
        // Without the silence the same jump is too late to be the drift's.
        let d = score(&faults[..1], &[], &jump, &[10.0], 900.0);
        assert_eq!(d.false_alerts.len(), 1);
        // A silence that begins after the window does not stretch it.
        let mut later = fault("offline", 600.0, 700.0);
        later.sensor = None;
        let d = score(
            &[fault("drift", 100.0, 400.0), later],
            &[],
            &jump,
            &[10.0],
            900.0,
        );
        assert_eq!(d.false_alerts.len(), 1);
    }
}
