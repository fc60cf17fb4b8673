//! The NCMD/DCMD that carry a desired state to a Sparkplug node or device, and the
//! rebirth request a host sends a node it joined late.

use crate::adapter::event::Command;
use crate::adapter::sparkplug::config::SparkplugConfig;
use crate::adapter::sparkplug::proto::{Metric, MetricValue, NAMESPACE, Payload, datatype};
use crate::adapter::sparkplug::session::{Session, local_name};
use prost::Message as _;
use serde_json::Value;

/// The NCMD that asks an edge node to publish its NBIRTH and DBIRTHs again.
pub(crate) fn rebirth(cfg: &SparkplugConfig) -> Command {
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

/// The NCMD or DCMD that sets `key` to `value`, in the alias and datatype the BIRTH
/// declared.
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
        dt::INT8..=dt::UINT64 => match integer(declared, v) {
            Ok(value) => Ok((declared, value)),
            Err((lo, hi)) => not(&format!("a whole number from {lo} to {hi}")),
        },
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

/// Milliseconds since the Unix epoch, for payload timestamps.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A whole number in the field of integer datatype `declared`, two's complement of the
/// declared width (64-bit and UInt32 in `long_value`); the type's range when it does
/// not fit.
fn integer(declared: u32, v: &Value) -> Result<MetricValue, (i128, i128)> {
    use datatype as dt;
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
    let whole = match v {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        _ => None,
    };
    let Some(i) = whole.filter(|i| (lo..=hi).contains(i)) else {
        return Err((lo, hi));
    };
    Ok(match declared {
        dt::INT8 | dt::INT16 | dt::INT32 => {
            let bits = 8u32 << (declared - dt::INT8);
            MetricValue::Int(((i as u64) & ((1u64 << bits) - 1)) as u32)
        }
        dt::UINT8 | dt::UINT16 => MetricValue::Int(i as u32),
        _ => MetricValue::Long(i as u64),
    })
}
