//! What every command shares: exit codes and error reporting, the async runtime, the
//! one signal handler, the JSON report writer and logging. Commands use these and the
//! `args` they were given; they never use each other.

pub mod exit;
pub mod logging;
pub mod report;
pub mod runtime;
pub mod signal;
