//! `[device.twin]`: the twin a device is compared with.

use crate::config::checks::At;
use crate::config::raw::RawTwin;
use crate::error::BridgeError;
use scenarios::Dur;
use toml::Spanned;

/// A twin bound to a device: a room with a first-order thermal model, heated by another
/// device's switch, whose noise-free temperature the device's reading is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinConfig {
    /// The reading compared with the prediction (default `temperature`).
    pub reading: String,
    /// Room temperature at start, °C; default: the device's first reading.
    pub initial: Option<f64>,
    /// Outdoor temperature the room relaxes toward, °C (default 15).
    pub outdoor: f64,
    /// Thermal time constant, seconds (default 1 h).
    pub time_constant: f64,
    /// Warming per kW of heating, °C per hour (default 4).
    pub heater_gain: f64,
    /// The switch that heats the room: (device id, state key), from `"plug.power"`.
    pub heater: Option<(String, String)>,
    /// Heating power while that switch is on, kW (default 1).
    pub heater_kw: f64,
    /// |reading − prediction| beyond this is a disagreement, in the reading's units
    /// (default 2, four times the DHT22's ±0.5 °C).
    pub tolerance: f64,
    /// Consecutive readings beyond (or back within) the tolerance that open (or close) a
    /// divergence alert (default 3).
    pub confirm: usize,
}

/// Check a device's twin; `ids` are the file's device ids (a heater may be any of them).
pub(crate) fn parse(
    t: &Spanned<RawTwin>,
    ids: &[String],
    at: &At<'_>,
) -> Result<TwinConfig, BridgeError> {
    let r = t.get_ref();
    let heater = match &r.heater {
        Some(h) => Some(heater(h, ids, at)?),
        None => None,
    };
    let time_constant = r.time_constant.map_or(3600.0, Dur::secs);
    let tolerance = r.tolerance.unwrap_or(2.0);
    if time_constant <= 0.0 || !tolerance.is_finite() || tolerance <= 0.0 {
        return Err(at(
            t.span(),
            "twin `time_constant` and `tolerance` must be greater than zero".into(),
        ));
    }
    Ok(TwinConfig {
        reading: r.reading.clone().unwrap_or_else(|| "temperature".into()),
        initial: r.initial,
        outdoor: r.outdoor.unwrap_or(15.0),
        time_constant,
        heater_gain: r.heater_gain.unwrap_or(4.0),
        heater,
        heater_kw: r.heater_kw.unwrap_or(1.0),
        tolerance,
        confirm: r.confirm.unwrap_or(3).max(1),
    })
}

/// `heater = "plug.power"`: a device of this file and its switch.
fn heater(
    h: &Spanned<String>,
    ids: &[String],
    at: &At<'_>,
) -> Result<(String, String), BridgeError> {
    let Some((dev, key)) = h.get_ref().split_once('.') else {
        return Err(at(
            h.span(),
            format!(
                "`heater = \"{}\"` names a device and its switch, like \"plug.power\"",
                h.get_ref()
            ),
        ));
    };
    if !ids.iter().any(|id| id == dev) {
        return Err(at(
            h.span(),
            format!("`heater`: no device \"{dev}\" in this file"),
        ));
    }
    Ok((dev.to_string(), key.to_string()))
}
