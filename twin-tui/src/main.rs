//! `twin`: the twinfleet command line. Everything lives in the library.

fn main() -> std::process::ExitCode {
    twin_tui::dispatch::run(twin_tui::args::Cli::from_env())
}
