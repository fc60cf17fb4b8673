//! Checks a parsed scenario and expands its groups into a fleet.
//!
//! `driver` walks the tables in the order their checks depend on each other; each table
//! has its own file; `check` holds what every table shares: where errors point, the
//! size limits and the value checks. Device groups take two passes: `devices` expands ids
//! (pass 1), then `models` resolves model parameters (pass 2), since a thermostat or a soil
//! probe may name a device of a later group.

mod analytics;
mod broker;
mod check;
mod devices;
mod driver;
mod environments;
mod events;
mod exprs;
mod faults;
mod fleet;
mod gateways;
mod generators;
mod include;
mod models;
mod mqtt;
mod name_template;
mod rules;
mod scenario;
mod targets;
mod topics;
mod user_models;

pub(crate) use driver::expand;
