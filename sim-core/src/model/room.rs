//! Rooms and zones: a first-order thermal model driven by a daily outdoor cycle.

use scenarios::EnvironmentSpec;
use std::f64::consts::TAU;

/// How fast a room's moisture follows its temperature, seconds: air exchange brings the
/// relative humidity back to the room's setting within about an hour, so a warming or a
/// heater cycle lowers it for a while and a cold night raises it for a while.
pub const MOISTURE_TIME_CONSTANT: f64 = 3600.0;

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
    /// The air temperature averaged over about [`MOISTURE_TIME_CONSTANT`], °C: the
    /// temperature at which the room holds its `humidity` setting.
    pub mean_temperature: f64,
}

impl Room {
    /// A room at its initial temperature.
    pub fn new(spec: EnvironmentSpec) -> Room {
        Room {
            temperature: spec.initial_temperature,
            mean_temperature: spec.initial_temperature,
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
        let m = 1.0 - (-dt / MOISTURE_TIME_CONSTANT).exp();
        self.mean_temperature += (self.temperature - self.mean_temperature) * m;
    }

    /// Relative humidity, %RH: the daily cycle around `humidity` (highest at 05:00), times
    /// `exp(−0.06 · (T − T̄))` (the same water in warmer air: about 6 % less per °C above
    /// the room's recent mean temperature `T̄`), within 1–99.
    pub fn humidity(&self, unix_secs: f64) -> f64 {
        let h = hour_of_day(unix_secs);
        let daily =
            self.spec.humidity + self.spec.humidity_amplitude * (TAU * (h - 5.0) / 24.0).cos();
        let warmer = self.temperature - self.mean_temperature;
        (daily * (-0.06 * warmer).exp()).clamp(1.0, 99.0)
    }

    /// Air pressure, hPa: `pressure` with a ±4 hPa weather swing over three days.
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
    fn humidity_holds_its_setting_once_the_room_settles_and_dips_while_it_warms() {
        let mut s = spec();
        s.initial_temperature = 15.0;
        let mut r = Room::new(s);
        // A cold room warming fast: same water in warmer air, the humidity falls ...
        r.heating_kw = 3.0;
        for _ in 0..1800 {
            r.step(0.0, 1.0);
        }
        let warming = r.humidity(0.0);
        assert!(warming < 44.0, "{warming}");
        // ... and comes back to the setting once the room holds its temperature.
        r.heating_kw = 0.0;
        r.spec.outdoor_mean = r.temperature;
        r.spec.time_constant = 1e9;
        for _ in 0..(6 * 3600) {
            r.step(0.0, 1.0);
        }
        assert!((r.humidity(0.0) - 45.0).abs() < 0.2, "{}", r.humidity(0.0));
        // A room that cools below its recent mean is damper, never past 99 %.
        r.temperature -= 60.0;
        assert!(r.humidity(0.0) > 45.0 && r.humidity(0.0) <= 99.0);
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
