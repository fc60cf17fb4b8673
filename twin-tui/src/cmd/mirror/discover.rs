//! `twin mirror --discover 30s`: listen to everything on the broker, then print a
//! starter config for the devices recognised.

use crate::args::mirror::MirrorArgs;
use crate::common::runtime::io_runtime;
use scenarios::Dur;
use std::io::Write as _;
use std::time::Duration;

/// Listen for `--discover` (30 s without a value), print the config on stdout.
pub fn main(args: &MirrorArgs) -> anyhow::Result<u8> {
    let (url, ep) = args.broker.endpoint(None)?;
    let d = args.discover.map_or(30.0, Dur::secs);
    let runtime = io_runtime()?;
    if !args.quiet {
        eprintln!("listening to everything on {url} for {} ...", Dur(d));
    }
    let seen = runtime.block_on(hw_bridge::discover::listen(
        &ep,
        &url,
        Duration::from_secs_f64(d),
    ))?;
    let text = hw_bridge::discover::starter_config(&seen, &args.fleet, Some(&url));
    let _ = write!(std::io::stdout(), "{text}");
    Ok(0)
}
