//! twinfleet's command line (`twin`) and its terminal UI.
//!
//! `args` is the shape of the command line (clap), `dispatch` hands it to one of the
//! commands in `cmd`, which use `common` (exit codes, runtime, signals, the report
//! writer) and `output` (progress bar, load lines, interval files, summaries). `tui` is
//! the terminal UI that `twin tui` drives.

pub mod args;
pub mod cmd;
pub mod common;
pub mod dispatch;
pub mod output;
pub mod tui;
