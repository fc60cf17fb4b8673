//! What a Home Assistant device is made of: its entities, their components, and the
//! words Home Assistant uses by default. Read by the config checks, the decoder and
//! discovery alike.

use crate::adapter::template::ValueTemplate;

/// The Home Assistant adapter's settings: the entities one device's discovery announced.
#[derive(Debug, Clone, PartialEq)]
pub struct HomeAssistantConfig {
    /// Where `payload_available`/`payload_not_available` (often a last will) arrive.
    pub availability_topic: Option<String>,
    /// The word that says online (default `online`).
    pub payload_available: String,
    /// The word that says offline (default `offline`).
    pub payload_not_available: String,
    /// The entities, in file order; several may share a state topic.
    pub entities: Vec<HaEntity>,
}

/// One entity of a Home Assistant device.
#[derive(Debug, Clone, PartialEq)]
pub struct HaEntity {
    /// Its reading or state key.
    pub name: String,
    /// What kind of entity it is.
    pub component: HaComponent,
    /// Where its value arrives.
    pub state_topic: String,
    /// Where it takes commands (switches and numbers only).
    pub command_topic: Option<String>,
    /// How its value is read from a payload on `state_topic`.
    pub value_template: ValueTemplate,
    /// A switch's or binary sensor's word for on (default `ON`).
    pub payload_on: String,
    /// A switch's or binary sensor's word for off (default `OFF`).
    pub payload_off: String,
}

/// The Home Assistant components the adapter mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaComponent {
    /// A number: a reading.
    Sensor,
    /// `payload_on`/`payload_off`: a state, true or false.
    BinarySensor,
    /// Like a binary sensor, and commandable with the same words.
    Switch,
    /// A number that is also a state, commandable with the number as text.
    Number,
}

impl HaComponent {
    /// Every component mirrored, as `component = "..."` names it.
    pub const ALL: [HaComponent; 4] = [
        HaComponent::Sensor,
        HaComponent::BinarySensor,
        HaComponent::Switch,
        HaComponent::Number,
    ];

    /// The component named so in Home Assistant.
    pub fn from_name(s: &str) -> Option<HaComponent> {
        HaComponent::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Its name in Home Assistant.
    pub fn name(self) -> &'static str {
        match self {
            HaComponent::Sensor => "sensor",
            HaComponent::BinarySensor => "binary_sensor",
            HaComponent::Switch => "switch",
            HaComponent::Number => "number",
        }
    }

    /// Whether it reads `payload_on`/`payload_off`.
    pub fn is_switch(self) -> bool {
        matches!(self, HaComponent::BinarySensor | HaComponent::Switch)
    }

    /// Whether it can have a `command_topic`.
    pub fn commandable(self) -> bool {
        matches!(self, HaComponent::Switch | HaComponent::Number)
    }

    /// Every name, for messages.
    pub(crate) fn names() -> String {
        HaComponent::ALL.map(HaComponent::name).join(", ")
    }
}

/// Home Assistant's default availability words.
pub const DEFAULT_AVAILABLE: &str = "online";
/// See [`DEFAULT_AVAILABLE`].
pub const DEFAULT_NOT_AVAILABLE: &str = "offline";
/// Home Assistant's default switch words.
pub const DEFAULT_ON: &str = "ON";
/// See [`DEFAULT_ON`].
pub const DEFAULT_OFF: &str = "OFF";

/// Whether an entity name can be a reading or state key: letters, digits, `_` and `-`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
