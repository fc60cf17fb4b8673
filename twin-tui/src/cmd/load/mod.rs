//! `twin load pub|sub|conn`: synthetic load with exact accounting, one file a
//! subcommand. (`twin load SCENARIO` is a run: `crate::cmd::run::as_load`.)

mod connect;
mod gate;
mod publish;
mod recorded;
mod subscribe;

use crate::args::load::LoadCommand;

/// Run a `twin load` subcommand.
pub fn main(cmd: LoadCommand) -> anyhow::Result<u8> {
    match cmd {
        LoadCommand::Pub(args) => publish::main(&args),
        LoadCommand::Conn(args) => connect::main(&args),
        LoadCommand::Sub(args) => subscribe::main(&args),
    }
}
