//! Reading a Sparkplug B node's messages: which are the mirrored node's or device's,
//! what their metrics say, and what their `seq` says was lost.

use crate::adapter::event::{Event, Outcome};
use crate::adapter::sparkplug::command::rebirth;
use crate::adapter::sparkplug::config::SparkplugConfig;
use crate::adapter::sparkplug::proto::{BD_SEQ, Metric, MetricValue, NAMESPACE, Payload, datatype};
use crate::adapter::sparkplug::session::{Birth, Session, local_name};
use crate::error::BridgeError;
use prost::Message as _;
use serde_json::Value;

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
    let ours = is_ours(cfg, kind, device);
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
    let mut events = match read(cfg, s, kind, &p.metrics) {
        Ok(ev) => ev,
        Err(e) => return Outcome::Malformed(format!("{topic}: {e}")),
    };
    if s.lost > 0 {
        events.push(Event::Lost(std::mem::take(&mut s.lost)));
    }
    Outcome::Events(events)
}

/// Whether a message of `kind` about `device` (none: the node) is the mirrored one's.
fn is_ours(cfg: &SparkplugConfig, kind: Kind, device: Option<&str>) -> bool {
    match (&cfg.device, device) {
        (None, None) => true,
        (Some(want), Some(d)) => want == d,
        // The node's death is its devices' too.
        (Some(_), None) => kind == Kind::NDeath,
        (None, Some(_)) => false,
    }
}

/// What a BIRTH, DATA or DDEATH of the mirrored node or device says.
fn read(
    cfg: &SparkplugConfig,
    s: &mut Session,
    kind: Kind,
    metrics: &[Metric],
) -> Result<Vec<Event>, BridgeError> {
    let mut events = Vec::new();
    let read = match kind {
        Kind::NBirth | Kind::DBirth => match Birth::declare(metrics) {
            Ok(b) => {
                s.birth = b;
                s.born = true;
                s.rebirth_asked = false;
                events.push(Event::Online(true));
                values(cfg, &s.birth, metrics)
            }
            Err(e) => Err(e),
        },
        Kind::NData | Kind::DData => match values(cfg, &s.birth, metrics) {
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
    events.extend(read?);
    Ok(events)
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

/// The events a BIRTH's or DATA's metrics make.
fn values(
    cfg: &SparkplugConfig,
    birth: &Birth,
    metrics: &[Metric],
) -> Result<Vec<Event>, BridgeError> {
    let mut events = Vec::new();
    for m in metrics {
        let name = match (&m.name, m.alias) {
            (Some(n), _) => n.clone(),
            (None, Some(a)) => match birth.names.get(&a) {
                Some(n) => n.clone(),
                None => return Err(malformed(format!("alias {a} was never defined by a BIRTH"))),
            },
            (None, None) => {
                return Err(malformed("a metric with neither name nor alias".into()));
            }
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
                    return Err(malformed(format!(
                        "metric \"{name}\" ({}) is not a number: {v}",
                        datatype::name(declared)
                    )));
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
fn value(name: &str, declared: u32, v: &Option<MetricValue>) -> Result<Option<Value>, BridgeError> {
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
        Err(malformed(format!(
            "metric \"{name}\" is declared {} but carries {field}",
            dt::name(declared)
        )))
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

/// Why a message cannot be read, as the error.
fn malformed(why: String) -> BridgeError {
    BridgeError::Malformed(why)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
