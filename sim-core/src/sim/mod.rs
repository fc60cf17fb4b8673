//! The simulation: a bevy_ecs world stepped on a fixed sim clock.
//!
//! [`Sim::step`] runs the schedule with no thread and no wall clock, for deterministic
//! tests and benches; [`clock::spawn`] runs the same schedule on its own named thread,
//! paced by the scenario's speed. The sim thread never awaits: each pass drains capped
//! batches with `try_recv`, and every send is a `try_send`, so a slow network shows up
//! as messages dropped at source, never as a stalled clock.
//!
//! Files: [`io`] (channels and their messages), [`resources`] (clock, counters, lookup
//! tables), [`build`] (the world from a scenario), [`schedule`] (the order of systems),
//! the systems by stage ([`inputs`], [`physics`], [`sensors`], [`control`], [`publish`],
//! and [`fault`] for injected faults, `gateway` for those that strike a gateway),
//! [`engine`] ([`Sim`]) and [`clock`] (the thread).

pub(crate) mod build;
pub mod clock;
mod control;
mod driven;
mod engine;
pub(crate) mod fault;
mod gateway;
mod inputs;
mod io;
mod physics;
mod publish;
mod resources;
mod schedule;
mod sensors;
mod user;

pub use engine::Sim;
pub use io::{InboundCommand, SessionCommand, SimIo, Steer};
pub use resources::{SimClock, SimStats};
