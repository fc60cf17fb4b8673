//! Exit codes, and how an error becomes a message and one of them.

use scenarios::ScenarioError;
use sim_core::run::RunError;
use std::process::ExitCode;

/// Exit code: the run failed (broker unreachable, I/O error).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad input (scenario, flags).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: a `--fail-on-*` condition held.
pub const EXIT_CONDITION: u8 = 3;
/// Exit code: interrupted (the report is still written).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Bad input the command line found itself (a flag, a file a flag names): exit code 2.
// Display and Error by hand: one message field is all it has, and the binary needs no
// derive crate for it.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A [`BadInput`] as the error a command returns: a message, or any error whose text is
/// the whole of what the user needs (a library's typed error for a flag's value).
pub fn bad_input(msg: impl std::fmt::Display) -> anyhow::Error {
    BadInput(msg.to_string()).into()
}

/// The exit code of a command's outcome; an error is printed on stderr first.
pub fn exit_code(outcome: anyhow::Result<u8>) -> ExitCode {
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => report_error(&e),
    }
}

/// Print an error and pick its exit code: 2 for bad input, 130 for a signal that stopped
/// the command before it had anything to report, 1 for everything else.
fn report_error(e: &anyhow::Error) -> ExitCode {
    if let Some(se) = e.downcast_ref::<ScenarioError>() {
        eprintln!("error: {se}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if is_interrupted(e) {
        eprintln!("twin: {e:#}");
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    eprintln!("error: {e:#}");
    ExitCode::from(if is_bad_input(e) {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILED
    })
}

/// Whether a signal stopped the command (while it connected, before any report).
fn is_interrupted(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<RunError>(),
        Some(RunError::Interrupted { .. })
    ) || matches!(
        e.downcast_ref::<hw_bridge::BridgeError>(),
        Some(hw_bridge::BridgeError::Run(RunError::Interrupted { .. }))
    )
}

/// Whether the error is the user's input rather than the run.
fn is_bad_input(e: &anyhow::Error) -> bool {
    e.downcast_ref::<BadInput>().is_some()
        || matches!(
            e.downcast_ref::<hw_bridge::BridgeError>(),
            Some(
                hw_bridge::BridgeError::Config(_)
                    | hw_bridge::BridgeError::BadInput(_)
                    | hw_bridge::BridgeError::Read { .. }
            )
        )
        || matches!(e.downcast_ref::<RunError>(), Some(RunError::BadInput(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn bad_input_from_any_layer_is_exit_2_and_the_rest_exit_1() {
        assert!(is_bad_input(&bad_input("--rate 0")));
        assert!(is_bad_input(
            &anyhow::Error::from(RunError::BadInput("x".into())).context("running")
        ));
        assert!(is_bad_input(
            &hw_bridge::BridgeError::BadInput("x".into()).into()
        ));
        let io: anyhow::Result<()> = Err(std::io::Error::other("disk full")).context("writing");
        assert!(io.is_err_and(|e| !is_bad_input(&e)));
        let broker = hw_bridge::BridgeError::Broker {
            url: "mqtt://h:1".into(),
            message: "refused".into(),
        };
        assert!(!is_bad_input(&broker.into()));
    }
}
