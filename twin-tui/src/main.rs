//! `twin`: the twinfleet command line. Everything lives in the library.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    twin_tui::dispatch::run(twin_tui::args::Cli::parse())
}
