//! Checks a parsed scenario and expands its groups into a fleet.

use crate::broker_url::BrokerUrl;
use crate::catalog::{COMMON_KEYS, CommandValueKind, ModelKind};
use crate::device::{BatterySpec, DeviceSpec, GroupSpec, ModelSpec};
use crate::duration::Dur;
use crate::error::Located;
use crate::fault::{FaultKind, FaultSpec};
use crate::raw::{AnalyticsTable, FaultTable, MqttTable, RuleTable};
use crate::raw::{DeviceGroupTable, EnvironmentTable, EventTable, RawScenario, Speed};
use crate::spec::{
    AnalyticsSpec, Encoding, EnvironmentSpec, EventAction, EventSpec, MqttSpec, RuleSpec, Scenario,
    SetValue,
};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use toml::Spanned;

/// Most devices one scenario may hold; beyond this a typo in `count` is likelier than intent.
const MAX_DEVICES: usize = 2_000_000;

/// Most environments one scenario may hold, over all `[[environment]]` tables: as many as
/// devices, since a room without a device does nothing.
const MAX_ENVIRONMENTS: usize = MAX_DEVICES;

/// Most device references the expanded scenario may hold: the heaters of every thermostat,
/// the targets of every event and the devices of every rule, added up. Each one is stored,
/// so a few lines (a `*` event repeated, many thermostats in a room of many heaters) could
/// otherwise ask for more memory than the machine has. Ten times the largest fleet.
const MAX_REFERENCES: usize = 10 * MAX_DEVICES;

/// Counts device references against [`MAX_REFERENCES`].
struct References(usize);

impl References {
    fn add(&mut self, cx: &Ctx, span: Range<usize>, n: usize, what: &str) -> Res<()> {
        self.0 += n;
        if self.0 > MAX_REFERENCES {
            return Err(cx.at(
                span,
                format!(
                    "{what} brings the device references of thermostats, events and rules to {} in all; expected at most {MAX_REFERENCES} (a \"*\" target on a large fleet adds up quickly)",
                    self.0
                ),
            ));
        }
        Ok(())
    }
}

/// Where errors point.
struct Ctx<'a> {
    src: &'a str,
    file: &'a str,
}

impl Ctx<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> Located {
        Located::at(self.file, self.src, span, message)
    }
}

type Res<T> = Result<T, Located>;

pub(crate) fn expand(raw: RawScenario, src: &str, file: &str) -> Res<Scenario> {
    let cx = Ctx { src, file };
    let s = &raw.scenario;

    let name = s.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(cx.at(
            s.name.span(),
            "scenario name is empty; expected a short name",
        ));
    }
    let fleet = match &s.fleet {
        Some(f) => f.get_ref().clone(),
        None => name.clone(),
    };
    let fleet_span = s.fleet.as_ref().map_or(s.name.span(), Spanned::span);
    if fleet.is_empty() || fleet.contains(['/', '+', '#']) {
        return Err(cx.at(
            fleet_span,
            format!("fleet name \"{fleet}\" cannot be used in a topic; expected a name without '/', '+' or '#'"),
        ));
    }
    let duration = positive(&cx, &s.duration, "duration")?;
    let speed = match &s.speed {
        Some(sp) => *sp.get_ref(),
        None => Speed::Factor(1.0),
    };
    let start_epoch = match &s.start {
        Some(text) => humantime::parse_rfc3339_weak(text.get_ref())
            .map_err(|e| {
                cx.at(
                    text.span(),
                    format!("start \"{}\" is not a date ({e}); expected RFC 3339 like \"2026-01-15T06:00:00Z\"", text.get_ref()),
                )
            })?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        // 2026-01-15T00:00:00Z: a winter midnight, so heating scenarios have work to do.
        None => 1_768_435_200.0,
    };

    let broker_url = match &raw.broker {
        Some(b) => {
            BrokerUrl::parse(b.url.get_ref()).map_err(|e| cx.at(b.url.span(), e.to_string()))?;
            Some(b.url.get_ref().clone())
        }
        None => None,
    };
    let mqtt = mqtt_spec(&cx, raw.mqtt.as_ref())?;

    let environments = environments(&cx, &raw.environment)?;
    let env_index: HashMap<&str, usize> = environments
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();

    if raw.devices.is_empty() {
        return Err(cx.at(
            s.name.span(),
            "the scenario has no devices; expected at least one [[devices]] group",
        ));
    }

    // Pass 1: expand ids, check per-group keys; remember references to resolve in pass 2.
    let mut groups = Vec::new();
    let mut devices: Vec<DeviceSpec> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut id_index: HashMap<String, usize> = HashMap::new();
    for (gi, g) in raw.devices.iter().enumerate() {
        let kind = ModelKind::from_name(g.model.get_ref()).ok_or_else(|| {
            cx.at(
                g.model.span(),
                format!(
                    "unknown model \"{}\"; valid models are: {}",
                    g.model.get_ref(),
                    ModelKind::valid_names()
                ),
            )
        })?;
        check_keys(&cx, g, kind)?;
        let count = count_of(&cx, g.count.as_ref(), &g.id, "id")?;
        let publish_every = match &g.publish_every {
            Some(p) => {
                let v = positive(&cx, p, "publish_every")?;
                if let Some((min, why)) = kind.min_publish_every()
                    && v < min
                {
                    return Err(cx.at(
                        p.span(),
                        format!(
                            "publish_every {} is too short for a {}: {why}; expected at least {}",
                            p.get_ref(),
                            kind.name(),
                            Dur(min)
                        ),
                    ));
                }
                v
            }
            None => kind.default_publish_every(),
        };
        let jitter = match &g.jitter {
            Some(j) => j.get_ref().secs(),
            None => publish_every,
        };
        let battery = match &g.battery_mah {
            Some(cap) => Some(BatterySpec {
                capacity_mah: positive_f(&cx, cap, "battery_mah")?,
                drain_mah: match &g.drain_mah {
                    Some(d) => positive_f(&cx, d, "drain_mah")?,
                    None => 0.05,
                },
            }),
            None => {
                if let Some(d) = &g.drain_mah {
                    return Err(cx.at(d.span(), "drain_mah needs battery_mah beside it"));
                }
                None
            }
        };
        let faults = g
            .faults
            .iter()
            .map(|f| fault_spec(&cx, f, kind, true))
            .collect::<Res<Vec<_>>>()?;
        if kind.needs_environment() && g.environment.is_none() {
            return Err(cx.at(
                g.model.span(),
                format!(
                    "a {} lives in a room: add environment = \"<name>\" naming an [[environment]]",
                    kind.name()
                ),
            ));
        }
        groups.push(GroupSpec {
            id_template: g.id.get_ref().clone(),
            model: kind,
            count,
            publish_every,
        });
        for n in 1..=count {
            let id = expand_n(g.id.get_ref(), n);
            if id.is_empty() || id.contains(['/', '+', '#']) {
                return Err(cx.at(
                    g.id.span(),
                    format!(
                        "device id \"{id}\" cannot be used in a topic; expected no '/', '+' or '#'"
                    ),
                ));
            }
            let environment = match &g.environment {
                Some(t) => {
                    let env_name = expand_n(t.get_ref(), n);
                    Some(*env_index.get(env_name.as_str()).ok_or_else(|| {
                        cx.at(
                            t.span(),
                            format!(
                                "environment \"{env_name}\" (for device \"{id}\") is not defined; defined environments: {}",
                                list_or_none(environments.iter().map(|e| e.name.as_str()))
                            ),
                        )
                    })?)
                }
                None => None,
            };
            if id_index.insert(id.clone(), devices.len()).is_some() {
                return Err(cx.at(
                    g.id.span(),
                    format!("device id \"{id}\" is used twice; expected ids unique in the fleet"),
                ));
            }
            if devices.len() >= MAX_DEVICES {
                return Err(cx.at(
                    g.count.as_ref().map_or(g.id.span(), Spanned::span),
                    format!("the fleet has more than {MAX_DEVICES} devices; expected fewer"),
                ));
            }
            pending.push(Pending { group: gi, n });
            devices.push(DeviceSpec {
                id,
                group: gi,
                model: ModelSpec::Battery, // replaced in pass 2
                environment,
                publish_every,
                jitter,
                battery,
                faults: faults.clone(),
            });
        }
    }

    // Pass 2: model parameters and references between devices.
    let mut references = References(0);
    // Heaters by environment, gathered once: a thermostat with no heater key drives every
    // heater in its room, and searching the whole fleet per thermostat is quadratic.
    let mut heaters_in: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, d) in devices.iter().enumerate() {
        if groups[d.group].model == ModelKind::Heater {
            heaters_in.entry(d.environment).or_default().push(i);
        }
    }
    for (di, p) in pending.iter().enumerate() {
        let g = &raw.devices[p.group];
        let kind = groups[p.group].model;
        let fleet = FleetSoFar {
            devices: &devices,
            groups: &groups,
            ids: &id_index,
            environments: &environments,
            heaters_in: &heaters_in,
        };
        let model = model_spec(&cx, g, kind, p.n, di, &fleet)?;
        if let ModelSpec::Thermostat { heaters, .. } = &model {
            references.add(&cx, g.model.span(), heaters.len(), "this thermostat")?;
        }
        devices[di].model = model;
    }

    let shortest = devices
        .iter()
        .map(|d| d.publish_every)
        .fold(f64::INFINITY, f64::min);
    let tick = match &s.tick {
        Some(t) => {
            let v = positive(&cx, t, "tick")?;
            if v > shortest {
                return Err(cx.at(
                    t.span(),
                    format!(
                        "tick {} is longer than the shortest publish_every ({}); expected a tick no longer than any publish period",
                        t.get_ref(),
                        Dur(shortest)
                    ),
                ));
            }
            v
        }
        None => shortest.clamp(0.001, 1.0),
    };
    if tick > duration {
        return Err(cx.at(
            s.duration.span(),
            "duration is shorter than one tick; expected a longer run",
        ));
    }

    let mut events = Vec::new();
    for e in &raw.events {
        let event = event_spec(&cx, e, duration, tick, &devices, &id_index)?;
        references.add(&cx, e.target.span(), event.devices.len(), "this event")?;
        events.push(event);
    }
    events.sort_by(|a, b| a.at.total_cmp(&b.at));

    let analytics = analytics_spec(&cx, raw.analytics.as_ref())?;
    let mut rules = Vec::new();
    for r in &raw.rules {
        let rule = rule_spec(&cx, r, &devices, &id_index)?;
        let span = r.target.as_ref().map_or(r.sensor.span(), Spanned::span);
        references.add(&cx, span, rule.devices.len(), "this rule")?;
        rules.push(rule);
    }

    Ok(Scenario {
        analytics,
        rules,
        name,
        fleet,
        seed: s.seed.unwrap_or(0),
        duration,
        tick,
        speed,
        start_epoch,
        broker_url,
        mqtt,
        environments,
        groups,
        devices,
        events,
    })
}

struct Pending {
    group: usize,
    n: usize,
}

fn expand_n(template: &str, n: usize) -> String {
    template.replace("{n}", &n.to_string())
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else if v.len() > 8 {
        format!(
            "{} … {} ({} in all)",
            v[..4].join(", "),
            v[v.len() - 1],
            v.len()
        )
    } else {
        v.join(", ")
    }
}

fn positive(cx: &Ctx, d: &Spanned<Dur>, key: &str) -> Res<f64> {
    let v = d.get_ref().secs();
    if v <= 0.0 {
        return Err(cx.at(
            d.span(),
            format!("{key} must be longer than zero; expected a duration like \"10s\""),
        ));
    }
    Ok(v)
}

fn positive_f(cx: &Ctx, v: &Spanned<f64>, key: &str) -> Res<f64> {
    let x = *v.get_ref();
    if !(x > 0.0 && x.is_finite()) {
        return Err(cx.at(
            v.span(),
            format!("{key} is {x}; expected a positive number"),
        ));
    }
    Ok(x)
}

fn non_negative_f(cx: &Ctx, v: &Spanned<f64>, key: &str) -> Res<f64> {
    let x = *v.get_ref();
    if !(x >= 0.0 && x.is_finite()) {
        return Err(cx.at(v.span(), format!("{key} is {x}; expected zero or more")));
    }
    Ok(x)
}

fn count_of(
    cx: &Ctx,
    count: Option<&Spanned<i64>>,
    name: &Spanned<String>,
    what: &str,
) -> Res<usize> {
    let Some(c) = count else { return Ok(1) };
    let v = *c.get_ref();
    if v < 1 {
        return Err(cx.at(c.span(), format!("count is {v}; expected at least 1")));
    }
    if v > MAX_DEVICES as i64 {
        return Err(cx.at(
            c.span(),
            format!("count is {v}; expected at most {MAX_DEVICES}"),
        ));
    }
    if v > 1 && !name.get_ref().contains("{n}") {
        return Err(cx.at(
            name.span(),
            format!("count = {v} needs \"{{n}}\" in the {what} so each one gets its own name (\"thermo-{{n}}\")"),
        ));
    }
    Ok(v as usize)
}

fn mqtt_spec(cx: &Ctx, t: Option<&MqttTable>) -> Res<MqttSpec> {
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
            *target = v.get_ref().clone();
        }
    }
    if let Some(e) = &t.encoding {
        m.encoding = match e.get_ref().as_str() {
            "json" => Encoding::Json,
            "msgpack" => Encoding::MsgPack,
            other => {
                return Err(cx.at(
                    e.span(),
                    format!("encoding \"{other}\" is not known; expected \"json\" or \"msgpack\""),
                ));
            }
        };
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

fn environments(cx: &Ctx, tables: &[EnvironmentTable]) -> Res<Vec<EnvironmentSpec>> {
    let mut out: Vec<EnvironmentSpec> = Vec::new();
    // Names so far; scanning `out` instead makes `count = 100000` take minutes.
    let mut names: HashSet<String> = HashSet::new();
    for t in tables {
        let count = count_of(cx, t.count.as_ref(), &t.name, "name")?;
        let finite = |v: &Option<Spanned<f64>>, key: &str, default: f64| -> Res<f64> {
            match v {
                Some(x) if !x.get_ref().is_finite() => Err(cx.at(
                    x.span(),
                    format!("{key} is {}; expected a finite number", x.get_ref()),
                )),
                Some(x) => Ok(*x.get_ref()),
                None => Ok(default),
            }
        };
        let outdoor_mean = finite(&t.outdoor_mean, "outdoor_mean", 5.0)?;
        let outdoor_amplitude = finite(&t.outdoor_amplitude, "outdoor_amplitude", 4.0)?;
        let initial_temperature = finite(
            &t.initial_temperature,
            "initial_temperature",
            outdoor_mean + 12.0,
        )?;
        let humidity_amplitude = finite(&t.humidity_amplitude, "humidity_amplitude", 5.0)?;
        let time_constant = match &t.time_constant {
            Some(tc) => positive(cx, tc, "time_constant")?,
            None => 3.0 * 3600.0,
        };
        let heater_gain = match &t.heater_gain {
            Some(g) => non_negative_f(cx, g, "heater_gain")?,
            None => 6.0,
        };
        let humidity = match &t.humidity {
            Some(h) if !(0.0..=100.0).contains(h.get_ref()) => {
                return Err(cx.at(
                    h.span(),
                    format!("humidity is {}; expected 0 to 100 (%RH)", h.get_ref()),
                ));
            }
            Some(h) => *h.get_ref(),
            None => 45.0,
        };
        let outdoor_peak_hour = match &t.outdoor_peak_hour {
            Some(h) if !(0.0..=24.0).contains(h.get_ref()) => {
                return Err(cx.at(
                    h.span(),
                    format!(
                        "outdoor_peak_hour is {}; expected an hour from 0 to 24",
                        h.get_ref()
                    ),
                ));
            }
            Some(h) => *h.get_ref(),
            None => 15.0,
        };
        let pressure = match &t.pressure {
            Some(p) if !(300.0..=1100.0).contains(p.get_ref()) => {
                return Err(cx.at(
                    p.span(),
                    format!(
                        "pressure is {} hPa; expected 300 to 1100 (the BME280's range)",
                        p.get_ref()
                    ),
                ));
            }
            Some(p) => *p.get_ref(),
            None => 1013.25,
        };
        let occupancy = match &t.occupancy {
            Some(o) => non_negative_f(cx, o, "occupancy")?,
            None => 1.0,
        };
        for n in 1..=count {
            let name = expand_n(t.name.get_ref(), n);
            if !names.insert(name.clone()) {
                return Err(cx.at(
                    t.name.span(),
                    format!("environment \"{name}\" is defined twice; expected unique names"),
                ));
            }
            if out.len() >= MAX_ENVIRONMENTS {
                return Err(cx.at(
                    t.count.as_ref().map_or(t.name.span(), Spanned::span),
                    format!(
                        "the scenario has more than {MAX_ENVIRONMENTS} environments; expected fewer"
                    ),
                ));
            }
            out.push(EnvironmentSpec {
                name,
                outdoor_mean,
                outdoor_amplitude,
                outdoor_peak_hour,
                initial_temperature,
                time_constant,
                heater_gain,
                humidity,
                humidity_amplitude,
                pressure,
                occupancy,
            });
        }
    }
    Ok(out)
}

/// Reject model parameters given to a model that does not take them.
fn check_keys(cx: &Ctx, g: &DeviceGroupTable, kind: ModelKind) -> Res<()> {
    let given: [(&str, Option<Range<usize>>); 11] = [
        ("initial", g.initial.as_ref().map(Spanned::span)),
        ("power_w", g.power_w.as_ref().map(Spanned::span)),
        ("setpoint", g.setpoint.as_ref().map(Spanned::span)),
        ("hysteresis", g.hysteresis.as_ref().map(Spanned::span)),
        ("sensor", g.sensor.as_ref().map(Spanned::span)),
        ("heater", g.heater.as_ref().map(Spanned::span)),
        (
            "events_per_hour",
            g.events_per_hour.as_ref().map(Spanned::span),
        ),
        ("hold", g.hold.as_ref().map(Spanned::span)),
        ("base_load_w", g.base_load_w.as_ref().map(Spanned::span)),
        ("irrigated_by", g.irrigated_by.as_ref().map(Spanned::span)),
        ("dry_per_day", g.dry_per_day.as_ref().map(Spanned::span)),
    ];
    for (key, span) in given {
        let Some(span) = span else { continue };
        if !kind.param_keys().contains(&key) {
            let accepted: Vec<&str> = COMMON_KEYS
                .iter()
                .chain(kind.param_keys())
                .copied()
                .collect();
            return Err(cx.at(
                span,
                format!(
                    "\"{key}\" does not apply to model \"{}\"; it accepts: {}",
                    kind.name(),
                    accepted.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The fleet as pass 1 left it, for resolving references between devices.
struct FleetSoFar<'a> {
    devices: &'a [DeviceSpec],
    groups: &'a [GroupSpec],
    ids: &'a HashMap<String, usize>,
    environments: &'a [EnvironmentSpec],
    /// Fleet indices of the heaters in each environment, in fleet order.
    heaters_in: &'a HashMap<Option<usize>, Vec<usize>>,
}

impl FleetSoFar<'_> {
    fn kind(&self, idx: usize) -> ModelKind {
        self.groups[self.devices[idx].group].model
    }

    /// Resolve a device-id template (with `{n}`) that must name a device of the right kind.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is one part of the reference being checked"
    )]
    fn resolve(
        &self,
        cx: &Ctx,
        t: &Spanned<String>,
        n: usize,
        me: usize,
        key: &str,
        ok: fn(ModelKind) -> bool,
        expected: &str,
    ) -> Res<usize> {
        let id = expand_n(t.get_ref(), n);
        let idx = *self.ids.get(&id).ok_or_else(|| {
            cx.at(
                t.span(),
                format!(
                    "{key} \"{id}\" (for device \"{}\") is not a device of this fleet; expected {expected}",
                    self.devices[me].id
                ),
            )
        })?;
        if !ok(self.kind(idx)) {
            return Err(cx.at(
                t.span(),
                format!(
                    "{key} names \"{id}\", a {}; expected {expected}",
                    self.kind(idx).name()
                ),
            ));
        }
        Ok(idx)
    }
}

fn model_spec(
    cx: &Ctx,
    g: &DeviceGroupTable,
    kind: ModelKind,
    n: usize,
    me: usize,
    fleet: &FleetSoFar,
) -> Res<ModelSpec> {
    let initial = g.initial.as_ref().is_some_and(|v| *v.get_ref());
    Ok(match kind {
        ModelKind::Dht22 => ModelSpec::Dht22,
        ModelKind::Bme280 => ModelSpec::Bme280,
        ModelKind::Ds18b20 => ModelSpec::Ds18b20,
        ModelKind::Tmp36 => ModelSpec::Tmp36,
        ModelKind::Battery => ModelSpec::Battery,
        ModelKind::Pir => ModelSpec::Pir {
            events_per_hour: match &g.events_per_hour {
                Some(v) => positive_f(cx, v, "events_per_hour")?,
                None => 6.0,
            },
            hold: match &g.hold {
                Some(v) => positive(cx, v, "hold")?,
                None => 5.0,
            },
        },
        ModelKind::PowerMeter => ModelSpec::PowerMeter {
            base_load_w: match &g.base_load_w {
                Some(v) => non_negative_f(cx, v, "base_load_w")?,
                None => 150.0,
            },
        },
        ModelKind::SoilMoisture => ModelSpec::SoilMoisture {
            irrigated_by: match &g.irrigated_by {
                Some(t) => Some(fleet.resolve(
                    cx,
                    t,
                    n,
                    me,
                    "irrigated_by",
                    |k| k == ModelKind::Relay,
                    "the relay that drives the valve",
                )?),
                None => None,
            },
            dry_per_day: match &g.dry_per_day {
                Some(v) => non_negative_f(cx, v, "dry_per_day")?,
                None => 8.0,
            },
        },
        ModelKind::Relay => ModelSpec::Relay { initial },
        ModelKind::Led => ModelSpec::Led { initial },
        ModelKind::Heater => ModelSpec::Heater {
            initial,
            power_w: match &g.power_w {
                Some(v) => positive_f(cx, v, "power_w")?,
                None => 1500.0,
            },
        },
        ModelKind::Thermostat => {
            let setpoint = match &g.setpoint {
                Some(v) if !v.get_ref().is_finite() => {
                    return Err(cx.at(v.span(), "setpoint must be a finite temperature in °C"));
                }
                Some(v) => *v.get_ref(),
                None => 21.0,
            };
            let hysteresis = match &g.hysteresis {
                Some(v) => positive_f(cx, v, "hysteresis")?,
                None => 1.0,
            };
            let sensor = match &g.sensor {
                Some(t) => Some(fleet.resolve(
                    cx,
                    t,
                    n,
                    me,
                    "sensor",
                    ModelKind::measures_temperature,
                    "a dht22, bme280, ds18b20 or tmp36",
                )?),
                None => None,
            };
            let heaters = match &g.heater {
                Some(t) => vec![fleet.resolve(
                    cx,
                    t,
                    n,
                    me,
                    "heater",
                    |k| k == ModelKind::Heater,
                    "a heater",
                )?],
                None => {
                    let env = fleet.devices[me].environment;
                    let found = fleet.heaters_in.get(&env).cloned().unwrap_or_default();
                    if found.is_empty() {
                        let env_name = env.map_or("?", |e| fleet.environments[e].name.as_str());
                        return Err(cx.at(
                            g.model.span(),
                            format!(
                                "thermostat \"{}\" has nothing to drive: no heater key and no heater in environment \"{env_name}\"",
                                fleet.devices[me].id
                            ),
                        ));
                    }
                    found
                }
            };
            ModelSpec::Thermostat {
                setpoint,
                hysteresis,
                sensor,
                heaters,
            }
        }
    })
}

/// Match a target against ids: an exact id, or a pattern with `*` wildcards.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Fleet indices an event or rule `target` names, in fleet order. An exact id is looked up:
/// matching it against every id made each event cost a pass over the fleet, 25 s for 200
/// events on the largest one.
fn targets_of(pattern: &str, devices: &[DeviceSpec], ids: &HashMap<String, usize>) -> Vec<usize> {
    if pattern.contains('*') {
        (0..devices.len())
            .filter(|&i| glob_match(pattern, &devices[i].id))
            .collect()
    } else {
        ids.get(pattern).map(|&i| vec![i]).unwrap_or_default()
    }
}

fn event_spec(
    cx: &Ctx,
    e: &EventTable,
    duration: f64,
    tick: f64,
    devices: &[DeviceSpec],
    ids: &HashMap<String, usize>,
) -> Res<EventSpec> {
    let at = e.at.get_ref().secs();
    if at > duration {
        return Err(cx.at(
            e.at.span(),
            format!(
                "event at {} comes after the end of the run ({}); expected a time within the duration",
                e.at.get_ref(),
                Dur(duration)
            ),
        ));
    }
    let pattern = e.target.get_ref();
    let targets = targets_of(pattern, devices, ids);
    if targets.is_empty() {
        return Err(cx.at(
            e.target.span(),
            format!("target \"{pattern}\" matches no device; expected a device id or a pattern like \"thermo-*\""),
        ));
    }
    let action = match e.action.get_ref().as_str() {
        "set" => {
            let Some(set) = &e.set else {
                return Err(cx.at(
                    e.action.span(),
                    "action \"set\" needs a set table beside it, like set = { on = true }",
                ));
            };
            let mut values = Vec::new();
            for (key, value) in set.get_ref() {
                let v = match value {
                    toml::Value::Boolean(b) => SetValue::Bool(*b),
                    toml::Value::Integer(i) => SetValue::Number(*i as f64),
                    toml::Value::Float(f) => SetValue::Number(*f),
                    toml::Value::String(s) => SetValue::Text(s.clone()),
                    other => {
                        return Err(cx.at(
                            set.span(),
                            format!(
                                "set.{key} is a {}; expected a boolean, number or string",
                                other.type_str()
                            ),
                        ));
                    }
                };
                for &t in &targets {
                    let kind = devices[t].model.kind();
                    let keys = kind.command_keys();
                    let Some((_, want)) = keys.iter().find(|(k, _)| k == key) else {
                        let accepted: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
                        return Err(cx.at(
                            set.span(),
                            format!(
                                "device \"{}\" (a {}) takes no command \"{key}\"; it accepts: {}",
                                devices[t].id,
                                kind.name(),
                                if accepted.is_empty() {
                                    "none (it is not an actuator)".to_string()
                                } else {
                                    accepted.join(", ")
                                }
                            ),
                        ));
                    };
                    let fits = matches!(
                        (want, &v),
                        (CommandValueKind::Bool, SetValue::Bool(_))
                            | (CommandValueKind::Number, SetValue::Number(_))
                    );
                    if !fits {
                        return Err(cx.at(
                            set.span(),
                            format!(
                                "set.{key} for a {} expects a {}",
                                kind.name(),
                                match want {
                                    CommandValueKind::Bool => "boolean",
                                    CommandValueKind::Number => "number",
                                }
                            ),
                        ));
                    }
                }
                values.push((key.clone(), v));
            }
            if values.is_empty() {
                return Err(cx.at(set.span(), "set is empty; expected at least one key"));
            }
            EventAction::Set(values)
        }
        "disconnect" => EventAction::Disconnect,
        "reconnect" => EventAction::Reconnect,
        "rate" => {
            let Some(p) = &e.publish_every else {
                return Err(cx.at(
                    e.action.span(),
                    "action \"rate\" needs publish_every beside it, like publish_every = \"5s\"",
                ));
            };
            let every = positive(cx, p, "publish_every")?;
            if every < tick {
                return Err(cx.at(
                    p.span(),
                    format!(
                        "publish_every {} is shorter than the tick ({}); expected at least one tick",
                        p.get_ref(),
                        Dur(tick)
                    ),
                ));
            }
            for &t in &targets {
                let kind = devices[t].model.kind();
                if let Some((min, why)) = kind.min_publish_every()
                    && every < min
                {
                    return Err(cx.at(
                        p.span(),
                        format!(
                            "publish_every {} is too short for {} (a {}): {why}; expected at least {}",
                            p.get_ref(),
                            devices[t].id,
                            kind.name(),
                            Dur(min)
                        ),
                    ));
                }
            }
            EventAction::Rate(every)
        }
        "fault" => {
            let Some(f) = &e.fault else {
                return Err(cx.at(
                    e.action.span(),
                    "action \"fault\" needs a fault table beside it, like fault = { kind = \"stuck\", duration = \"10m\" }",
                ));
            };
            let mut spec = None;
            for &t in &targets {
                spec = Some(fault_spec(cx, f.get_ref(), devices[t].model.kind(), false)?);
            }
            match spec {
                Some(s) => EventAction::Fault(s),
                None => return Err(cx.at(f.span(), "fault has no target")),
            }
        }
        other => {
            return Err(cx.at(
                e.action.span(),
                format!(
                    "action \"{other}\" is not known; expected set, disconnect, reconnect, rate or fault"
                ),
            ));
        }
    };
    if !matches!(action, EventAction::Fault(_))
        && let Some(f) = &e.fault
    {
        return Err(cx.at(f.span(), "fault applies only to action \"fault\""));
    }
    if !matches!(action, EventAction::Rate(_))
        && let Some(p) = &e.publish_every
    {
        return Err(cx.at(p.span(), "publish_every applies only to action \"rate\""));
    }
    if !matches!(action, EventAction::Set(_))
        && let Some(s) = &e.set
    {
        return Err(cx.at(s.span(), "set applies only to action \"set\""));
    }
    Ok(EventSpec {
        at,
        devices: targets,
        action,
    })
}

/// Check one fault table: a known kind, a sensor the model publishes, sane numbers.
/// Group faults need `per_hour`; timeline faults must not have it.
fn fault_spec(cx: &Ctx, f: &FaultTable, model: ModelKind, random: bool) -> Res<FaultSpec> {
    let kind = FaultKind::from_name(f.kind.get_ref()).ok_or_else(|| {
        cx.at(
            f.kind.span(),
            format!(
                "unknown fault kind \"{}\"; valid kinds are: {}",
                f.kind.get_ref(),
                FaultKind::ALL.map(FaultKind::name).join(", ")
            ),
        )
    })?;
    let sensor = match &f.sensor {
        Some(s) if !kind.is_per_sensor() => {
            return Err(cx.at(
                s.span(),
                format!(
                    "a {} fault affects the whole device; remove sensor",
                    kind.name()
                ),
            ));
        }
        Some(s) if !model.analysed_readings().contains(&s.get_ref().as_str()) => {
            return Err(cx.at(
                s.span(),
                format!(
                    "a {} has no reading \"{}\" to fault; expected one of: {}",
                    model.name(),
                    s.get_ref(),
                    if model.analysed_readings().is_empty() {
                        "none".to_string()
                    } else {
                        model.analysed_readings().join(", ")
                    }
                ),
            ));
        }
        Some(s) => Some(s.get_ref().clone()),
        None => None,
    };
    if kind.is_per_sensor() && model.analysed_readings().is_empty() {
        return Err(cx.at(
            f.kind.span(),
            format!(
                "a {} fault needs a measured reading, and a {} has none",
                kind.name(),
                model.name()
            ),
        ));
    }
    let magnitude = match &f.magnitude {
        Some(m) => non_negative_f(cx, m, "magnitude")?,
        None => kind.default_magnitude(),
    };
    let duration = match &f.duration {
        Some(d) => d.get_ref().secs(),
        None => kind.default_duration(),
    };
    let per_hour = match (&f.per_hour, random) {
        (Some(p), true) => positive_f(cx, p, "per_hour")?,
        (None, true) => {
            return Err(cx.at(
                f.kind.span(),
                "a fault in a device group needs per_hour (how often it strikes each device)",
            ));
        }
        (Some(p), false) => {
            return Err(cx.at(
                p.span(),
                "per_hour applies to group faults; a timeline fault strikes at its event's time",
            ));
        }
        (None, false) => 0.0,
    };
    Ok(FaultSpec {
        kind,
        sensor,
        magnitude,
        duration,
        per_hour,
    })
}

fn analytics_spec(cx: &Ctx, t: Option<&AnalyticsTable>) -> Res<AnalyticsSpec> {
    let mut a = AnalyticsSpec::default();
    let Some(t) = t else { return Ok(a) };
    if let Some(w) = &t.window {
        a.window = positive(cx, w, "window")?;
    }
    if let Some(m) = &t.spike_method {
        a.robust_spikes = match m.get_ref().as_str() {
            "sigma" => false,
            "robust_z" => {
                a.spike_threshold = 3.5;
                true
            }
            other => {
                return Err(cx.at(
                    m.span(),
                    format!(
                        "spike_method \"{other}\" is not known; expected \"sigma\" or \"robust_z\""
                    ),
                ));
            }
        };
    }
    if let Some(th) = &t.spike_threshold {
        a.spike_threshold = positive_f(cx, th, "spike_threshold")?;
    }
    if let Some(f) = &t.stale_factor {
        let v = positive_f(cx, f, "stale_factor")?;
        if v < 1.0 {
            return Err(cx.at(
                f.span(),
                format!("stale_factor is {v}; expected at least 1 (one publish period)"),
            ));
        }
        a.stale_factor = v;
    }
    Ok(a)
}

fn rule_spec(
    cx: &Ctx,
    r: &RuleTable,
    devices: &[DeviceSpec],
    ids: &HashMap<String, usize>,
) -> Res<RuleSpec> {
    let sensor = r.sensor.get_ref().clone();
    let named = match &r.target {
        Some(t) => targets_of(t.get_ref(), devices, ids),
        None => (0..devices.len()).collect(),
    };
    let targets: Vec<usize> = named
        .into_iter()
        .filter(|&i| {
            devices[i]
                .model
                .kind()
                .analysed_readings()
                .contains(&sensor.as_str())
        })
        .collect();
    if targets.is_empty() {
        return Err(cx.at(
            r.target.as_ref().map_or(r.sensor.span(), Spanned::span),
            format!("rule on \"{sensor}\" matches no device that publishes it; expected a reading such as temperature, humidity, pressure, moisture or voltage"),
        ));
    }
    let finite = |v: &Option<Spanned<f64>>, key: &str| -> Res<Option<f64>> {
        match v {
            Some(x) if !x.get_ref().is_finite() => {
                Err(cx.at(x.span(), format!("{key} must be a finite number")))
            }
            Some(x) => Ok(Some(*x.get_ref())),
            None => Ok(None),
        }
    };
    let above = finite(&r.above, "above")?;
    let below = finite(&r.below, "below")?;
    let max_rate_per_s = match &r.max_rate_per_s {
        Some(v) => Some(positive_f(cx, v, "max_rate_per_s")?),
        None => None,
    };
    if above.is_none() && below.is_none() && max_rate_per_s.is_none() {
        return Err(cx.at(
            r.sensor.span(),
            "a rule needs above, below or max_rate_per_s",
        ));
    }
    let hysteresis = match &r.hysteresis {
        Some(h) => non_negative_f(cx, h, "hysteresis")?,
        None => 0.0,
    };
    let int = |v: &Option<Spanned<i64>>, key: &str| -> Res<usize> {
        match v {
            Some(x) if !(1..=64).contains(x.get_ref()) => Err(cx.at(
                x.span(),
                format!("{key} is {}; expected 1 to 64", x.get_ref()),
            )),
            Some(x) => Ok(*x.get_ref() as usize),
            None => Ok(1),
        }
    };
    let n = int(&r.n, "n")?;
    let m = int(&r.m, "m")?.max(n);
    if let Some(mm) = &r.m
        && (*mm.get_ref() as usize) < n
    {
        return Err(cx.at(
            mm.span(),
            format!("m is {}; expected at least n ({n})", mm.get_ref()),
        ));
    }
    Ok(RuleSpec {
        devices: targets,
        sensor,
        above,
        below,
        hysteresis,
        n,
        m,
        max_rate_per_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_prefix_suffix_and_exact() {
        assert!(glob_match("thermo-*", "thermo-12"));
        assert!(glob_match("*-1", "relay-1"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c"));
        assert!(glob_match("relay-1", "relay-1"));
        assert!(!glob_match("relay-1", "relay-10"));
    }

    /// A scenario of one DHT22 in room `env`, after `tables`.
    fn one_sensor_in(tables: &str, env: &str) -> String {
        format!(
            "[scenario]\nname = \"x\"\nduration = \"1m\"\n\n{tables}\n[[devices]]\nid = \"d\"\nmodel = \"dht22\"\nenvironment = \"{env}\"\n"
        )
    }

    // Found with a hand-written input to the scenario_parse fuzz target: each new
    // environment name was compared with every earlier one, so `count = 50000` took 5 s
    // and `count = 2000000` hours.
    #[test]
    fn many_environments_expand_in_linear_time_and_names_stay_unique() {
        let src = one_sensor_in(
            "[[environment]]\nname = \"room-{n}\"\ncount = 200000\n",
            "room-200000",
        );
        let s = crate::parse(&src, "rooms.toml").unwrap();
        assert_eq!(s.environments.len(), 200_000);
        assert_eq!(s.environments[199_999].name, "room-200000");
        assert_eq!(s.devices[0].environment, Some(199_999));

        let twice = one_sensor_in(
            "[[environment]]\nname = \"room-{n}\"\ncount = 3\n\n[[environment]]\nname = \"room-2\"\n",
            "room-1",
        );
        let e = crate::parse(&twice, "twice.toml").unwrap_err().to_string();
        assert!(e.contains("\"room-2\" is defined twice"), "{e}");
    }

    #[test]
    fn environments_beyond_the_limit_are_refused() {
        let src = one_sensor_in(
            "[[environment]]\nname = \"a-{n}\"\ncount = 2000000\n\n[[environment]]\nname = \"b\"\n",
            "a-1",
        );
        let e = crate::parse(&src, "rooms.toml").unwrap_err();
        assert!(
            e.to_string().contains("more than 2000000 environments"),
            "{e}"
        );
        assert_eq!(e.location(), Some((10, 8)), "{e}");
    }

    /// Heaters `h-{n}` (`heaters` of them) and thermostats `t-{n}` in room `lab`, plus a
    /// heater in another room that no thermostat may pick up.
    fn thermostats_and_heaters(thermostats: usize, heaters: usize) -> String {
        format!(
            "[scenario]\nname = \"x\"\nduration = \"1m\"\n\n\
             [[environment]]\nname = \"lab\"\n\n[[environment]]\nname = \"shed\"\n\n\
             [[devices]]\nid = \"h-{{n}}\"\nmodel = \"heater\"\nenvironment = \"lab\"\ncount = {heaters}\n\n\
             [[devices]]\nid = \"shed-heater\"\nmodel = \"heater\"\nenvironment = \"shed\"\n\n\
             [[devices]]\nid = \"t-{{n}}\"\nmodel = \"thermostat\"\nenvironment = \"lab\"\ncount = {thermostats}\n"
        )
    }

    // Found with a hand-written input to the scenario_parse fuzz target: every thermostat
    // without a heater key searched the whole fleet for heaters in its room, so 50 000
    // thermostats took 8 s and 2 000 000 hours.
    #[test]
    fn thermostats_find_the_heaters_of_their_room_in_linear_time() {
        let s = crate::parse(&thermostats_and_heaters(200_000, 2), "t.toml").unwrap();
        assert_eq!(s.devices.len(), 200_003);
        for d in &s.devices[3..] {
            match &d.model {
                ModelSpec::Thermostat { heaters, .. } => assert_eq!(heaters, &[0, 1], "{}", d.id),
                other => panic!("{} is {other:?}", d.id),
            }
        }
    }

    // Found with a hand-written input to the scenario_parse fuzz target: 20 000 thermostats
    // in a room of 20 000 heaters (a 199-byte file) stored 400 million heater references
    // and the process aborted when memory ran out; they are now counted and refused past
    // the limit.
    #[test]
    fn device_references_beyond_the_limit_are_refused() {
        // 4 000 thermostats x 5 000 heaters is exactly the limit; one more is over.
        assert!(crate::parse(&thermostats_and_heaters(4_000, 5_000), "t.toml").is_ok());
        let e = crate::parse(&thermostats_and_heaters(4_001, 5_000), "t.toml").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("this thermostat brings the device references"),
            "{text}"
        );
        assert!(
            text.contains("to 20005000 in all; expected at most 20000000"),
            "{text}"
        );
        assert_eq!(e.location(), Some((24, 9)), "{text}");
    }

    // Found with a hand-written input to the scenario_parse fuzz target: each event matched
    // its target against every id, so 200 events on a 2 000 000-device fleet took 25 s.
    // Exact ids are looked up now; a target with `*` still matches every id.
    #[test]
    fn exact_targets_name_one_device_and_patterns_every_match() {
        let src = "[scenario]\nname = \"x\"\nduration = \"1m\"\n\n\
                   [[environment]]\nname = \"lab\"\n\n\
                   [[devices]]\nid = \"dht-{n}\"\nmodel = \"dht22\"\nenvironment = \"lab\"\ncount = 12\n\n\
                   [[events]]\nat = \"10s\"\ntarget = \"dht-1\"\naction = \"disconnect\"\n\n\
                   [[events]]\nat = \"20s\"\ntarget = \"dht-1*\"\naction = \"reconnect\"\n\n\
                   [[rules]]\nsensor = \"temperature\"\ntarget = \"dht-12\"\nabove = 30.0\n";
        let s = crate::parse(src, "t.toml").unwrap();
        assert_eq!(s.events[0].devices, vec![0]);
        assert_eq!(s.events[1].devices, vec![0, 9, 10, 11]);
        assert_eq!(s.rules[0].devices, vec![11]);
        let missing = src.replace("target = \"dht-1\"", "target = \"dht-13\"");
        let e = crate::parse(&missing, "t.toml").unwrap_err().to_string();
        assert!(e.contains("target \"dht-13\" matches no device"), "{e}");
    }
}
