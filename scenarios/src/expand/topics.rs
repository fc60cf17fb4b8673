//! The fleet's topics and client ids as the devices will use them: each device's filled
//! templates must start without `$`, fit in an MQTT string, and belong to it alone. Two
//! devices on one topic (`status_topic = "t/{device}"` beside `telemetry_topic =
//! "t/{device}-status"` and the ids `lamp`, `lamp-status`) would read each other's
//! commands and be counted as each other.
//!
//! Linear in the fleet: a filled topic is matched back against each template (a template
//! is fixed text around `{device}`), and the id found looked up, instead of gathering every
//! topic of a large fleet in a set.

use super::check::{Ctx, MQTT_MAX_STRING, Res, shown};
use super::fleet::Fleet;
use crate::raw::{DeviceGroupTable, MqttTable, ScenarioTable};
use crate::spec::MqttSpec;
use std::ops::Range;
use toml::Spanned;

/// One template with `{fleet}` filled in: the fixed text around each `{device}`.
struct Template<'a> {
    /// The key, for messages: `telemetry_topic`.
    key: &'static str,
    /// As written (or the default), for messages.
    written: &'a str,
    /// Where it is written; `None` for a default.
    span: Option<Range<usize>>,
    /// The fixed text between the `{device}`s (one more piece than there are `{device}`s).
    pieces: Vec<String>,
    /// Telemetry, command and status share one namespace; client ids have their own.
    topic: bool,
}

impl Template<'_> {
    /// The template filled with `id`, as `spec::fill_template` fills it.
    fn fill(&self, id: &str) -> String {
        self.pieces.join(id)
    }

    /// The id that fills this template to `text`, if one does.
    fn id_of<'t>(&self, text: &'t str) -> Option<&'t str> {
        let fixed: usize = self.pieces.iter().map(String::len).sum();
        let holes = self.pieces.len() - 1;
        let rest = text.len().checked_sub(fixed)?;
        if holes == 0 || rest % holes != 0 {
            return None;
        }
        let (first, last) = (&self.pieces[0], &self.pieces[holes]);
        if !(text.starts_with(first.as_str()) && text.ends_with(last.as_str())) {
            return None;
        }
        let start = first.len();
        let id = text.get(start..start + rest / holes)?;
        (self.fill(id) == text).then_some(id)
    }
}

/// What the checks need to know of the file.
pub(super) struct Written<'a> {
    /// `[scenario]`, for the fleet name's place.
    pub(super) scenario: &'a ScenarioTable,
    /// `[mqtt]`, for the templates' places.
    pub(super) mqtt: Option<&'a MqttTable>,
    /// `[[devices]]`, for the ids' places.
    pub(super) groups: &'a [DeviceGroupTable],
}

/// Check every device's topics and client id.
pub(super) fn check(
    cx: &Ctx,
    w: &Written,
    spec: &MqttSpec,
    fleet_name: &str,
    fleet: &Fleet,
) -> Res<()> {
    let templates = templates(w.mqtt, spec, fleet_name);
    for (i, device) in fleet.devices.iter().enumerate() {
        let id_span = w.groups[device.group].id.span();
        for (k, t) in templates.iter().enumerate() {
            let text = t.fill(&device.id);
            let at = |span: Option<Range<usize>>| span.unwrap_or_else(|| id_span.clone());
            if t.topic && text.starts_with('$') {
                let span = if t.written.starts_with("{fleet}") {
                    Some(fleet_span(w.scenario))
                } else {
                    None
                };
                return Err(cx.at(
                    at(span),
                    format!(
                        "{} of device \"{}\" is \"{}\", which starts with '$'; brokers keep such topics for themselves and drop what clients publish there; expected a device id and fleet name that do not start with '$'",
                        t.key,
                        shown(&device.id),
                        shown(&text)
                    ),
                ));
            }
            if text.len() > MQTT_MAX_STRING {
                return Err(cx.at(
                    at(t.span.clone()),
                    format!(
                        "{} of device \"{}\" is {} bytes long; MQTT strings hold at most {MQTT_MAX_STRING} bytes",
                        t.key,
                        shown(&device.id),
                        text.len()
                    ),
                ));
            }
            collision(cx, &templates, (i, k), &text, fleet, w)?;
        }
    }
    Ok(())
}

/// Refuse `text` (template `own.1` filled for device `own.0`) when another device's, or
/// another template's, text is the same.
fn collision(
    cx: &Ctx,
    templates: &[Template],
    own: (usize, usize),
    text: &str,
    fleet: &Fleet,
    w: &Written,
) -> Res<()> {
    let mine = &templates[own.1];
    for (j, other) in templates.iter().enumerate() {
        if other.topic != mine.topic {
            continue;
        }
        let Some(id) = other.id_of(text) else {
            continue;
        };
        let Some(&d) = fleet.ids.get(id) else {
            continue;
        };
        if (d, j) == own {
            continue;
        }
        // Said of the later device, the one whose id makes the clash.
        let (later, earlier) = if d > own.0 {
            ((d, other), (own.0, mine))
        } else {
            ((own.0, mine), (d, other))
        };
        let device = &fleet.devices[later.0];
        return Err(cx.at(
            w.groups[device.group].id.span(),
            format!(
                "{} of device \"{}\" and {} of device \"{}\" are both \"{}\"; expected each device's topics and client id to be its own (change the templates in [mqtt] or the ids)",
                later.1.key,
                shown(&device.id),
                earlier.1.key,
                shown(&fleet.devices[earlier.0].id),
                shown(text)
            ),
        ));
    }
    Ok(())
}

/// The four templates, `{fleet}` filled in.
fn templates<'a>(t: Option<&MqttTable>, spec: &'a MqttSpec, fleet: &str) -> Vec<Template<'a>> {
    let span = |f: fn(&MqttTable) -> &Option<Spanned<String>>| {
        t.and_then(|t| f(t).as_ref().map(Spanned::span))
    };
    let make = |key, written: &'a String, span, topic| Template {
        key,
        written,
        span,
        pieces: written
            .replace("{fleet}", fleet)
            .split("{device}")
            .map(str::to_string)
            .collect(),
        topic,
    };
    vec![
        make(
            "telemetry_topic",
            &spec.telemetry_topic,
            span(|t| &t.telemetry_topic),
            true,
        ),
        make(
            "command_topic",
            &spec.command_topic,
            span(|t| &t.command_topic),
            true,
        ),
        make(
            "status_topic",
            &spec.status_topic,
            span(|t| &t.status_topic),
            true,
        ),
        make("client_id", &spec.client_id, span(|t| &t.client_id), false),
    ]
}

/// Where the fleet name is written: `fleet`, or the scenario's name it defaults to.
fn fleet_span(s: &ScenarioTable) -> Range<usize> {
    s.fleet.as_ref().map_or(s.name.span(), Spanned::span)
}
