//! What a run checks and works out before it connects anything: the open-file limit
//! and the MQTT QoS.

use crate::error::RunError;
use rumqttc::QoS;

/// The rumqttc QoS for 0, 1 or 2.
pub(crate) fn qos_of(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        2 => QoS::ExactlyOnce,
        _ => QoS::AtLeastOnce,
    }
}

/// Raise the open-file soft limit to the hard limit and check the fleet fits under it:
/// one socket per session, two with the embedded broker (its end is in this process too).
pub(crate) fn check_file_limit(devices: usize, embedded: bool) -> Result<(), RunError> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX);
    let per = if embedded { 2 } else { 1 };
    let needed = devices as u64 * per + 128;
    if needed > limit {
        return Err(RunError::TooManyFiles {
            devices,
            needed,
            limit,
            why: if embedded {
                " (two per session: the embedded broker's end is in this process too)"
            } else {
                ""
            },
            hint: if embedded {
                ", or run against an external broker with --broker"
            } else {
                ""
            },
        });
    }
    Ok(())
}
