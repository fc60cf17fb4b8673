//! `twin`: the twinfleet command line. Everything lives in the library.

fn main() -> std::process::ExitCode {
    twin_tui::cli::main()
}
