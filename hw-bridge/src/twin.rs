//! The twin a physical sensor is compared with: its room, as sim-core's first-order
//! thermal model ([`sim_core::model::room::Room`]), heated while a real switch (another
//! mirrored device's relay) is on. Each reading is judged against the room's noise-free
//! temperature; a reading further than the tolerance from it, several times running, is a
//! disagreement.

use crate::config::TwinConfig;
use scenarios::EnvironmentSpec;
use sim_core::model::room::Room;

/// What one reading did to the disagreement state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Nothing changed.
    Same,
    /// A disagreement began at this time (the first reading beyond the tolerance).
    Opened(f64),
    /// The disagreement ended.
    Closed,
}

/// One device's twin.
#[derive(Debug, Clone)]
pub struct Twin {
    /// Settings.
    pub cfg: TwinConfig,
    room: Option<Room>,
    /// When the room was last advanced, seconds.
    clock: f64,
    /// Whether the bound heater switch is on.
    pub heater_on: bool,
    /// The latest reading's residual (reading − prediction).
    pub residual: Option<f64>,
    /// Largest |residual| seen.
    pub max_abs_residual: f64,
    beyond: usize,
    within: usize,
    first_beyond: f64,
    /// A disagreement is open.
    pub diverging: bool,
}

impl Twin {
    /// A twin from its settings; the room starts at the first reading unless `initial`
    /// is set.
    pub fn new(cfg: TwinConfig, now: f64) -> Twin {
        let mut t = Twin {
            room: None,
            clock: now,
            heater_on: false,
            residual: None,
            max_abs_residual: 0.0,
            beyond: 0,
            within: 0,
            first_beyond: now,
            diverging: false,
            cfg,
        };
        if let Some(initial) = t.cfg.initial {
            t.room = Some(t.make_room(initial));
        }
        t
    }

    fn make_room(&self, initial: f64) -> Room {
        Room::new(EnvironmentSpec {
            name: "mirror".into(),
            outdoor_mean: self.cfg.outdoor,
            outdoor_amplitude: 0.0,
            outdoor_peak_hour: 15.0,
            initial_temperature: initial,
            time_constant: self.cfg.time_constant,
            heater_gain: self.cfg.heater_gain,
            humidity: 50.0,
            humidity_amplitude: 0.0,
            pressure: 1013.25,
            occupancy: 0.0,
        })
    }

    /// Advance the room to `now` with the heater as it has been.
    pub fn advance(&mut self, now: f64) {
        let dt = now - self.clock;
        if dt <= 0.0 {
            return;
        }
        self.clock = now;
        if let Some(room) = &mut self.room {
            room.heating_kw = if self.heater_on {
                self.cfg.heater_kw
            } else {
                0.0
            };
            room.step(now, dt);
        }
    }

    /// The heater switch changed at `now`.
    pub fn set_heater(&mut self, on: bool, now: f64) {
        self.advance(now);
        self.heater_on = on;
    }

    /// The room's noise-free temperature now, once it has a starting point.
    pub fn predicted(&self) -> Option<f64> {
        self.room.as_ref().map(|r| r.temperature)
    }

    /// Judge a reading taken at `now`; returns the prediction it was judged against.
    pub fn observe(&mut self, now: f64, value: f64) -> (f64, Verdict) {
        self.advance(now);
        let predicted = match &self.room {
            Some(r) => r.temperature,
            None => {
                self.room = Some(self.make_room(value));
                value
            }
        };
        let residual = value - predicted;
        self.residual = Some(residual);
        self.max_abs_residual = self.max_abs_residual.max(residual.abs());
        let verdict = if residual.abs() > self.cfg.tolerance {
            if self.beyond == 0 {
                self.first_beyond = now;
            }
            self.beyond += 1;
            self.within = 0;
            if !self.diverging && self.beyond >= self.cfg.confirm {
                self.diverging = true;
                Verdict::Opened(self.first_beyond)
            } else {
                Verdict::Same
            }
        } else {
            self.within += 1;
            self.beyond = 0;
            if self.diverging && self.within >= self.cfg.confirm {
                self.diverging = false;
                Verdict::Closed
            } else {
                Verdict::Same
            }
        };
        (predicted, verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TwinConfig {
        TwinConfig {
            reading: "temperature".into(),
            initial: None,
            outdoor: 10.0,
            time_constant: 3600.0,
            heater_gain: 4.0,
            heater: Some(("plug".into(), "power".into())),
            heater_kw: 2.0,
            tolerance: 1.0,
            confirm: 3,
        }
    }

    #[test]
    fn the_heater_warms_the_prediction() {
        let mut t = Twin::new(cfg(), 0.0);
        t.observe(0.0, 20.0);
        t.set_heater(true, 0.0);
        t.advance(3600.0);
        // Heated, the equilibrium is 10 + 4·2·1 = 18 °C; after one τ, 1/e of the 2 °C gap remains.
        let expected = 18.0 + 2.0 * (-1.0f64).exp();
        let p = t.predicted().expect("started");
        assert!((p - expected).abs() < 1e-9, "{p}");
        let mut cold = Twin::new(cfg(), 0.0);
        cold.observe(0.0, 20.0);
        cold.advance(3600.0);
        assert!(cold.predicted().expect("started") < p - 1.0);
    }

    #[test]
    fn a_drifting_sensor_opens_then_closes_a_disagreement() {
        let mut t = Twin::new(cfg(), 0.0);
        let mut opened = None;
        for i in 0..20 {
            let drift = if i < 5 { 0.0 } else { 0.6 * (i - 4) as f64 };
            let now = i as f64;
            let p = t.predicted().unwrap_or(20.0);
            if let (_, Verdict::Opened(at)) = t.observe(now, p + drift) {
                opened = Some((i, at));
            }
        }
        // Beyond 1.0 from the 7th reading (drift 1.2), confirmed at the 9th.
        assert_eq!(opened, Some((8, 6.0)));
        assert!(t.diverging);
        let mut closed = false;
        for i in 20..23 {
            let p = t.predicted().unwrap_or(20.0);
            closed |= t.observe(i as f64, p).1 == Verdict::Closed;
        }
        assert!(closed && !t.diverging);
        assert!(t.max_abs_residual > 8.9, "{}", t.max_abs_residual);
    }
}
