//! Rooms and zones: a first-order thermal model driven by a daily outdoor cycle.

use scenarios::EnvironmentSpec;
use std::f64::consts::TAU;

/// Hour of day (0–24) at a Unix time.
pub fn hour_of_day(unix_secs: f64) -> f64 {
    (unix_secs.rem_euclid(86_400.0)) / 3600.0
}

/// A room's state and constants.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    /// Constants from the scenario.
    pub spec: EnvironmentSpec,
    /// Air temperature, °C.
    pub temperature: f64,
    /// Heating power switched on in this room during the last step, kW.
    pub heating_kw: f64,
}

impl Room {
    /// A room at its initial temperature.
    pub fn new(spec: EnvironmentSpec) -> Room {
        Room {
            temperature: spec.initial_temperature,
            spec,
            heating_kw: 0.0,
        }
    }

    /// Outdoor temperature at a Unix time: mean + amplitude·cos(2π(h − peak)/24).
    pub fn outdoor(&self, unix_secs: f64) -> f64 {
        let h = hour_of_day(unix_secs);
        self.spec.outdoor_mean
            + self.spec.outdoor_amplitude * (TAU * (h - self.spec.outdoor_peak_hour) / 24.0).cos()
    }

    /// Advance by `dt` seconds: relax toward the equilibrium temperature
    /// `outdoor + heater_gain·kW·tau_hours` with time constant `tau`, integrated exactly
    /// so any step size is stable.
    pub fn step(&mut self, unix_secs: f64, dt: f64) {
        let tau = self.spec.time_constant;
        let equilibrium =
            self.outdoor(unix_secs) + self.spec.heater_gain * self.heating_kw * tau / 3600.0;
        let k = 1.0 - (-dt / tau).exp();
        self.temperature += (equilibrium - self.temperature) * k;
    }

    /// Relative humidity: the daily cycle (highest before dawn), lowered when the room is
    /// warmer than it started (same water content, warmer air), about 6 % per °C.
    pub fn humidity(&self, unix_secs: f64) -> f64 {
        let h = hour_of_day(unix_secs);
        let daily =
            self.spec.humidity + self.spec.humidity_amplitude * (TAU * (h - 5.0) / 24.0).cos();
        let warming = self.temperature - self.spec.initial_temperature;
        (daily * (-0.06 * warming).exp()).clamp(1.0, 99.0)
    }

    /// Air pressure, hPa: the configured level with a slow three-day weather swing.
    pub fn pressure(&self, unix_secs: f64) -> f64 {
        self.spec.pressure + 4.0 * (TAU * unix_secs / (3.0 * 86_400.0)).sin()
    }

    /// Activity factor for motion: high by day, low at night, scaled by occupancy.
    pub fn activity(&self, unix_secs: f64) -> f64 {
        let h = hour_of_day(unix_secs);
        let day = if (7.0..23.0).contains(&h) { 1.0 } else { 0.08 };
        day * self.spec.occupancy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> EnvironmentSpec {
        EnvironmentSpec {
            name: "r".into(),
            outdoor_mean: 5.0,
            outdoor_amplitude: 0.0,
            outdoor_peak_hour: 15.0,
            initial_temperature: 20.0,
            time_constant: 3600.0,
            heater_gain: 4.0,
            humidity: 45.0,
            humidity_amplitude: 0.0,
            pressure: 1013.25,
            occupancy: 1.0,
        }
    }

    #[test]
    fn cools_toward_outdoor_with_its_time_constant() {
        let mut r = Room::new(spec());
        for _ in 0..3600 {
            r.step(0.0, 1.0);
        }
        // After one time constant, 1/e of the 15 °C gap remains.
        let expected = 5.0 + 15.0 * (-1.0f64).exp();
        assert!((r.temperature - expected).abs() < 1e-6, "{}", r.temperature);
    }

    #[test]
    fn heater_sets_the_equilibrium() {
        let mut r = Room::new(spec());
        r.heating_kw = 2.0;
        for _ in 0..100 {
            r.step(0.0, 3600.0);
        }
        // 5 + 4 °C/h/kW · 2 kW · 1 h = 13 °C.
        assert!((r.temperature - 13.0).abs() < 1e-6, "{}", r.temperature);
    }

    #[test]
    fn outdoor_peaks_at_the_peak_hour() {
        let mut s = spec();
        s.outdoor_amplitude = 4.0;
        let r = Room::new(s);
        assert!((r.outdoor(15.0 * 3600.0) - 9.0).abs() < 1e-9);
        assert!((r.outdoor(3.0 * 3600.0) - 1.0).abs() < 1e-9);
    }
}
