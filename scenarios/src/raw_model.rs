//! `[[models]]` as written: a user-defined device model, in a scenario or in a model
//! library file that a scenario includes. Serde tables only; `expand::user_models` checks
//! them.

use crate::duration::Dur;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A model library file: `[[models]]` tables and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLibrary {
    #[serde(default)]
    pub models: Vec<ModelTable>,
}

/// One `[[models]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelTable {
    pub name: Spanned<String>,
    pub publish_every: Option<Spanned<Dur>>,
    #[serde(default)]
    pub readings: BTreeMap<Spanned<String>, Spanned<ReadingTable>>,
    #[serde(default)]
    pub state: BTreeMap<Spanned<String>, Spanned<StateTable>>,
    #[serde(default)]
    pub commands: BTreeMap<Spanned<String>, Spanned<Sets>>,
    #[serde(default)]
    pub transitions: Vec<Spanned<TransitionTable>>,
}

/// `{ state = value, ... }`: what a command or transition sets.
pub type Sets = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// One reading: exactly one generator, then the datasheet's properties.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingTable {
    pub constant: Option<Spanned<f64>>,
    pub uniform: Option<Spanned<[f64; 2]>>,
    pub normal: Option<Spanned<NormalTable>>,
    pub random_walk: Option<Spanned<WalkTable>>,
    pub sine: Option<Spanned<SineTable>>,
    pub ramp: Option<Spanned<RampTable>>,
    pub sequence: Option<Spanned<Vec<f64>>>,
    pub pick: Option<Spanned<Vec<f64>>>,
    pub expr: Option<Spanned<String>>,
    pub unit: Option<Spanned<String>>,
    pub resolution: Option<Spanned<f64>>,
    pub range: Option<Spanned<[f64; 2]>>,
    pub accuracy: Option<Spanned<f64>>,
    pub noise: Option<Spanned<f64>>,
    pub fail_rate: Option<Spanned<f64>>,
    pub analyse: Option<bool>,
}

/// `normal = { mean, sd }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalTable {
    pub mean: f64,
    pub sd: f64,
}

/// `random_walk = { start, step, min, max, reversion }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkTable {
    pub start: f64,
    pub step: f64,
    pub min: f64,
    pub max: f64,
    pub reversion: Option<f64>,
}

/// `sine = { mean, amplitude, period, phase }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SineTable {
    pub mean: f64,
    pub amplitude: f64,
    pub period: Dur,
    pub phase: Option<Dur>,
}

/// `ramp = { from, per_hour, to }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampTable {
    pub from: f64,
    pub per_hour: f64,
    pub to: Option<f64>,
}

/// One state variable: a boolean, a number (with an optional range) or one of `values`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateTable {
    pub initial: Spanned<toml::Value>,
    pub values: Option<Spanned<Vec<String>>>,
    pub range: Option<Spanned<[f64; 2]>>,
    pub publish: Option<bool>,
}

/// `[[models.transitions]]`: when the condition holds after a reading, set states.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionTable {
    pub when: Spanned<String>,
    pub set: Sets,
}
