//! Faults a scenario can inject, with their defaults.

/// Kinds of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// One reading off by `magnitude` units (sign random).
    Spike,
    /// The reading holds its last value for `duration`.
    Stuck,
    /// The reading drifts by `magnitude` units per hour for `duration`.
    Drift,
    /// The device stops publishing for `duration` (its session stays up).
    Dropout,
    /// Extra noise: `magnitude` × the part's noise, for `duration`.
    Noise,
    /// The session drops (the last will fires) and comes back after `duration`.
    Offline,
    /// The battery dies: the device falls silent for good.
    BatteryDeath,
    /// Timestamps are off by `magnitude` seconds for `duration`.
    ClockSkew,
    /// One message is published twice.
    Duplicate,
    /// One message is sent after the one that follows it.
    Reorder,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Spike,
        FaultKind::Stuck,
        FaultKind::Drift,
        FaultKind::Dropout,
        FaultKind::Noise,
        FaultKind::Offline,
        FaultKind::BatteryDeath,
        FaultKind::ClockSkew,
        FaultKind::Duplicate,
        FaultKind::Reorder,
    ];

    /// Name in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Spike => "spike",
            FaultKind::Stuck => "stuck",
            FaultKind::Drift => "drift",
            FaultKind::Dropout => "dropout",
            FaultKind::Noise => "noise",
            FaultKind::Offline => "offline",
            FaultKind::BatteryDeath => "battery_death",
            FaultKind::ClockSkew => "clock_skew",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reorder => "reorder",
        }
    }

    /// Look a name up.
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the fault alters one reading (and so may name a `sensor`).
    pub fn is_per_sensor(self) -> bool {
        matches!(
            self,
            FaultKind::Spike | FaultKind::Stuck | FaultKind::Drift | FaultKind::Noise
        )
    }

    /// Default magnitude (units, units per hour, σ multiplier or seconds by kind).
    pub fn default_magnitude(self) -> f64 {
        match self {
            FaultKind::Spike => 8.0,
            FaultKind::Drift => 3.0,
            FaultKind::Noise => 10.0,
            FaultKind::ClockSkew => 300.0,
            _ => 0.0,
        }
    }

    /// Default duration, seconds (0 = one message).
    pub fn default_duration(self) -> f64 {
        match self {
            FaultKind::Stuck => 900.0,
            FaultKind::Drift => 3600.0,
            FaultKind::Dropout => 600.0,
            FaultKind::Noise => 600.0,
            FaultKind::Offline => 300.0,
            FaultKind::ClockSkew => 600.0,
            FaultKind::Spike
            | FaultKind::BatteryDeath
            | FaultKind::Duplicate
            | FaultKind::Reorder => 0.0,
        }
    }
}

/// A fault with its parameters resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// Kind.
    pub kind: FaultKind,
    /// Reading it applies to; `None` = the device's first analysed reading.
    pub sensor: Option<String>,
    /// Size (meaning by kind).
    pub magnitude: f64,
    /// How long, seconds.
    pub duration: f64,
    /// Random onset rate per hour (group faults); 0 for timeline faults.
    pub per_hour: f64,
    /// `on = "gateway"`: an `offline` or `battery_death` that strikes the device's
    /// gateway, and so every device behind it.
    pub on_gateway: bool,
}
