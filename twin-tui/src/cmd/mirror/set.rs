//! `twin mirror set DEVICE key=value...`: ask a running mirror to change a device's
//! desired state and wait until the device reports it.

use crate::args::mirror::SetArgs;
use crate::args::values::to_duration;
use crate::common::exit::{EXIT_BAD_INPUT, EXIT_FAILED, bad_input};
use crate::common::runtime::io_runtime;
use hw_bridge::MirrorConfig;
use hw_bridge::set::SetOutcome;
use serde_json::{Value, json};

/// Send the update, wait for the outcome, print it; exit 0 converged, 1 unconfirmed, 2
/// refused.
pub fn main(args: &SetArgs) -> anyhow::Result<u8> {
    let desired = hw_bridge::value::parse_assignments(&args.pairs)?;
    let cfg = args.config.as_deref().map(MirrorConfig::load).transpose()?;
    let fleet = fleet(args, cfg.as_ref())?;
    let (url, ep) = args
        .broker
        .endpoint(cfg.as_ref().and_then(|c| c.broker.as_deref()))?;
    let runtime = io_runtime()?;
    let outcome = runtime.block_on(hw_bridge::set::set(
        &ep,
        &url,
        &fleet,
        &args.device,
        &desired,
        args.version,
        to_duration(args.timeout),
    ))?;
    let (code, text, json) = described(args, &outcome);
    if args.json {
        println!("{json}");
    } else if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    Ok(code)
}

/// The fleet to address (--fleet, else the config's), the device checked against the
/// config when there is one.
fn fleet(args: &SetArgs, cfg: Option<&MirrorConfig>) -> anyhow::Result<String> {
    let fleet = match (&args.fleet, cfg) {
        (Some(f), _) => f.clone(),
        (None, Some(c)) => c.fleet.clone(),
        (None, None) => return Err(bad_input("which fleet? give --config FILE or --fleet NAME")),
    };
    if let Some(c) = cfg
        && c.device(&args.device).is_none()
    {
        return Err(bad_input(format!(
            "no device \"{}\" in {}",
            args.device,
            args.config
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )));
    }
    Ok(fleet)
}

/// The outcome as an exit code, a line for people and a JSON object.
fn described(args: &SetArgs, outcome: &SetOutcome) -> (u8, String, Value) {
    match outcome {
        SetOutcome::Converged {
            version,
            reported,
            elapsed,
        } => (
            0,
            format!(
                "{}: reported {} (shadow version {version}) after {:.0} ms",
                args.device,
                Value::Object(reported.clone()),
                elapsed.as_secs_f64() * 1000.0
            ),
            json!({"device": args.device, "outcome": "converged", "version": version, "reported": reported, "elapsed_ms": elapsed.as_secs_f64() * 1000.0}),
        ),
        SetOutcome::Unconfirmed { version, delta } => (
            EXIT_FAILED,
            format!(
                "{}: accepted (version {version}) but not reported within {}: still wanted {}",
                args.device,
                args.timeout,
                Value::Object(delta.clone())
            ),
            json!({"device": args.device, "outcome": "unconfirmed", "version": version, "delta": delta}),
        ),
        SetOutcome::Rejected { code, message } => (
            EXIT_BAD_INPUT,
            format!("{}: refused ({code}): {message}", args.device),
            json!({"device": args.device, "outcome": "rejected", "code": code, "message": message}),
        ),
    }
}
