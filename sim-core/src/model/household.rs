//! Loads that follow people: motion (PIR) and household electricity.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// PIR motion sensor (HC-SR501 style): motion events arrive as a Poisson process whose
/// rate follows the room's activity; the output stays high for `hold` seconds after each.
#[derive(Debug, Clone, PartialEq)]
pub struct Pir {
    /// Events per hour at activity 1.0.
    pub events_per_hour: f64,
    /// Output hold time, seconds.
    pub hold: f64,
    /// Sim time until which the output is high.
    pub high_until: f64,
    /// Events since the last publish.
    pub events: u32,
}

impl Pir {
    /// Advance one step; returns true on a rising edge of the output.
    pub fn step<R: Rng>(&mut self, now: f64, dt: f64, activity: f64, rng: &mut R) -> bool {
        let rate = self.events_per_hour * activity / 3600.0;
        let p = 1.0 - (-rate * dt).exp();
        if p > 0.0 && rng.random_bool(p.min(1.0)) {
            let rising = now >= self.high_until;
            self.high_until = now + self.hold;
            self.events += 1;
            return rising;
        }
        false
    }

    /// Whether the output is high.
    pub fn motion(&self, now: f64) -> bool {
        now < self.high_until
    }
}

/// An appliance running in a household.
#[derive(Debug, Clone, PartialEq)]
struct Running {
    until: f64,
    watts: f64,
}

/// Household power meter: an always-on base, a daily profile (morning and evening peaks)
/// and appliances (kettle, oven, washing machine) switching in as Poisson arrivals.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerMeter {
    /// Always-on load, W.
    pub base_load_w: f64,
    /// Energy since start, kWh.
    pub energy_kwh: f64,
    running: Vec<Running>,
}

/// (watts, minutes, arrivals per day)
const APPLIANCES: [(f64, f64, f64); 4] = [
    (2000.0, 3.0, 6.0),  // kettle
    (2400.0, 45.0, 0.8), // oven
    (500.0, 90.0, 0.5),  // washing machine
    (1200.0, 10.0, 2.0), // microwave
];

impl PowerMeter {
    /// A meter with nothing running.
    pub fn new(base_load_w: f64) -> PowerMeter {
        PowerMeter {
            base_load_w,
            energy_kwh: 0.0,
            running: Vec::new(),
        }
    }

    /// Mean household load above base by hour of day, W.
    pub fn profile(hour: f64) -> f64 {
        let bump = |center: f64, width: f64, height: f64| {
            let d = (hour - center) / width;
            height * (-0.5 * d * d).exp()
        };
        bump(7.5, 1.0, 450.0) + bump(19.0, 2.0, 700.0) + bump(13.0, 2.5, 150.0)
    }

    /// Advance one step and return the instantaneous power, W.
    pub fn step<R: Rng>(&mut self, now: f64, hour: f64, dt: f64, rng: &mut R) -> f64 {
        self.running.retain(|r| r.until > now);
        let awake = if (6.5..23.5).contains(&hour) {
            1.0
        } else {
            0.05
        };
        for (watts, minutes, per_day) in APPLIANCES {
            // Arrivals concentrate in waking hours (17 of 24).
            let rate = per_day / (17.0 * 3600.0) * awake;
            if rng.random_bool((1.0 - (-rate * dt).exp()).min(1.0)) {
                self.running.push(Running {
                    until: now + minutes * 60.0,
                    watts,
                });
            }
        }
        let z: f64 = rng.sample(StandardNormal);
        let w = (self.base_load_w
            + Self::profile(hour)
            + self.running.iter().map(|r| r.watts).sum::<f64>()
            + 8.0 * z)
            .max(0.0);
        self.energy_kwh += w * dt / 3_600_000.0;
        w
    }

    /// Mains voltage for a load: 230 V nominal, sagging about 0.6 V per kW.
    pub fn voltage<R: Rng>(watts: f64, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        230.0 - 0.6 * watts / 1000.0 + 0.8 * z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pir_event_rate_matches_poisson_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut pir = Pir {
            events_per_hour: 30.0,
            hold: 5.0,
            high_until: 0.0,
            events: 0,
        };
        let hours = 200.0;
        let mut t = 0.0;
        while t < hours * 3600.0 {
            pir.step(t, 1.0, 1.0, &mut rng);
            t += 1.0;
        }
        let per_hour = f64::from(pir.events) / hours;
        assert!((27.0..33.0).contains(&per_hour), "{per_hour}");
        // Night activity is a small fraction of the day's.
        let mut night = Pir {
            events: 0,
            ..pir.clone()
        };
        for s in 0..(100 * 3600) {
            night.step(f64::from(s), 1.0, 0.08, &mut rng);
        }
        assert!(f64::from(night.events) / 100.0 < 5.0);
    }

    #[test]
    fn power_meter_evening_exceeds_night_and_integrates_energy() {
        assert!(PowerMeter::profile(19.0) > 600.0);
        assert!(PowerMeter::profile(3.0) < 20.0);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut m = PowerMeter::new(150.0);
        let mut sum_w = 0.0;
        for s in 0..3600 {
            sum_w += m.step(f64::from(s), 3.0, 1.0, &mut rng);
        }
        let mean_w = sum_w / 3600.0;
        assert!((m.energy_kwh - mean_w / 1000.0).abs() < 1e-9);
        assert!(mean_w >= 140.0, "{mean_w}");
    }

    #[test]
    fn base_load_is_the_floor_of_the_load_read_with_eight_watts_of_noise() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut m = PowerMeter::new(200.0);
        let (mut min, mut sum, n) = (f64::MAX, 0.0, 2 * 86_400);
        for s in 0..n {
            let t = f64::from(s);
            let w = m.step(t, (t / 3600.0) % 24.0, 1.0, &mut rng);
            min = min.min(w);
            sum += w;
        }
        // Below the floor only by the meter's noise (5 sigma of 8 W over 172,800 reads) …
        assert!((200.0 - 5.0 * 8.0..200.0).contains(&min), "{min}");
        // … and the day's profile and appliances put the mean well above it.
        assert!(sum / f64::from(n) > 300.0, "{}", sum / f64::from(n));
    }
}
