//! `[mqtt]`: QoS, topic and client-id templates, encoding and keep-alive, over the defaults.

use super::check::{Ctx, Res, placeholders, positive};
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
    for (field, target) in [
        (&t.telemetry_topic, &mut m.telemetry_topic),
        (&t.command_topic, &mut m.command_topic),
        (&t.status_topic, &mut m.status_topic),
        (&t.client_id, &mut m.client_id),
    ] {
        if let Some(v) = field {
            *target = template(cx, v)?;
        }
    }
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

/// A topic or client-id template: it must name each device and hold no wildcard.
fn template(cx: &Ctx, v: &Spanned<String>) -> Res<String> {
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
    Ok(v.get_ref().clone())
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
