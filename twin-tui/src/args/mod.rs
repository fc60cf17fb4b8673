//! The command line's shape: clap's tree of commands and their flags. Nothing here runs
//! a command; `crate::cmd` does that with what these types parsed.
//!
//! One file a command (`run`, `load`, `mirror`, `report`), the root in `cli`, the flag
//! groups several commands flatten in (broker, TLS and credentials) in `broker`, and the
//! value parsers in `values`. A flag's doc comment is its `--help` text.

pub mod broker;
pub mod cli;
pub mod load;
pub mod mirror;
pub mod record;
pub mod report;
pub mod run;
pub mod values;

pub use cli::{Cli, Command};
