//! One module a command. Each takes its parsed `args` and returns the exit code; they
//! share `common` and `output` and never call each other (`crate::dispatch` picks one).

pub mod check;
pub mod load;
pub mod mirror;
pub mod record;
pub mod report;
pub mod run;
