//! `[mqtt]`: QoS, topic and client-id templates, encoding and keep-alive, over the defaults.

use super::check::{Ctx, Res, placeholders, positive, shown};
use crate::raw::MqttTable;
use crate::spec::{Encoding, MqttSpec};
use toml::Spanned;

/// `[mqtt]` over [`MqttSpec::default`].
pub(super) fn spec(cx: &Ctx, t: Option<&MqttTable>) -> Res<MqttSpec> {
    let mut m = MqttSpec::default();
    let Some(t) = t else { return Ok(m) };
    if let Some(q) = &t.qos {
        let v = *q.get_ref();
        if !(0..=2).contains(&v) {
            return Err(cx.at(q.span(), format!("qos is {v}; expected 0, 1 or 2")));
        }
        m.qos = v as u8;
    }
    for (field, target, topic) in [
        (&t.telemetry_topic, &mut m.telemetry_topic, true),
        (&t.command_topic, &mut m.command_topic, true),
        (&t.status_topic, &mut m.status_topic, true),
        (&t.client_id, &mut m.client_id, false),
    ] {
        if let Some(v) = field {
            *target = template(cx, v, topic)?;
        }
    }
    distinct_topics(cx, t, &m)?;
    if let Some(e) = &t.encoding {
        m.encoding = encoding(cx, e)?;
    }
    if let Some(k) = &t.keep_alive {
        let v = positive(cx, k, "keep_alive")?;
        if !(5.0..=65535.0).contains(&v) {
            return Err(cx.at(k.span(), "keep_alive must be between 5s and 65535s"));
        }
        m.keep_alive = v;
    }
    m.sent_us = t.sent_us.unwrap_or(false);
    Ok(m)
}

/// A topic or client-id template: it must name each device and hold no wildcard, no
/// control character; a topic may not start with `$`.
fn template(cx: &Ctx, v: &Spanned<String>, topic: bool) -> Res<String> {
    placeholders(cx, v, &["fleet", "device"])?;
    if !v.get_ref().contains("{device}") {
        return Err(cx.at(
            v.span(),
            format!("\"{}\" has no {{device}}; expected a template naming each device, like \"twin/{{fleet}}/{{device}}/telemetry\"", v.get_ref()),
        ));
    }
    if v.get_ref().contains(['+', '#']) {
        return Err(cx.at(
            v.span(),
            "topics a device publishes on cannot hold '+' or '#'",
        ));
    }
    if let Some(c) = v.get_ref().chars().find(|c| c.is_control()) {
        return Err(cx.at(
            v.span(),
            format!(
                "\"{}\" holds the control character U+{:04X}; MQTT topics and client ids take printable characters only",
                shown(v.get_ref()),
                c as u32
            ),
        ));
    }
    if topic && v.get_ref().starts_with('$') {
        return Err(cx.at(
            v.span(),
            format!(
                "topic \"{}\" starts with '$'; brokers keep such topics for themselves ($SYS) and drop what clients publish there; expected a topic like \"twin/{{fleet}}/{{device}}/telemetry\"",
                shown(v.get_ref())
            ),
        ));
    }
    Ok(v.get_ref().clone())
}

/// Telemetry, commands and status each need a topic of their own: on one topic a device
/// would read its own telemetry as commands, and ingest would count statuses as telemetry.
fn distinct_topics(cx: &Ctx, t: &MqttTable, m: &MqttSpec) -> Res<()> {
    let topics = [
        ("telemetry_topic", &t.telemetry_topic, &m.telemetry_topic),
        ("command_topic", &t.command_topic, &m.command_topic),
        ("status_topic", &t.status_topic, &m.status_topic),
    ];
    for (i, (key, written, value)) in topics.iter().enumerate() {
        for (other_key, other_written, other_value) in &topics[..i] {
            if value != other_value {
                continue;
            }
            // Point at the one written in the file (the later, when both are).
            let span = written
                .as_ref()
                .or(other_written.as_ref())
                .map_or(0..0, Spanned::span);
            return Err(cx.at(
                span,
                format!(
                    "{key} and {other_key} are both \"{}\"; expected a topic of its own for each, like \"twin/{{fleet}}/{{device}}/cmd\" beside \"twin/{{fleet}}/{{device}}/telemetry\"",
                    shown(value)
                ),
            ));
        }
    }
    Ok(())
}

fn encoding(cx: &Ctx, e: &Spanned<String>) -> Res<Encoding> {
    match e.get_ref().as_str() {
        "json" => Ok(Encoding::Json),
        "msgpack" => Ok(Encoding::MsgPack),
        other => Err(cx.at(
            e.span(),
            format!("encoding \"{other}\" is not known; expected \"json\" or \"msgpack\""),
        )),
    }
}
