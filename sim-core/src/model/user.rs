//! A device of a user-defined model (`[[models]]`): its generators' state, its calibration
//! offsets, its state variables, and the datasheet chain from a true value to what it
//! publishes. Pure: a function of the sim time, the room and the device's RNG, testable
//! without the ECS.
//!
//! Draws from the RNG come in a fixed order (offsets at creation; then per read, in
//! payload order, the generator's draw, the noise and the failed-read roll), so the same
//! seed gives the same bytes.

use crate::names::intern;
use crate::wire::Value;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use scenarios::{ExprValue, FIRST_READING, Generator, Scope, SetValue, UserModel};
use std::sync::Arc;

/// The room a device reads, when it sits in one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Env {
    /// °C.
    pub temperature: f64,
    /// %RH.
    pub humidity: f64,
    /// hPa.
    pub pressure: f64,
}

/// One device of a user model.
#[derive(Debug, Clone)]
pub struct UserDevice {
    /// The model.
    pub model: Arc<UserModel>,
    names: Vec<&'static str>,
    walk: Vec<f64>,
    next: Vec<usize>,
    offset: Vec<f64>,
    /// The scope its expressions read: builtins, readings (true values), states.
    pub vars: Vec<ExprValue>,
    /// Expressions that failed to evaluate (the reading is then left out).
    pub errors: u64,
}

/// What one read gives: published readings and the true value of each analysed one.
pub type Read = (Vec<(&'static str, Value)>, Vec<(&'static str, f64)>);

fn gauss<R: Rng>(rng: &mut R, sd: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    z * sd
}

impl UserDevice {
    /// A new device, with its calibration offsets drawn.
    pub fn new<R: Rng>(model: Arc<UserModel>, rng: &mut R) -> UserDevice {
        let offset = model
            .readings
            .iter()
            .map(|r| {
                if r.accuracy > 0.0 {
                    rng.random_range(-r.accuracy..=r.accuracy)
                } else {
                    0.0
                }
            })
            .collect();
        let walk = model
            .readings
            .iter()
            .map(|r| walk_start(&r.generator))
            .collect();
        let mut vars = vec![ExprValue::Float(0.0); FIRST_READING + model.readings.len()];
        vars.extend(model.states.iter().map(|s| s.initial.clone()));
        UserDevice {
            names: model.vars.iter().map(|v| intern(v)).collect(),
            next: vec![0; model.readings.len()],
            offset,
            walk,
            vars,
            model,
            errors: 0,
        }
    }

    /// Read every reading at sim time `t` (`hour` of the simulated day), in `env`.
    pub fn read<R: Rng>(&mut self, t: f64, hour: f64, env: Option<Env>, rng: &mut R) -> Read {
        let [temperature, humidity, pressure] = scenarios::NO_ROOM;
        let env = env.unwrap_or(Env {
            temperature,
            humidity,
            pressure,
        });
        let builtins = [t, hour, env.temperature, env.humidity, env.pressure];
        for (slot, v) in self.vars.iter_mut().zip(builtins) {
            *slot = ExprValue::Float(v);
        }
        let model = self.model.clone();
        let mut truth = vec![None; model.readings.len()];
        for &i in &model.order {
            let v = self.generate(i, t, rng);
            self.vars[FIRST_READING + i] = ExprValue::Float(v.unwrap_or(f64::NAN));
            truth[i] = v;
        }
        let mut out = (Vec::new(), Vec::new());
        for (i, r) in model.readings.iter().enumerate() {
            let noise = if r.noise > 0.0 {
                gauss(rng, r.noise)
            } else {
                0.0
            };
            let failed = r.fail_rate > 0.0 && rng.random_bool(r.fail_rate);
            let Some(v) = truth[i] else { continue };
            if r.analyse {
                out.1.push((self.names[FIRST_READING + i], v));
            }
            if failed {
                continue;
            }
            out.0.push((
                self.names[FIRST_READING + i],
                Value::Float(publish(r, v + self.offset[i] + noise)),
            ));
        }
        self.push_states(&mut out.0);
        out
    }

    /// The true value of reading `i` this read; `None` if its expression failed.
    fn generate<R: Rng>(&mut self, i: usize, t: f64, rng: &mut R) -> Option<f64> {
        let g = &self.model.readings[i].generator;
        Some(match g {
            Generator::Constant(x) => *x,
            Generator::Uniform(lo, hi) => rng.random_range(*lo..=*hi),
            Generator::Normal { mean, sd } => mean + gauss(rng, *sd),
            Generator::RandomWalk {
                start,
                step,
                min,
                max,
                reversion,
            } => {
                let w = self.walk[i];
                let moved = w + gauss(rng, *step) - reversion * (w - start);
                self.walk[i] = moved.clamp(*min, *max);
                self.walk[i]
            }
            Generator::Sine {
                mean,
                amplitude,
                period,
                phase,
            } => mean + amplitude * (std::f64::consts::TAU * (t + phase) / period).sin(),
            Generator::Ramp { from, per_hour, to } => {
                let v = from + per_hour * t / 3600.0;
                match to {
                    Some(to) if (*per_hour >= 0.0) == (v > *to) => *to,
                    _ => v,
                }
            }
            Generator::Sequence(v) => {
                let x = v[self.next[i] % v.len()];
                self.next[i] = (self.next[i] + 1) % v.len();
                x
            }
            Generator::Pick(v) => v[rng.random_range(0..v.len())],
            Generator::Expr(e) => {
                let scope = Scope {
                    index: &self.model.var_index,
                    values: &self.vars,
                };
                match e.number(&scope) {
                    Ok(x) if x.is_finite() => x,
                    _ => {
                        self.errors += 1;
                        return None;
                    }
                }
            }
        })
    }

    /// The published states after the readings.
    fn push_states(&self, out: &mut Vec<(&'static str, Value)>) {
        let first = FIRST_READING + self.model.readings.len();
        for (i, s) in self.model.states.iter().enumerate() {
            if !s.publish {
                continue;
            }
            let v = match &self.vars[first + i] {
                ExprValue::Boolean(b) => Value::Bool(*b),
                ExprValue::Float(x) => Value::Float(*x),
                ExprValue::String(w) => Value::Text(intern(w)),
                _ => continue,
            };
            out.push((self.names[first + i], v));
        }
    }

    /// Try the transitions against what was published (faults included: firmware reacts
    /// to what its sensor measures); true if a state changed.
    pub fn transitions(&mut self, published: &[(&'static str, Value)]) -> bool {
        let model = self.model.clone();
        if model.transitions.is_empty() {
            return false;
        }
        let mut scope_values = self.vars.clone();
        for (name, v) in published {
            if let Some(&i) = model.var_index.get(*name)
                && (FIRST_READING..FIRST_READING + model.readings.len()).contains(&i)
            {
                scope_values[i] = ExprValue::Float(v.as_f64());
            }
        }
        let mut changed = false;
        for tr in &model.transitions {
            let scope = Scope {
                index: &model.var_index,
                values: &scope_values,
            };
            if tr.when.truth(&scope).unwrap_or(false) {
                for (s, v) in &tr.set {
                    let slot = model.state_var(*s);
                    changed |= self.vars[slot] != *v;
                    self.vars[slot] = v.clone();
                    scope_values[slot] = v.clone();
                }
            }
        }
        changed
    }

    /// Apply a command (`{"set":{...}}` on states, or `{"command":"name"}`) whole or not
    /// at all; false if any key or value does not fit.
    pub fn apply(&mut self, set: &[(String, SetValue)]) -> bool {
        let mut changes = Vec::new();
        for (k, v) in set {
            if k == "command" {
                let SetValue::Text(name) = v else {
                    return false;
                };
                let Some(c) = self.model.commands.iter().find(|c| &c.name == name) else {
                    return false;
                };
                changes.extend(c.set.iter().cloned());
                continue;
            }
            let Some(i) = self.model.state(k) else {
                return false;
            };
            let value = v.to_expr();
            if !self.model.states[i].kind.admits(&value) {
                return false;
            }
            changes.push((i, value));
        }
        if changes.is_empty() {
            return false;
        }
        for (i, v) in changes {
            let slot = self.model.state_var(i);
            self.vars[slot] = v;
        }
        true
    }

    /// The current value of state `name`, for tests and views.
    pub fn state(&self, name: &str) -> Option<&ExprValue> {
        let i = self.model.state(name)?;
        self.vars.get(self.model.state_var(i))
    }
}

/// Where a random walk starts (0 for other generators: unused).
fn walk_start(g: &Generator) -> f64 {
    match g {
        Generator::RandomWalk { start, .. } => *start,
        _ => 0.0,
    }
}

/// The datasheet chain after offset and noise: clamp into the range, round to the
/// resolution.
fn publish(r: &scenarios::UserReading, v: f64) -> f64 {
    let v = match r.range {
        Some((lo, hi)) => v.clamp(lo, hi),
        None => v,
    };
    match r.resolution {
        Some(step) => ((v / step).round() * step * 1e6).round() / 1e6,
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn device(readings: &str) -> UserDevice {
        let src = format!(
            "[scenario]\nname = \"t\"\nduration = \"1h\"\n\n[[models]]\nname = \"m\"\n\n[models.readings]\n{readings}\n\n[[devices]]\nid = \"d\"\nmodel = \"m\"\n"
        );
        let s = scenarios::parse(&src, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        let scenarios::ModelSpec::User(m) = &s.devices[0].model else {
            panic!("not a user model")
        };
        UserDevice::new(m.clone(), &mut ChaCha8Rng::seed_from_u64(1))
    }

    fn values(d: &mut UserDevice, name: &str, reads: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        (0..reads)
            .map(|k| {
                let (out, _) = d.read(k as f64 * 600.0, 0.0, None, &mut rng);
                out.iter()
                    .find(|(n, _)| *n == name)
                    .map_or(f64::NAN, |(_, v)| v.as_f64())
            })
            .collect()
    }

    #[test]
    fn generators_follow_their_definitions() {
        let mut d = device(
            "s = { sequence = [1, 2, 3] }\nr = { ramp = { from = 10, per_hour = 6, to = 12 } }\nw = { random_walk = { start = 5, step = 1, min = 4, max = 6 } }\nc = { constant = 7.2, resolution = 0.5 }\nk = { constant = 99, range = [0, 50] }",
        );
        assert_eq!(values(&mut d, "s", 5), [1.0, 2.0, 3.0, 1.0, 2.0]);
        // Every 10 min: +1, stopping at 12.
        assert_eq!(values(&mut d, "r", 5), [10.0, 11.0, 12.0, 12.0, 12.0]);
        assert!(
            values(&mut d, "w", 200)
                .iter()
                .all(|v| (4.0..=6.0).contains(v))
        );
        assert_eq!(values(&mut d, "c", 1), [7.0], "rounded to the resolution");
        assert_eq!(values(&mut d, "k", 1), [50.0], "clamped into the range");
    }

    #[test]
    fn a_failed_read_leaves_the_reading_out_and_keeps_its_true_value() {
        let mut d = device("x = { constant = 1, fail_rate = 1.0 }\ny = { constant = 2 }");
        let (out, expected) = d.read(0.0, 0.0, None, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(out, [("y", Value::Float(2.0))]);
        assert_eq!(expected, [("x", 1.0), ("y", 2.0)]);
    }

    #[test]
    fn accuracy_is_an_offset_of_the_unit_and_noise_varies_by_read() {
        let mut d =
            device("x = { constant = 10, accuracy = 0.5 }\nn = { constant = 10, noise = 0.2 }");
        let x = values(&mut d, "x", 20);
        assert!(
            x.windows(2).all(|w| w[0] == w[1]),
            "one offset per unit: {x:?}"
        );
        assert!((x[0] - 10.0).abs() <= 0.5 && x[0] != 10.0);
        let n = values(&mut d, "n", 20);
        assert!(n.windows(2).any(|w| w[0] != w[1]), "noise moves each read");
    }
}
