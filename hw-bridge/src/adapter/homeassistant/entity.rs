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
    /// A number's or select's `command_template`: the command with `{{ value }}` where
    /// the value goes (only that form is understood); `None` sends the value as text.
    pub command_template: Option<String>,
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
    /// One of some words: a state, commandable with the word.
    Select,
}

impl HaComponent {
    /// Every component mirrored, as `component = "..."` names it.
    pub const ALL: [HaComponent; 5] = [
        HaComponent::Sensor,
        HaComponent::BinarySensor,
        HaComponent::Switch,
        HaComponent::Number,
        HaComponent::Select,
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
            HaComponent::Select => "select",
        }
    }

    /// Whether it reads `payload_on`/`payload_off`.
    pub fn is_switch(self) -> bool {
        matches!(self, HaComponent::BinarySensor | HaComponent::Switch)
    }

    /// Whether it can have a `command_topic`.
    pub fn commandable(self) -> bool {
        matches!(
            self,
            HaComponent::Switch | HaComponent::Number | HaComponent::Select
        )
    }

    /// Whether it takes a `command_template` (the value put into a command).
    pub fn templated(self) -> bool {
        matches!(self, HaComponent::Number | HaComponent::Select)
    }

    /// Every name, for messages.
    pub(crate) fn names() -> String {
        HaComponent::ALL.map(HaComponent::name).join(", ")
    }
}

/// A `command_template` the mirror can fill: `{{ value }}` where the value goes, and no
/// other Jinja (the mirror never evaluates templates); why not, otherwise.
pub(crate) fn command_template(t: &str) -> Result<String, String> {
    let rest = t.replacen("{{ value }}", "", 1);
    if rest.len() == t.len() {
        return Err(format!("command_template \"{t}\" has no {{{{ value }}}}"));
    }
    if rest.contains("{{") || rest.contains("{%") {
        return Err(format!(
            "command_template \"{t}\": only {{{{ value }}}} is understood, once"
        ));
    }
    Ok(t.to_string())
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
