//! Adapters: each device convention turned into the same [`Event`]s, and a desired state
//! turned back into the device's own command.
//!
//! An adapter does no I/O: [`Adapter::decode`] looks at one message and says what it
//! meant, [`Adapter::command`] says what to publish. Most conventions need no memory of
//! earlier messages; Sparkplug B does (metric aliases, birth/death and message
//! sequences), so `decode` takes the adapter mutably and the Sparkplug one keeps its
//! session inside. No adapter panics or stops on bad input; it answers
//! [`Outcome::Malformed`] with the reason, and the mirror counts it.
//!
//! Each convention has a folder of its own (`json/`, `tasmota/`, `esphome/`, `homie/`,
//! `sparkplug/`, `homeassistant/`, `serial/`) holding everything that knows the
//! convention: `decode.rs` (reading its messages, writing its commands), `config.rs`
//! (its `[[device]]` keys and their checks), `discover.rs` (recognising its devices in
//! a broker's traffic) and `emulator.rs` (an emulated device for tests, feature
//! `test-support`). A serial device has no decoder of its own: the session bridges its
//! port into MQTT ([`crate::serial`]), and the generic JSON decoder reads the bridged
//! topics.
//!
//! What every convention shares lives in the files beside the folders: the [`Event`]
//! vocabulary (`event.rs`), [`AdapterConfig`] and the table of conventions
//! (`config.rs`), the [`Adapter`] that dispatches to a convention (`dispatch.rs`), the
//! words firmware spells alike (`words.rs`), and the Home Assistant value templates
//! (`template.rs`).

pub(crate) mod config;
pub(crate) mod dispatch;
pub(crate) mod esphome;
pub(crate) mod event;
pub mod homeassistant;
pub(crate) mod homie;
pub(crate) mod json;
pub(crate) mod serial;
pub(crate) mod sparkplug;
pub(crate) mod tasmota;
pub mod template;
pub(crate) mod words;

pub use config::AdapterConfig;
pub use dispatch::Adapter;
pub use event::{Command, Event, Outcome};
