//! `twin mirror`: mirror physical devices as twins (`session`), write a starter config
//! from what a broker carries (`discover`), and set a device's desired state (`set`).

mod discover;
mod session;
mod set;

use crate::args::mirror::{MirrorArgs, MirrorCommand};

/// Run `twin mirror`.
pub fn main(args: MirrorArgs) -> anyhow::Result<u8> {
    match args.command {
        Some(MirrorCommand::Set(s)) => set::main(&s),
        None if args.discover.is_some() => discover::main(&args),
        None => session::main(&args),
    }
}
