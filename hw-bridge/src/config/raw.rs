//! The TOML shape of a mirror configuration, as serde reads it before any check.
//!
//! Every key of every convention is a field of the one [`RawDevice`]: serde's
//! `deny_unknown_fields` needs the whole table in one struct, and its "unknown field"
//! message lists the fields in the order written here, so the order is kept. Which
//! convention each key belongs to is not decided here but by the convention folders
//! under `adapter/` (see [`RawDevice::convention_keys`]).

use scenarios::Dur;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub mirror: RawMirror,
    #[serde(default)]
    pub device: Vec<Spanned<RawDevice>>,
}

/// `[mirror]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMirror {
    pub fleet: Option<Spanned<String>>,
    pub broker: Option<Spanned<String>>,
    pub stale_after: Option<Spanned<Dur>>,
    pub confirm_timeout: Option<Spanned<Dur>>,
    pub max_payload: Option<usize>,
}

/// One `[[device]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDevice {
    pub id: Spanned<String>,
    pub adapter: Spanned<String>,
    pub model: Option<Spanned<String>>,
    pub publish_every: Option<Spanned<Dur>>,
    pub topic: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
    pub base: Option<Spanned<String>>,
    pub device_id: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    pub edge_node: Option<Spanned<String>>,
    pub device: Option<Spanned<String>>,
    pub id_pointer: Option<Spanned<String>>,
    pub source_id: Option<String>,
    pub readings: Option<Spanned<BTreeMap<String, String>>>,
    pub state: Option<Spanned<BTreeMap<String, String>>>,
    pub status_topic: Option<Spanned<String>>,
    pub command_topic: Option<Spanned<String>>,
    pub availability_topic: Option<Spanned<String>>,
    pub payload_available: Option<Spanned<String>>,
    pub payload_not_available: Option<Spanned<String>>,
    pub entities: Option<Spanned<Vec<Spanned<RawEntity>>>>,
    pub port: Option<Spanned<String>>,
    pub baud: Option<Spanned<u32>>,
    pub twin: Option<Spanned<RawTwin>>,
}

/// One entry of a Home Assistant device's `entities`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntity {
    pub name: Spanned<String>,
    pub component: Spanned<String>,
    pub state_topic: Spanned<String>,
    pub command_topic: Option<Spanned<String>>,
    pub value_template: Option<Spanned<String>>,
    pub payload_on: Option<Spanned<String>>,
    pub payload_off: Option<Spanned<String>>,
    pub command_template: Option<Spanned<String>>,
}

/// `[device.twin]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTwin {
    pub reading: Option<String>,
    pub initial: Option<f64>,
    pub outdoor: Option<f64>,
    pub time_constant: Option<Dur>,
    pub heater_gain: Option<f64>,
    pub heater: Option<Spanned<String>>,
    pub heater_kw: Option<f64>,
    pub tolerance: Option<f64>,
    pub confirm: Option<usize>,
}

impl RawDevice {
    /// The keys that belong to some conventions only, with where each is written (if it
    /// is), in the order they are checked: the first one the device's convention does
    /// not take is the error reported. (`source_id` is read by the json adapter alone
    /// but has always been accepted, and ignored, elsewhere; it is not listed.)
    pub fn convention_keys(&self) -> [(&'static str, Option<Range<usize>>); 18] {
        fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
            v.as_ref().map(Spanned::span)
        }
        [
            ("topic", at(&self.topic)),
            ("node", at(&self.node)),
            ("id_pointer", at(&self.id_pointer)),
            ("state", at(&self.state)),
            ("base", at(&self.base)),
            ("device_id", at(&self.device_id)),
            ("status_topic", at(&self.status_topic)),
            ("command_topic", at(&self.command_topic)),
            ("readings", at(&self.readings)),
            ("group", at(&self.group)),
            ("edge_node", at(&self.edge_node)),
            ("device", at(&self.device)),
            ("availability_topic", at(&self.availability_topic)),
            ("payload_available", at(&self.payload_available)),
            ("payload_not_available", at(&self.payload_not_available)),
            ("entities", at(&self.entities)),
            ("port", at(&self.port)),
            ("baud", at(&self.baud)),
        ]
    }
}
