//! [`MirrorConfig`]: the whole file checked, `[mirror]` and every `[[device]]`.

use crate::adapter::config::AdapterConfig;
use crate::config::checks::{At, DeviceCx, span_of};
use crate::config::raw::{RawConfig, RawDevice};
use crate::config::twin::{self, TwinConfig};
use crate::error::BridgeError;
use scenarios::{Dur, Located, ModelKind};
use std::ops::Range;
use toml::Spanned;

/// A checked mirror configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorConfig {
    /// Fleet name in the shadow topics `twin/{fleet}/{device}/shadow...`.
    pub fleet: String,
    /// Broker the devices publish to, when the file names one.
    pub broker: Option<String>,
    /// Seconds of silence after which a device is marked offline.
    pub stale_after: f64,
    /// Seconds a device has to confirm a desired state before an alert.
    pub confirm_timeout: f64,
    /// Payloads longer than this many bytes are counted as malformed, not parsed.
    pub max_payload: usize,
    /// The devices, in file order.
    pub devices: Vec<DeviceConfig>,
}

/// One mirrored device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    /// Id in reports and shadow topics.
    pub id: String,
    /// Model whose readings the analytics watch; guessed from the first readings if unset.
    pub model: Option<ModelKind>,
    /// How often the device is expected to publish, seconds (for staleness alerts).
    pub publish_every: f64,
    /// How the device speaks.
    pub adapter: AdapterConfig,
    /// The twin it is compared with.
    pub twin: Option<TwinConfig>,
}

impl MirrorConfig {
    /// Read and check a configuration file.
    pub fn load(path: &std::path::Path) -> Result<MirrorConfig, BridgeError> {
        let src = std::fs::read_to_string(path).map_err(|source| BridgeError::Read {
            path: path.display().to_string(),
            source,
        })?;
        MirrorConfig::parse(&src, &path.display().to_string())
    }

    /// Check configuration text; `file` names it in error messages.
    pub fn parse(src: &str, file: &str) -> Result<MirrorConfig, BridgeError> {
        let at = |span: Range<usize>, msg: String| {
            BridgeError::Config(Located::at(file, src, span, msg))
        };
        let raw: RawConfig = toml::from_str(src)
            .map_err(|e| at(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;
        let m = raw.mirror;
        if let Some(b) = &m.broker {
            scenarios::BrokerUrl::parse(b.get_ref()).map_err(|e| at(b.span(), e.to_string()))?;
        }
        let stale_after = positive(&m.stale_after, 60.0, "stale_after", &at)?;
        let confirm_timeout = positive(&m.confirm_timeout, 10.0, "confirm_timeout", &at)?;
        let fleet = m
            .fleet
            .as_ref()
            .map_or("mirror", |f| f.get_ref().as_str())
            .to_string();
        if fleet.is_empty() || fleet.contains(['/', '+', '#']) {
            return Err(at(
                crate::config::checks::span_of(&m.fleet),
                format!("[mirror] fleet \"{fleet}\" must be non-empty, without '/', '+' or '#'"),
            ));
        }
        let mut devices: Vec<DeviceConfig> = Vec::with_capacity(raw.device.len());
        for d in &raw.device {
            let device = device(d.get_ref(), &devices, &fleet, &at)?;
            devices.push(device);
        }
        // Twins second: a heater may be a device listed further down.
        let ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
        for (i, d) in raw.device.iter().enumerate() {
            if let Some(t) = &d.get_ref().twin {
                devices[i].twin = Some(twin::parse(t, &ids, &at)?);
            }
        }
        Ok(MirrorConfig {
            fleet,
            broker: m.broker.map(|b| b.into_inner()),
            stale_after,
            confirm_timeout,
            max_payload: m.max_payload.unwrap_or(64 * 1024),
            devices,
        })
    }

    /// The device with this id.
    pub fn device(&self, id: &str) -> Option<&DeviceConfig> {
        self.devices.iter().find(|d| d.id == id)
    }
}

/// A duration that must be longer than zero, or its default.
fn positive(
    d: &Option<Spanned<Dur>>,
    default: f64,
    key: &str,
    at: &At<'_>,
) -> Result<f64, BridgeError> {
    match d {
        Some(s) if s.get_ref().secs() <= 0.0 => {
            Err(at(s.span(), format!("{key} must be longer than zero")))
        }
        Some(s) => Ok(s.get_ref().secs()),
        None => Ok(default),
    }
}

/// Check one device (its twin aside); `earlier` are the devices above it.
fn device(
    d: &RawDevice,
    earlier: &[DeviceConfig],
    fleet: &str,
    at: &At<'_>,
) -> Result<DeviceConfig, BridgeError> {
    let id = d.id.get_ref().clone();
    if id.is_empty() || id.contains(['/', '+', '#']) {
        return Err(at(
            d.id.span(),
            format!("device id \"{id}\" must be non-empty, without '/', '+' or '#'"),
        ));
    }
    if earlier.iter().any(|e| e.id == id) {
        return Err(at(d.id.span(), format!("device id \"{id}\" is used twice")));
    }
    let model = match &d.model {
        Some(m) => Some(ModelKind::from_name(m.get_ref()).ok_or_else(|| {
            at(
                m.span(),
                format!(
                    "unknown model \"{}\"; expected one of {}",
                    m.get_ref(),
                    ModelKind::valid_names()
                ),
            )
        })?),
        None => None,
    };
    let publish_every = positive(&d.publish_every, 60.0, "publish_every", at)?;
    let cx = DeviceCx {
        raw: d,
        id: &id,
        fleet,
        at,
    };
    let adapter = crate::adapter::config::parse(&cx)?;
    if let AdapterConfig::Serial(s) = &adapter
        && earlier
            .iter()
            .any(|e| matches!(&e.adapter, AdapterConfig::Serial(o) if o.port == s.port))
    {
        return Err(at(
            span_of(&d.port),
            format!("serial port \"{}\" is used by two devices", s.port),
        ));
    }
    Ok(DeviceConfig {
        id,
        model,
        publish_every,
        adapter,
        twin: None,
    })
}
