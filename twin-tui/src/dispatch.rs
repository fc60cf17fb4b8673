//! From parsed arguments to the command that runs them, and from its outcome to the exit
//! code. The one place that knows every command.

use crate::args::load::LoadArgs;
use crate::args::{Cli, Command};
use crate::cmd;
use crate::common::exit::exit_code;
use crate::common::logging::init_logging;
use std::process::ExitCode;

/// Run the command `cli` names; errors are printed and become exit codes 1 or 2.
pub fn run(cli: Cli) -> ExitCode {
    init_logging();
    exit_code(match cli.command {
        Command::Run(c) => cmd::run::main(&c.into_args()),
        Command::Tui(c) => cmd::run::main(&c.into_args()),
        Command::Check(args) => cmd::check::main(&args).map(|()| 0),
        Command::Load(args) => load(*args),
        Command::Mirror(args) => cmd::mirror::main(*args),
        Command::Report(cmd) => cmd::report::main(cmd),
        Command::Record(args) => cmd::record::record(&args),
        Command::Replay(args) => cmd::record::replay(&args),
    })
}

/// `twin load SCENARIO` is a run; `twin load pub|sub|conn` the load commands.
fn load(args: LoadArgs) -> anyhow::Result<u8> {
    match args.command {
        Some(sub) => cmd::load::main(sub),
        None => cmd::run::as_load(args.into_run()),
    }
}
