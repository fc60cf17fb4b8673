//! Reading a Sparkplug B node's messages ([`Session`] follows its births, deaths and
//! `seq`), and the NCMD/DCMD that carry a desired state to it.

use crate::adapter::event::{Command, Event, Outcome};
use crate::adapter::sparkplug::config::SparkplugConfig;
use crate::adapter::sparkplug::proto::{BD_SEQ, Metric, MetricValue, NAMESPACE, Payload, datatype};
use prost::Message as _;
use serde_json::Value;
use std::collections::BTreeMap;

/// The kinds of message, from the topic's third level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NBirth,
    NData,
    NDeath,
    NCmd,
    DBirth,
    DData,
    DDeath,
    DCmd,
}

/// What an edge node's messages taught so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Session {
    /// `bdSeq` of the node's last NBIRTH: an NDEATH carrying another is stale.
    bd_seq: Option<u64>,
    /// `seq` of the node's last message, to see gaps; `None` before the first and after
    /// an NDEATH (the next session starts at NBIRTH).
    last_seq: Option<u64>,
    /// Messages lost before a message of ours that could not be read: reported with the
    /// next one that can.
    lost: u64,
    /// The mirrored node's (or device's) metrics as its last BIRTH declared them.
    birth: Birth,
    /// A BIRTH has been seen since the mirror started (or since the node's death).
    born: bool,
    /// A rebirth was asked for since the last BIRTH, so it is not asked again for
    /// every DATA message.
    rebirth_asked: bool,
}

/// Metrics declared by a BIRTH.
#[derive(Debug, Clone, Default, PartialEq)]
struct Birth {
    /// Alias → metric name.
    names: BTreeMap<u64, String>,
    /// Metric name → (alias, datatype).
    metrics: BTreeMap<String, (Option<u64>, u32)>,
}

impl Session {
    /// Follow the node's `seq`; the number of messages missing before this one.
    fn follow(&mut self, seq: u64, birth: bool) -> u64 {
        let gap = match self.last_seq {
            // An NBIRTH starts the count again.
            _ if birth => 0,
            // The same seq again is a redelivery, not 255 lost.
            Some(last) if seq != last => (seq + 256 - last - 1) % 256,
            _ => 0,
        };
        self.last_seq = Some(seq);
        gap
    }
}

/// Our name for a Sparkplug metric: lower case, '/' and spaces as '_'.
pub(crate) fn local_name(metric: &str) -> String {
    metric.to_lowercase().replace(['/', ' '], "_")
}

/// Metrics that run the protocol rather than describe the device: not mirrored unless
/// `readings`/`state` name them.
fn bookkeeping(metric: &str) -> bool {
    metric == BD_SEQ || metric.starts_with("Node Control/") || metric.starts_with("Device Control/")
}

pub(crate) fn filters(cfg: &SparkplugConfig) -> Vec<String> {
    // The whole node, devices and all, even to mirror one device: `seq` counts them all.
    let (g, n) = (&cfg.group, &cfg.edge_node);
    vec![
        format!("{NAMESPACE}/{g}/+/{n}"),
        format!("{NAMESPACE}/{g}/+/{n}/+"),
    ]
}

/// The kind of message and the device it is about, when `topic` is one of this node's.
fn parse_topic<'a>(cfg: &SparkplugConfig, topic: &'a str) -> Option<(Kind, Option<&'a str>)> {
    let mut levels = topic.split('/');
    let (ns, group, kind, node) = (
        levels.next()?,
        levels.next()?,
        levels.next()?,
        levels.next()?,
    );
    let device = levels.next();
    if levels.next().is_some() || ns != NAMESPACE || group != cfg.group || node != cfg.edge_node {
        return None;
    }
    let kind = match (kind, device) {
        ("NBIRTH", None) => Kind::NBirth,
        ("NDATA", None) => Kind::NData,
        ("NDEATH", None) => Kind::NDeath,
        ("NCMD", None) => Kind::NCmd,
        ("DBIRTH", Some(_)) => Kind::DBirth,
        ("DDATA", Some(_)) => Kind::DData,
        ("DDEATH", Some(_)) => Kind::DDeath,
        ("DCMD", Some(_)) => Kind::DCmd,
        _ => return None,
    };
    Some((kind, device))
}

pub(crate) fn decode(
    cfg: &SparkplugConfig,
    s: &mut Session,
    topic: &str,
    payload: &[u8],
) -> Outcome {
    let Some((kind, device)) = parse_topic(cfg, topic) else {
        return Outcome::NotMine;
    };
    // Commands: our own coming back, or another host's. They carry no seq.
    if matches!(kind, Kind::NCmd | Kind::DCmd) {
        return Outcome::NotMine;
    }
    let ours = match (&cfg.device, device) {
        (None, None) => true,
        (Some(want), Some(d)) => want == d,
        // The node's death is its devices' too.
        (Some(_), None) => kind == Kind::NDeath,
        (None, Some(_)) => false,
    };
    let p = match Payload::decode(payload) {
        Ok(p) => p,
        Err(e) if ours => {
            return Outcome::Malformed(format!("{topic}: not a Sparkplug B payload ({e})"));
        }
        Err(_) => return Outcome::NotMine,
    };
    if kind == Kind::NDeath {
        return death(s, &p, topic);
    }
    let seq = match p.seq {
        Some(q) if q < 256 => q,
        Some(q) if ours => {
            return Outcome::Malformed(format!("{topic}: seq {q} is over 255"));
        }
        None if ours => return Outcome::Malformed(format!("{topic}: no seq")),
        _ => return Outcome::NotMine,
    };
    let gap = s.follow(seq, kind == Kind::NBirth);
    if kind == Kind::NBirth {
        s.bd_seq = p
            .metrics
            .iter()
            .find(|m| m.name.as_deref() == Some(BD_SEQ))
            .and_then(integer);
    }
    if !ours {
        return Outcome::NotMine;
    }
    s.lost += gap;
    let mut events = Vec::new();
    let read = match kind {
        Kind::NBirth | Kind::DBirth => match Birth::declare(&p.metrics) {
            Ok(b) => {
                s.birth = b;
                s.born = true;
                s.rebirth_asked = false;
                events.push(Event::Online(true));
                values(cfg, &s.birth, &p.metrics)
            }
            Err(e) => Err(e),
        },
        Kind::NData | Kind::DData => match values(cfg, &s.birth, &p.metrics) {
            // Joined after the node was born: its aliases are unknown here, not wrong.
            // A host asks for a rebirth (once) and reads nothing until the BIRTH.
            Err(_) if !s.born => {
                if !std::mem::replace(&mut s.rebirth_asked, true) {
                    events.push(Event::Send(rebirth(cfg)));
                }
                Ok(Vec::new())
            }
            other => other,
        },
        _ => Ok(vec![Event::Online(false)]),
    };
    match read {
        Ok(ev) => events.extend(ev),
        Err(e) => return Outcome::Malformed(format!("{topic}: {e}")),
    }
    if s.lost > 0 {
        events.push(Event::Lost(std::mem::take(&mut s.lost)));
    }
    Outcome::Events(events)
}

/// An NDEATH: offline, unless its `bdSeq` says it is from an older session.
fn death(s: &mut Session, p: &Payload, topic: &str) -> Outcome {
    let Some(bd_seq) = p
        .metrics
        .iter()
        .find(|m| m.name.as_deref() == Some(BD_SEQ))
        .and_then(integer)
    else {
        return Outcome::Malformed(format!("{topic}: NDEATH without a bdSeq metric"));
    };
    // Without an NBIRTH seen there is nothing to tell a stale NDEATH by: believe it.
    if s.bd_seq.is_some_and(|current| current != bd_seq) {
        tracing::debug!(
            topic,
            bd_seq,
            current = ?s.bd_seq,
            "NDEATH of an older session ignored"
        );
        return Outcome::NotMine;
    }
    s.last_seq = None;
    s.born = false;
    Outcome::Events(vec![Event::Online(false)])
}

/// A metric's value as an unsigned integer, whichever integer field carries it.
fn integer(m: &Metric) -> Option<u64> {
    match m.value {
        Some(MetricValue::Int(i)) => Some(u64::from(i)),
        Some(MetricValue::Long(l)) => Some(l),
        _ => None,
    }
}

impl Birth {
    fn declare(metrics: &[Metric]) -> Result<Birth, String> {
        let mut b = Birth::default();
        for m in metrics {
            let Some(name) = &m.name else {
                return Err("a BIRTH metric without a name".into());
            };
            if let Some(a) = m.alias
                && let Some(other) = b.names.insert(a, name.clone())
                && other != *name
            {
                return Err(format!("alias {a} names both \"{other}\" and \"{name}\""));
            }
            let dt = m.datatype.unwrap_or_else(|| inferred(&m.value));
            b.metrics.insert(name.clone(), (m.alias, dt));
        }
        Ok(b)
    }
}

/// The datatype a value's field suggests, when nobody declared one.
fn inferred(v: &Option<MetricValue>) -> u32 {
    match v {
        Some(MetricValue::Int(_)) => datatype::UINT32,
        Some(MetricValue::Long(_)) => datatype::UINT64,
        Some(MetricValue::Float(_)) => datatype::FLOAT,
        Some(MetricValue::Double(_)) => datatype::DOUBLE,
        Some(MetricValue::Boolean(_)) => datatype::BOOLEAN,
        Some(MetricValue::String(_)) => datatype::STRING,
        Some(MetricValue::Bytes(_)) => datatype::BYTES,
        None => datatype::UNKNOWN,
    }
}

/// The events a BIRTH's or DATA's metrics make.
fn values(cfg: &SparkplugConfig, birth: &Birth, metrics: &[Metric]) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    for m in metrics {
        let name = match (&m.name, m.alias) {
            (Some(n), _) => n.clone(),
            (None, Some(a)) => match birth.names.get(&a) {
                Some(n) => n.clone(),
                None => return Err(format!("alias {a} was never defined by a BIRTH")),
            },
            (None, None) => return Err("a metric with neither name nor alias".into()),
        };
        // Backfilled history is not the current value; null is no value.
        if m.is_historical == Some(true) || m.is_null == Some(true) {
            continue;
        }
        let declared = m
            .datatype
            .or_else(|| birth.metrics.get(&name).map(|(_, dt)| *dt))
            .unwrap_or(datatype::UNKNOWN);
        let Some(v) = value(&name, declared, &m.value)? else {
            continue;
        };
        if cfg.readings.is_empty() && cfg.state.is_empty() {
            if bookkeeping(&name) || declared == datatype::DATETIME {
                continue;
            }
            let ours = local_name(&name);
            events.push(match v.as_f64() {
                Some(x) => Event::Reading(ours, x),
                None => Event::State(ours, v),
            });
            continue;
        }
        for (ours, _) in cfg.readings.iter().filter(|(_, metric)| **metric == name) {
            match crate::value::as_reading(&v) {
                Some(x) => events.push(Event::Reading(ours.clone(), x)),
                None => {
                    return Err(format!(
                        "metric \"{name}\" ({}) is not a number: {v}",
                        datatype::name(declared)
                    ));
                }
            }
        }
        for (ours, _) in cfg.state.iter().filter(|(_, metric)| **metric == name) {
            events.push(Event::State(ours.clone(), v.clone()));
        }
    }
    Ok(events)
}

/// A metric's value read by its datatype: `None` for values the mirror does not read
/// (bytes, datasets, templates, NaN), an error when the field does not fit the type.
fn value(name: &str, declared: u32, v: &Option<MetricValue>) -> Result<Option<Value>, String> {
    use MetricValue as V;
    use datatype as dt;
    let Some(v) = v else {
        return Ok(None);
    };
    let field = match v {
        V::Int(_) => "int_value",
        V::Long(_) => "long_value",
        V::Float(_) => "float_value",
        V::Double(_) => "double_value",
        V::Boolean(_) => "boolean_value",
        V::String(_) => "string_value",
        V::Bytes(_) => "bytes_value",
    };
    let wrong = || {
        Err(format!(
            "metric \"{name}\" is declared {} but carries {field}",
            dt::name(declared)
        ))
    };
    let raw = match v {
        V::Int(i) => Some(u64::from(*i)),
        V::Long(l) => Some(*l),
        _ => None,
    };
    let number = |x: f64| Ok(x.is_finite().then(|| Value::from(x)));
    match declared {
        dt::INT8..=dt::INT64 => {
            let Some(r) = raw else { return wrong() };
            // Signed integers travel as two's complement of their declared width.
            let bits = 8u32 << (declared - dt::INT8);
            let shift = 64 - bits;
            Ok(Some(Value::from(((r << shift) as i64) >> shift)))
        }
        dt::UINT8..=dt::UINT64 | dt::DATETIME => match raw {
            Some(r) => Ok(Some(Value::from(r))),
            None => wrong(),
        },
        dt::FLOAT | dt::DOUBLE => match v {
            V::Float(f) => number(f64::from(*f)),
            V::Double(d) => number(*d),
            _ => wrong(),
        },
        dt::BOOLEAN => match v {
            V::Boolean(b) => Ok(Some(Value::Bool(*b))),
            _ => wrong(),
        },
        dt::STRING | dt::TEXT | dt::UUID => match v {
            V::String(s) => Ok(Some(Value::String(s.clone()))),
            _ => wrong(),
        },
        dt::UNKNOWN => match v {
            V::Int(_) | V::Long(_) => Ok(raw.map(Value::from)),
            V::Float(f) => number(f64::from(*f)),
            V::Double(d) => number(*d),
            V::Boolean(b) => Ok(Some(Value::Bool(*b))),
            V::String(s) => Ok(Some(Value::String(s.clone()))),
            V::Bytes(_) => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The NCMD that asks an edge node to publish its NBIRTH and DBIRTHs again.
fn rebirth(cfg: &SparkplugConfig) -> Command {
    let payload = Payload {
        timestamp: Some(now_ms()),
        metrics: vec![Metric {
            name: Some(REBIRTH.into()),
            datatype: Some(datatype::BOOLEAN),
            value: Some(MetricValue::Boolean(true)),
            ..Metric::default()
        }],
        seq: None,
    };
    Command {
        topic: format!("{NAMESPACE}/{}/NCMD/{}", cfg.group, cfg.edge_node),
        payload: payload.encode_to_vec(),
    }
}

/// The node control metric that asks for a rebirth.
pub(crate) const REBIRTH: &str = "Node Control/Rebirth";

pub(crate) fn command(
    cfg: &SparkplugConfig,
    s: &Session,
    key: &str,
    value: &Value,
) -> Result<Command, String> {
    let metric = match cfg.state.get(key).or_else(|| cfg.readings.get(key)) {
        Some(m) => m.clone(),
        None if cfg.state.is_empty() && cfg.readings.is_empty() => s
            .birth
            .metrics
            .keys()
            .find(|n| local_name(n) == key)
            .cloned()
            .unwrap_or_else(|| key.to_string()),
        None => {
            return Err(format!(
                "\"{key}\" is not in this device's `state` or `readings`"
            ));
        }
    };
    let (alias, declared) = s
        .birth
        .metrics
        .get(&metric)
        .copied()
        .unwrap_or((None, datatype::UNKNOWN));
    let (dt, v) = encode(&metric, declared, &crate::value::normalise(value))?;
    let payload = Payload {
        timestamp: Some(now_ms()),
        metrics: vec![Metric {
            name: Some(metric),
            alias,
            datatype: Some(dt),
            value: Some(v),
            ..Metric::default()
        }],
        seq: None,
    };
    let (g, n) = (&cfg.group, &cfg.edge_node);
    let topic = match &cfg.device {
        Some(d) => format!("{NAMESPACE}/{g}/DCMD/{n}/{d}"),
        None => format!("{NAMESPACE}/{g}/NCMD/{n}"),
    };
    Ok(Command {
        topic,
        payload: payload.encode_to_vec(),
    })
}

/// A desired value in the field and datatype the metric's BIRTH declared; undeclared,
/// booleans as Boolean, numbers as Double, text as String.
fn encode(metric: &str, declared: u32, v: &Value) -> Result<(u32, MetricValue), String> {
    use datatype as dt;
    let not = |what: &str| {
        Err(format!(
            "metric \"{metric}\" is {}; {v} is not {what}",
            dt::name(declared)
        ))
    };
    let whole = || -> Option<i128> {
        match v {
            Value::Bool(b) => Some(i128::from(*b)),
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from)),
            _ => None,
        }
    };
    match declared {
        dt::BOOLEAN => match v {
            Value::Bool(b) => Ok((dt::BOOLEAN, MetricValue::Boolean(*b))),
            Value::Number(n) if n.as_f64() == Some(1.0) => {
                Ok((dt::BOOLEAN, MetricValue::Boolean(true)))
            }
            Value::Number(n) if n.as_f64() == Some(0.0) => {
                Ok((dt::BOOLEAN, MetricValue::Boolean(false)))
            }
            _ => not("a boolean"),
        },
        dt::INT8..=dt::UINT64 => {
            let (lo, hi): (i128, i128) = match declared {
                dt::INT8 => (i8::MIN.into(), i8::MAX.into()),
                dt::INT16 => (i16::MIN.into(), i16::MAX.into()),
                dt::INT32 => (i32::MIN.into(), i32::MAX.into()),
                dt::INT64 => (i64::MIN.into(), i64::MAX.into()),
                dt::UINT8 => (0, u8::MAX.into()),
                dt::UINT16 => (0, u16::MAX.into()),
                dt::UINT32 => (0, u32::MAX.into()),
                _ => (0, u64::MAX.into()),
            };
            let Some(i) = whole().filter(|i| (lo..=hi).contains(i)) else {
                return not(&format!("a whole number from {lo} to {hi}"));
            };
            // Two's complement of the declared width; 64-bit and UInt32 in long_value.
            let value = match declared {
                dt::INT8 | dt::INT16 | dt::INT32 => {
                    let bits = 8u32 << (declared - dt::INT8);
                    MetricValue::Int(((i as u64) & ((1u64 << bits) - 1)) as u32)
                }
                dt::UINT8 | dt::UINT16 => MetricValue::Int(i as u32),
                _ => MetricValue::Long(i as u64),
            };
            Ok((declared, value))
        }
        dt::FLOAT | dt::DOUBLE => match crate::value::as_reading(v) {
            Some(x) if declared == dt::FLOAT => Ok((dt::FLOAT, MetricValue::Float(x as f32))),
            Some(x) => Ok((dt::DOUBLE, MetricValue::Double(x))),
            None => not("a number"),
        },
        dt::STRING | dt::TEXT => Ok((
            declared,
            MetricValue::String(match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        )),
        dt::UNKNOWN => match v {
            Value::Bool(b) => Ok((dt::BOOLEAN, MetricValue::Boolean(*b))),
            Value::Number(n) => match n.as_f64() {
                Some(x) => Ok((dt::DOUBLE, MetricValue::Double(x))),
                None => not("a number"),
            },
            Value::String(s) => Ok((dt::STRING, MetricValue::String(s.clone()))),
            other => Err(format!(
                "metric \"{metric}\": {other} is not a boolean, number or text"
            )),
        },
        _ => Err(format!(
            "metric \"{metric}\" is {}, which the mirror cannot command",
            dt::name(declared)
        )),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
