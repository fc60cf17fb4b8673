//! The twinfleet scenario language.
//!
//! A scenario is a TOML file (documented key by key in `scenarios/README.md`). [`load`]
//! reads it, checks it and expands its device groups into a flat fleet: a [`Scenario`].
//! Every problem is reported as one [`ScenarioError`] with the file, line and column.
//!
//! The way through: `raw` reads the TOML into serde tables (unknown keys refused, values
//! kept with their byte spans), `expand` checks them table by table and expands the groups,
//! and the result is made of the plain types of `spec` and `device`. Nothing the engine
//! reads is left to resolve: device references are fleet indices, durations are seconds.
//! [`BrokerUrl`] and [`Dur`] are also parsed on their own, from the command line.
//!
//! The fixtures are worth keeping as they are: each file in `tests/invalid/` holds one
//! mistake and is asserted to be refused with its line, column and message, and every
//! shipped file in `examples/` is asserted to load. A change that moves a message or breaks
//! an example shows there first.

mod broker_url;
mod catalog;
mod depth;
mod device;
mod duration;
mod error;
mod expand;
mod fault;
mod file;
mod raw;
mod raw_model;
mod shard;
mod spec;
mod suggest;
mod user_model;

pub use broker_url::BrokerUrl;
pub use catalog::{COMMON_KEYS, CommandValueKind, ModelKind};
pub use device::{BatterySpec, Convention, DeviceSpec, GatewaySpec, GroupSpec, ModelSpec};
pub use duration::Dur;
pub use error::{BrokerUrlError, DurationError, Located, ScenarioError};
pub use fault::{FaultKind, FaultSpec};
pub use file::MAX_FILE_BYTES;
pub use raw::Speed;
pub use shard::{assignment, linked_sets};
pub use spec::{
    AnalyticsSpec, Encoding, EnvironmentSpec, EventAction, EventSpec, MqttSpec, RuleSpec, Scenario,
    SetValue, ShardSpec, fill_template,
};
pub use user_model::{
    BUILTIN_VARS, Expr, ExprValue, FIRST_READING, Generator, NO_ROOM, NamedCommand, Scope,
    StateKind, Transition, UserModel, UserReading, UserState,
};

use std::path::Path;

/// Read (at most [`MAX_FILE_BYTES`]), check and expand a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let src = file::read(path)?;
    parse(&src, &path.display().to_string())
}

/// Check and expand scenario text; `file` is only used in error messages.
pub fn parse(src: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let raw: raw::RawScenario = raw::read(src, file).map_err(ScenarioError::Invalid)?;
    expand::expand(raw, src, file).map_err(ScenarioError::Invalid)
}
