//! twinfleet's command line (`twin`) and, later, its terminal UI.

pub mod check;
pub mod cli;
pub mod load;
pub mod mirror;
pub mod progress;
pub mod tui;
