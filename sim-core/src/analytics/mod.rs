//! The analytics core: per-sensor windows and detectors ([`sensor`]), fleet-level
//! episodes ([`fleet`]), and grading against injected faults ([`score`]).

pub mod fleet;
pub mod score;
pub mod sensor;
