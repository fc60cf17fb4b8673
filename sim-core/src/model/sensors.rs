//! Sensor parts as their datasheets describe them: calibration error fixed per unit,
//! read noise, resolution, failed reads. Pure functions of the true value and an RNG.

use crate::wire::Value;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

fn gauss<R: Rng>(rng: &mut R, sd: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    z * sd
}

fn round_to(x: f64, step: f64) -> f64 {
    // Round, then re-derive through a decimal string-free path that keeps 0.1 steps tidy.
    let q = (x / step).round() * step;
    (q * 1e6).round() / 1e6
}

/// Aosong DHT22 (AM2302). Datasheet: temperature accuracy ±0.5 °C, humidity ±2 %RH,
/// resolution 0.1 for both, sampling period at least 2 s. Real units fail a read now and
/// then (checksum or timeout); drivers then return nothing for that period.
#[derive(Debug, Clone, PartialEq)]
pub struct Dht22 {
    /// This unit's temperature calibration error, °C.
    pub temp_offset: f64,
    /// This unit's humidity calibration error, %RH.
    pub hum_offset: f64,
}

impl Dht22 {
    /// Accuracy bound on temperature, °C.
    pub const TEMP_ACCURACY: f64 = 0.5;
    /// Accuracy bound on humidity, %RH.
    pub const HUM_ACCURACY: f64 = 2.0;
    /// Resolution of both readings.
    pub const RESOLUTION: f64 = 0.1;
    /// Probability that one read fails.
    pub const FAILED_READ: f64 = 0.01;

    /// A new unit with its own calibration error.
    pub fn new<R: Rng>(rng: &mut R) -> Dht22 {
        Dht22 {
            temp_offset: rng.random_range(-0.3..0.3),
            hum_offset: rng.random_range(-1.2..1.2),
        }
    }

    /// Read true temperature (°C) and relative humidity (%RH). `None` is a failed read.
    pub fn read<R: Rng>(&self, temp: f64, rh: f64, rng: &mut R) -> Option<(f64, f64)> {
        if rng.random_bool(Self::FAILED_READ) {
            return None;
        }
        // Keep the error within the datasheet bound after rounding to 0.1.
        let te = (self.temp_offset + gauss(rng, 0.05)).clamp(-0.45, 0.45);
        let he = (self.hum_offset + gauss(rng, 0.3)).clamp(-1.95, 1.95);
        let t = round_to((temp + te).clamp(-40.0, 80.0), Self::RESOLUTION);
        let h = round_to((rh + he).clamp(0.0, 99.9), Self::RESOLUTION);
        Some((t, h))
    }
}

/// Bosch BME280. Datasheet: temperature ±1.0 °C (0–65 °C), humidity ±3 %RH, pressure
/// ±1.0 hPa absolute; output resolution 0.01 °C, 0.008 %RH, 0.18 Pa (published at 0.01).
#[derive(Debug, Clone, PartialEq)]
pub struct Bme280 {
    /// Temperature calibration error, °C.
    pub temp_offset: f64,
    /// Humidity calibration error, %RH.
    pub hum_offset: f64,
    /// Pressure calibration error, hPa.
    pub press_offset: f64,
}

impl Bme280 {
    /// Accuracy bound on temperature, °C.
    pub const TEMP_ACCURACY: f64 = 1.0;
    /// Accuracy bound on humidity, %RH.
    pub const HUM_ACCURACY: f64 = 3.0;
    /// Accuracy bound on pressure, hPa.
    pub const PRESS_ACCURACY: f64 = 1.0;

    /// A new unit.
    pub fn new<R: Rng>(rng: &mut R) -> Bme280 {
        Bme280 {
            temp_offset: rng.random_range(-0.7..0.7),
            hum_offset: rng.random_range(-2.5..2.5),
            press_offset: rng.random_range(-0.8..0.8),
        }
    }

    /// Read temperature (°C), humidity (%RH), pressure (hPa).
    pub fn read<R: Rng>(&self, temp: f64, rh: f64, hpa: f64, rng: &mut R) -> (f64, f64, f64) {
        let te = (self.temp_offset + gauss(rng, 0.02)).clamp(-0.99, 0.99);
        let he = (self.hum_offset + gauss(rng, 0.1)).clamp(-2.99, 2.99);
        let pe = (self.press_offset + gauss(rng, 0.02)).clamp(-0.99, 0.99);
        (
            round_to(temp + te, 0.01),
            round_to((rh + he).clamp(0.0, 100.0), 0.01),
            round_to(hpa + pe, 0.01),
        )
    }
}

/// Maxim DS18B20. Datasheet: ±0.5 °C from −10 to +85 °C; 12-bit resolution is
/// 0.0625 °C per step; a 12-bit conversion takes up to 750 ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Ds18b20 {
    /// Calibration error, °C.
    pub offset: f64,
}

impl Ds18b20 {
    /// One LSB at 12-bit resolution, °C.
    pub const STEP: f64 = 0.0625;
    /// Accuracy bound, °C.
    pub const ACCURACY: f64 = 0.5;

    /// A new unit.
    pub fn new<R: Rng>(rng: &mut R) -> Ds18b20 {
        Ds18b20 {
            offset: rng.random_range(-0.3..0.3),
        }
    }

    /// Read temperature, a whole number of 0.0625 °C steps.
    pub fn read<R: Rng>(&self, temp: f64, rng: &mut R) -> f64 {
        let e = (self.offset + gauss(rng, 0.03)).clamp(-0.43, 0.43);
        // The part reports a 16-bit two's-complement count of 1/16 °C.
        ((temp + e).clamp(-55.0, 125.0) / Self::STEP).round() * Self::STEP
    }
}

/// Analog Devices TMP36 read by a 12-bit ADC with a 3.3 V reference. Datasheet: 10 mV/°C,
/// 500 mV at 0 °C (750 mV at 25 °C), accuracy ±2 °C over −40..+125 °C.
#[derive(Debug, Clone, PartialEq)]
pub struct Tmp36 {
    /// Calibration error, °C.
    pub offset: f64,
}

impl Tmp36 {
    /// ADC full-scale count.
    pub const ADC_MAX: f64 = 4095.0;
    /// ADC reference voltage, V.
    pub const VREF: f64 = 3.3;
    /// Accuracy bound of the part, °C.
    pub const ACCURACY: f64 = 2.0;

    /// A new unit.
    pub fn new<R: Rng>(rng: &mut R) -> Tmp36 {
        Tmp36 {
            offset: rng.random_range(-1.0..1.0),
        }
    }

    /// The firmware's conversion: °C = (raw·3.3/4095 − 0.5)·100.
    pub fn celsius(raw: i64) -> f64 {
        (raw as f64 * Self::VREF / Self::ADC_MAX - 0.5) * 100.0
    }

    /// Read: the raw ADC count and the temperature computed from it (rounded to 0.01).
    pub fn read<R: Rng>(&self, temp: f64, rng: &mut R) -> (i64, f64) {
        let volts = ((temp + self.offset) / 100.0 + 0.5).clamp(0.0, Self::VREF);
        // About one LSB of ADC noise.
        let raw = (volts / Self::VREF * Self::ADC_MAX + gauss(rng, 0.8))
            .round()
            .clamp(0.0, Self::ADC_MAX) as i64;
        (raw, round_to(Self::celsius(raw), 0.01))
    }
}

/// Capacitive soil-moisture probe on a 12-bit ADC: about 3000 counts in dry air,
/// about 1300 in water; the firmware maps counts linearly to percent.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilProbe {
    /// This probe's count in dry air.
    pub dry_count: f64,
    /// This probe's count in water.
    pub wet_count: f64,
}

impl SoilProbe {
    /// A new probe.
    pub fn new<R: Rng>(rng: &mut R) -> SoilProbe {
        SoilProbe {
            dry_count: 3000.0 + rng.random_range(-60.0..60.0),
            wet_count: 1300.0 + rng.random_range(-40.0..40.0),
        }
    }

    /// Read the raw count and percent for a true moisture in percent (0–100).
    pub fn read<R: Rng>(&self, moisture: f64, rng: &mut R) -> (i64, f64) {
        let m = moisture.clamp(0.0, 100.0) / 100.0;
        let raw = (self.dry_count + (self.wet_count - self.dry_count) * m + gauss(rng, 4.0))
            .round()
            .clamp(0.0, 4095.0) as i64;
        // Firmware uses nominal calibration (3000 dry, 1300 wet), so units differ a little.
        let pct = ((3000.0 - raw as f64) / (3000.0 - 1300.0) * 100.0).clamp(0.0, 100.0);
        (raw, round_to(pct, 0.1))
    }
}

/// LiPo cell voltage for a state of charge (0–1), a typical discharge curve.
pub fn lipo_voltage(soc: f64) -> f64 {
    let s = soc.clamp(0.0, 1.0);
    // 3.0 V empty, knee near 3.6 V, 4.2 V full.
    let v = 3.0 + 0.6 * (s * 8.0).min(1.0) + 0.45 * s + 0.15 * s * s;
    round_to(v, 0.01)
}

/// Readings vector helper.
pub fn f(name: &'static str, v: f64) -> (&'static str, Value) {
    (name, Value::Float(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn is_multiple(x: f64, step: f64) -> bool {
        let k = x / step;
        (k - k.round()).abs() < 1e-6
    }

    #[test]
    fn dht22_holds_its_datasheet_figures() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut fails, n) = (0, 20_000);
        for i in 0..n {
            let unit = Dht22::new(&mut rng);
            let truth_t = 15.0 + (i % 100) as f64 * 0.137;
            let truth_h = 30.0 + (i % 50) as f64 * 0.71;
            match unit.read(truth_t, truth_h, &mut rng) {
                None => fails += 1,
                Some((t, h)) => {
                    assert!(
                        (t - truth_t).abs() <= Dht22::TEMP_ACCURACY + 1e-9,
                        "{t} vs {truth_t}"
                    );
                    assert!(
                        (h - truth_h).abs() <= Dht22::HUM_ACCURACY + 1e-9,
                        "{h} vs {truth_h}"
                    );
                    assert!(is_multiple(t, 0.1) && is_multiple(h, 0.1), "{t} {h}");
                }
            }
        }
        let rate = fails as f64 / n as f64;
        assert!((0.005..0.02).contains(&rate), "failed-read rate {rate}");
    }

    #[test]
    fn bme280_within_accuracy() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..5_000 {
            let unit = Bme280::new(&mut rng);
            let (t, h, p) = unit.read(22.0, 50.0, 1013.25, &mut rng);
            assert!((t - 22.0).abs() <= Bme280::TEMP_ACCURACY);
            assert!((h - 50.0).abs() <= Bme280::HUM_ACCURACY);
            assert!((p - 1013.25).abs() <= Bme280::PRESS_ACCURACY + 1e-9);
            assert!(is_multiple(t, 0.01));
        }
    }

    #[test]
    fn ds18b20_reports_sixteenths_within_half_a_degree() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for i in 0..5_000 {
            let unit = Ds18b20::new(&mut rng);
            let truth = -5.0 + i as f64 * 0.01;
            let t = unit.read(truth, &mut rng);
            assert!(is_multiple(t, Ds18b20::STEP), "{t}");
            assert!((t - truth).abs() <= Ds18b20::ACCURACY, "{t} vs {truth}");
        }
    }

    #[test]
    fn tmp36_raw_and_celsius_follow_the_transfer_function() {
        // 25 °C is 750 mV: 750/3300·4095 = 930.7 counts.
        assert!((Tmp36::celsius(931) - 25.03).abs() < 0.01);
        assert!((Tmp36::celsius(620) - (-0.03)).abs() < 0.01);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for i in 0..5_000 {
            let unit = Tmp36::new(&mut rng);
            let truth = 10.0 + (i % 300) as f64 * 0.1;
            let (raw, t) = unit.read(truth, &mut rng);
            assert!((t - (Tmp36::celsius(raw) * 100.0).round() / 100.0).abs() < 1e-9);
            // ±2 °C part accuracy plus a few ADC LSBs (0.08 °C each).
            assert!((t - truth).abs() <= Tmp36::ACCURACY + 0.4, "{t} vs {truth}");
        }
    }

    #[test]
    fn soil_probe_maps_dry_and_wet() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = SoilProbe::new(&mut rng);
        let (raw_dry, pct_dry) = p.read(0.0, &mut rng);
        let (raw_wet, pct_wet) = p.read(100.0, &mut rng);
        assert!(raw_dry > 2900 && raw_wet < 1400, "{raw_dry} {raw_wet}");
        assert!(pct_dry < 6.0 && pct_wet > 94.0, "{pct_dry} {pct_wet}");
    }

    #[test]
    fn lipo_curve_is_monotonic_from_3_to_4_2_volts() {
        assert!((lipo_voltage(0.0) - 3.0).abs() < 1e-9);
        assert!((lipo_voltage(1.0) - 4.2).abs() < 1e-9);
        let mut last = 0.0;
        for i in 0..=100 {
            let v = lipo_voltage(i as f64 / 100.0);
            assert!(v >= last);
            last = v;
        }
    }
}
