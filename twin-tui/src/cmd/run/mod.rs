//! `twin run`, `twin tui` and `twin load SCENARIO`: one scenario run, shown three ways
//! (a progress bar, the terminal UI, or load lines each second).

mod finish;
mod plain;
mod scenario;
mod tui;

use crate::args::run::RunArgs;

/// Run `twin run`, or `twin tui` when `args.tui` is set.
pub fn main(args: &RunArgs) -> anyhow::Result<u8> {
    if args.attach {
        return tui::attach(args);
    }
    if args.tui {
        tui::run(args)
    } else {
        plain::run(args)
    }
}

/// Run `twin load SCENARIO`: the scenario's fleet in real time (speed 1 unless --speed
/// says otherwise) as the load, with a load line each second instead of the progress bar.
pub fn as_load(mut args: RunArgs) -> anyhow::Result<u8> {
    args.load_lines = true;
    args.speed.get_or_insert(scenarios::Speed::Factor(1.0));
    plain::run(&args)
}
