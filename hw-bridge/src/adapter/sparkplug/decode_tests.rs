use super::*;
use crate::adapter::sparkplug::command::{REBIRTH, command};
use serde_json::json;
use std::collections::BTreeMap;

const NBIRTH: &str = "spBv1.0/plant/NBIRTH/gw-1";
const NDATA: &str = "spBv1.0/plant/NDATA/gw-1";
const NDEATH: &str = "spBv1.0/plant/NDEATH/gw-1";
const DBIRTH: &str = "spBv1.0/plant/DBIRTH/gw-1/press-3";
const DDATA: &str = "spBv1.0/plant/DDATA/gw-1/press-3";
const DDEATH: &str = "spBv1.0/plant/DDEATH/gw-1/press-3";
const OTHER_DDATA: &str = "spBv1.0/plant/DDATA/gw-1/press-4";

fn cfg(device: Option<&str>) -> SparkplugConfig {
    SparkplugConfig {
        group: "plant".into(),
        edge_node: "gw-1".into(),
        device: device.map(str::to_string),
        readings: BTreeMap::new(),
        state: BTreeMap::new(),
    }
}

fn named(name: &str, alias: Option<u64>, dt: u32, v: MetricValue) -> Metric {
    Metric {
        name: Some(name.into()),
        alias,
        datatype: Some(dt),
        value: Some(v),
        ..Metric::default()
    }
}

fn aliased(alias: u64, v: MetricValue) -> Metric {
    Metric {
        alias: Some(alias),
        value: Some(v),
        ..Metric::default()
    }
}

fn payload(seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    Payload {
        timestamp: Some(1_790_000_000_000),
        metrics,
        seq,
    }
    .encode_to_vec()
}

fn bd_seq(n: u64) -> Metric {
    named(BD_SEQ, None, datatype::UINT64, MetricValue::Long(n))
}

fn nbirth(bd: u64) -> Vec<u8> {
    payload(
        Some(0),
        vec![
            bd_seq(bd),
            named(
                "Node Control/Rebirth",
                Some(0),
                datatype::BOOLEAN,
                MetricValue::Boolean(false),
            ),
            named("Uptime", Some(1), datatype::UINT64, MetricValue::Long(12)),
        ],
    )
}

fn dbirth(seq: u64) -> Vec<u8> {
    payload(
        Some(seq),
        vec![
            named(
                "temperature",
                Some(2),
                datatype::DOUBLE,
                MetricValue::Double(21.5),
            ),
            named(
                "running",
                Some(3),
                datatype::BOOLEAN,
                MetricValue::Boolean(true),
            ),
            named(
                "Properties/Serial",
                None,
                datatype::STRING,
                MetricValue::String("A-1".into()),
            ),
        ],
    )
}

fn temperature(seq: u64, v: f64) -> Vec<u8> {
    payload(Some(seq), vec![aliased(2, MetricValue::Double(v))])
}

fn events(o: Outcome) -> Vec<Event> {
    match o {
        Outcome::Events(e) => e,
        other => panic!("expected events, got {other:?}"),
    }
}

fn malformed(o: Outcome) -> String {
    match o {
        Outcome::Malformed(why) => why,
        other => panic!("expected malformed, got {other:?}"),
    }
}

/// A device adapter that has seen the node's NBIRTH (bdSeq 7, seq 0) and its DBIRTH
/// (seq 1).
fn born() -> (SparkplugConfig, Session) {
    let c = cfg(Some("press-3"));
    let mut s = Session::default();
    assert_eq!(decode(&c, &mut s, NBIRTH, &nbirth(7)), Outcome::NotMine);
    events(decode(&c, &mut s, DBIRTH, &dbirth(1)));
    (c, s)
}

#[test]
fn births_name_the_metrics_and_data_may_carry_only_aliases() {
    let c = cfg(Some("press-3"));
    let mut s = Session::default();
    // The node's birth is not the device's: it only sets bdSeq and seq.
    assert_eq!(decode(&c, &mut s, NBIRTH, &nbirth(7)), Outcome::NotMine);
    assert_eq!(
        events(decode(&c, &mut s, DBIRTH, &dbirth(1))),
        vec![
            Event::Online(true),
            Event::Reading("temperature".into(), 21.5),
            Event::State("running".into(), json!(true)),
            Event::State("properties_serial".into(), json!("A-1")),
        ]
    );
    assert_eq!(
        events(decode(&c, &mut s, DDATA, &temperature(2, 22.25))),
        vec![Event::Reading("temperature".into(), 22.25)]
    );
    let running = payload(Some(3), vec![aliased(3, MetricValue::Boolean(false))]);
    assert_eq!(
        events(decode(&c, &mut s, DDATA, &running)),
        vec![Event::State("running".into(), json!(false))]
    );
    // Another device of the node, and commands (ours coming back): not this device's.
    assert_eq!(
        decode(&c, &mut s, OTHER_DDATA, &temperature(4, 1.0)),
        Outcome::NotMine
    );
    assert_eq!(
        decode(
            &c,
            &mut s,
            "spBv1.0/plant/DCMD/gw-1/press-3",
            &payload(None, vec![])
        ),
        Outcome::NotMine
    );
    assert_eq!(
        decode(
            &c,
            &mut s,
            "spBv1.0/plant/DDATA/gw-2/press-3",
            &temperature(5, 1.0)
        ),
        Outcome::NotMine
    );
    assert_eq!(
        events(decode(&c, &mut s, DDEATH, &payload(Some(5), vec![]))),
        vec![Event::Online(false)]
    );
}

#[test]
fn the_edge_node_itself_is_mirrored_without_its_bookkeeping() {
    let c = cfg(None);
    let mut s = Session::default();
    assert_eq!(
        events(decode(&c, &mut s, NBIRTH, &nbirth(7))),
        vec![Event::Online(true), Event::Reading("uptime".into(), 12.0)],
        "bdSeq and Node Control/* run the protocol; they are not readings"
    );
    assert_eq!(decode(&c, &mut s, DBIRTH, &dbirth(1)), Outcome::NotMine);
    let uptime = payload(Some(2), vec![aliased(1, MetricValue::Long(13))]);
    assert_eq!(
        events(decode(&c, &mut s, NDATA, &uptime)),
        vec![Event::Reading("uptime".into(), 13.0)]
    );
    assert_eq!(
        events(decode(&c, &mut s, NDEATH, &payload(None, vec![bd_seq(7)]))),
        vec![Event::Online(false)]
    );
}

#[test]
fn readings_and_state_maps_pick_and_rename_metrics() {
    let mut c = cfg(Some("press-3"));
    c.readings.insert("temp".into(), "temperature".to_string());
    c.state.insert("motor".into(), "running".to_string());
    let mut s = Session::default();
    assert_eq!(
        events(decode(&c, &mut s, DBIRTH, &dbirth(1))),
        vec![
            Event::Online(true),
            Event::Reading("temp".into(), 21.5),
            Event::State("motor".into(), json!(true)),
        ],
        "unmapped metrics are left out once a map is given"
    );
    // A reading that is not a number is malformed.
    c.readings
        .insert("serial".into(), "Properties/Serial".to_string());
    let why = malformed(decode(&c, &mut s, DBIRTH, &dbirth(2)));
    assert!(
        why.contains("Properties/Serial") && why.contains("not a number"),
        "{why}"
    );
}

#[test]
fn seq_gaps_are_lost_messages_counted_once_across_the_node() {
    let (c, mut s) = born();
    // 2, then 5: 3 and 4 never came.
    events(decode(&c, &mut s, DDATA, &temperature(2, 21.0)));
    assert_eq!(
        events(decode(&c, &mut s, DDATA, &temperature(5, 21.0))),
        vec![Event::Reading("temperature".into(), 21.0), Event::Lost(2)]
    );
    // The node's other messages count too: 6 on another device, then 7 here.
    assert_eq!(
        decode(&c, &mut s, OTHER_DDATA, &temperature(6, 1.0)),
        Outcome::NotMine
    );
    assert_eq!(
        events(decode(&c, &mut s, DDATA, &temperature(7, 21.0))),
        vec![Event::Reading("temperature".into(), 21.0)]
    );
    // A gap shown by another device's message is that one's to count, not ours.
    assert_eq!(
        decode(&c, &mut s, OTHER_DDATA, &temperature(10, 1.0)),
        Outcome::NotMine
    );
    assert_eq!(
        events(decode(&c, &mut s, DDATA, &temperature(11, 21.0))),
        vec![Event::Reading("temperature".into(), 21.0)]
    );
    // seq wraps at 256: 255 then 0 is no gap; 254 then 1 is two lost.
    let mut s2 = s.clone();
    s2.last_seq = Some(255);
    assert_eq!(
        events(decode(&c, &mut s2, DDATA, &temperature(0, 21.0))),
        vec![Event::Reading("temperature".into(), 21.0)]
    );
    s2.last_seq = Some(254);
    assert_eq!(
        events(decode(&c, &mut s2, DDATA, &temperature(1, 21.0))).last(),
        Some(&Event::Lost(2))
    );
    // The same seq again is a redelivery, not 255 lost.
    assert_eq!(
        events(decode(&c, &mut s2, DDATA, &temperature(1, 21.0))),
        vec![Event::Reading("temperature".into(), 21.0)]
    );
    // A new NBIRTH starts the count at 0 again.
    assert_eq!(decode(&c, &mut s, NBIRTH, &nbirth(8)), Outcome::NotMine);
    assert_eq!(
        events(decode(&c, &mut s, DBIRTH, &dbirth(1)))[0],
        Event::Online(true)
    );
    // A gap before an unreadable message of ours is reported with the next good one.
    let unknown_alias = payload(Some(4), vec![aliased(99, MetricValue::Double(1.0))]);
    malformed(decode(&c, &mut s, DDATA, &unknown_alias));
    assert_eq!(
        events(decode(&c, &mut s, DDATA, &temperature(5, 21.0))).last(),
        Some(&Event::Lost(2))
    );
}

#[test]
fn an_ndeath_counts_only_when_its_bdseq_is_the_current_births() {
    let (c, mut s) = born();
    let node = cfg(None);
    let mut ns = Session::default();
    events(decode(&node, &mut ns, NBIRTH, &nbirth(7)));
    // bdSeq 6: the will of the session before, delivered late. Ignored by both.
    let stale = payload(None, vec![bd_seq(6)]);
    assert_eq!(decode(&c, &mut s, NDEATH, &stale), Outcome::NotMine);
    assert_eq!(decode(&node, &mut ns, NDEATH, &stale), Outcome::NotMine);
    let current = payload(None, vec![bd_seq(7)]);
    assert_eq!(
        events(decode(&c, &mut s, NDEATH, &current)),
        vec![Event::Online(false)],
        "the node's death takes its devices with it"
    );
    assert_eq!(
        events(decode(&node, &mut ns, NDEATH, &current)),
        vec![Event::Online(false)]
    );
    // Before any NBIRTH there is nothing to compare with: believed.
    let mut fresh = Session::default();
    assert_eq!(
        events(decode(&c, &mut fresh, NDEATH, &stale)),
        vec![Event::Online(false)]
    );
    let why = malformed(decode(&c, &mut s, NDEATH, &payload(None, vec![])));
    assert!(why.contains("bdSeq"), "{why}");
}

#[test]
fn unreadable_payloads_are_malformed_never_a_panic() {
    let (c, mut s) = born();
    let junk = malformed(decode(&c, &mut s, DDATA, &[0xff, 0xff, 0xff]));
    assert!(junk.contains("not a Sparkplug B payload"), "{junk}");
    // Junk on another device's topic is not this device's to count.
    assert_eq!(
        decode(&c, &mut s, OTHER_DDATA, &[0xff, 0xff]),
        Outcome::NotMine
    );
    let why = malformed(decode(&c, &mut s, DDATA, &payload(None, vec![])));
    assert!(why.contains("no seq"), "{why}");
    let why = malformed(decode(&c, &mut s, DDATA, &payload(Some(300), vec![])));
    assert!(why.contains("over 255"), "{why}");
    let why = malformed(decode(
        &c,
        &mut s,
        DDATA,
        &payload(Some(2), vec![aliased(42, MetricValue::Double(1.0))]),
    ));
    assert!(
        why.contains("alias 42 was never defined by a BIRTH"),
        "{why}"
    );
    // temperature is a Double; a boolean in its place is the wrong type.
    let why = malformed(decode(
        &c,
        &mut s,
        DDATA,
        &payload(Some(3), vec![aliased(2, MetricValue::Boolean(true))]),
    ));
    assert!(
        why.contains("declared Double but carries boolean_value"),
        "{why}"
    );
    let nameless = payload(Some(4), vec![Metric::default()]);
    malformed(decode(&c, &mut s, DBIRTH, &nameless));
    let clash = payload(
        Some(5),
        vec![
            named("a", Some(1), datatype::DOUBLE, MetricValue::Double(1.0)),
            named("b", Some(1), datatype::DOUBLE, MetricValue::Double(2.0)),
        ],
    );
    let why = malformed(decode(&c, &mut s, DBIRTH, &clash));
    assert!(why.contains("alias 1 names both"), "{why}");
    // Arbitrary bytes never panic, whatever they decode to.
    let mut x: u32 = 12345;
    for _ in 0..500 {
        let bytes: Vec<u8> = (0..(x % 40))
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        let _ = decode(&c, &mut s, DDATA, &bytes);
        let _ = decode(&c, &mut s, NDEATH, &bytes);
    }
}

#[test]
fn values_are_read_by_their_declared_datatype() {
    let c = cfg(Some("press-3"));
    let mut s = Session::default();
    let m = |name: &str, dt: u32, v: MetricValue| named(name, None, dt, v);
    let birth = payload(
        Some(0),
        vec![
            m("i8", datatype::INT8, MetricValue::Int(0xff)),
            m("i8 wide", datatype::INT8, MetricValue::Int(u32::MAX)),
            m("i16", datatype::INT16, MetricValue::Int(0xfffe)),
            m("i32", datatype::INT32, MetricValue::Int(u32::MAX - 2)),
            m("i64", datatype::INT64, MetricValue::Long(u64::MAX)),
            m("u32", datatype::UINT32, MetricValue::Long(4_000_000_000)),
            m("u8", datatype::UINT8, MetricValue::Int(200)),
            m("f", datatype::FLOAT, MetricValue::Float(1.5)),
            m("nan", datatype::FLOAT, MetricValue::Float(f32::NAN)),
            m("text", datatype::TEXT, MetricValue::String("ok".into())),
            m(
                "when",
                datatype::DATETIME,
                MetricValue::Long(1_790_000_000_000),
            ),
            m("blob", datatype::BYTES, MetricValue::Bytes(vec![1, 2])),
            Metric {
                is_null: Some(true),
                ..m("gone", datatype::DOUBLE, MetricValue::Double(3.0))
            },
            Metric {
                is_historical: Some(true),
                ..m("old", datatype::DOUBLE, MetricValue::Double(4.0))
            },
            Metric {
                datatype: None,
                ..m("untyped", 0, MetricValue::Int(5))
            },
        ],
    );
    assert_eq!(
        events(decode(&c, &mut s, DBIRTH, &birth)),
        vec![
            Event::Online(true),
            Event::Reading("i8".into(), -1.0),
            Event::Reading("i8_wide".into(), -1.0),
            Event::Reading("i16".into(), -2.0),
            Event::Reading("i32".into(), -3.0),
            Event::Reading("i64".into(), -1.0),
            Event::Reading("u32".into(), 4e9),
            Event::Reading("u8".into(), 200.0),
            Event::Reading("f".into(), 1.5),
            Event::State("text".into(), json!("ok")),
            Event::Reading("untyped".into(), 5.0),
        ],
        "NaN, DateTime, bytes, null and historical values are not mirrored"
    );
}

#[test]
fn a_full_tahu_payload_decodes_past_the_fields_it_does_not_declare() {
    use prost::encoding::{WireType, encode_key, encode_varint};
    // A metric with metadata (8), properties (9) and a dataset value (17) beside a Double.
    let mut metric = named(
        "temperature",
        Some(2),
        datatype::DOUBLE,
        MetricValue::Double(20.5),
    )
    .encode_to_vec();
    for tag in [8, 9] {
        encode_key(tag, WireType::LengthDelimited, &mut metric);
        encode_varint(2, &mut metric);
        metric.extend([0x08, 0x01]);
    }
    encode_key(6, WireType::Varint, &mut metric);
    encode_varint(1, &mut metric);
    let mut dataset_metric = Metric {
        name: Some("table".into()),
        datatype: Some(16),
        ..Metric::default()
    }
    .encode_to_vec();
    encode_key(17, WireType::LengthDelimited, &mut dataset_metric);
    encode_varint(2, &mut dataset_metric);
    dataset_metric.extend([0x08, 0x02]);
    let mut bytes = Payload {
        timestamp: Some(1),
        metrics: vec![],
        seq: Some(1),
    }
    .encode_to_vec();
    for m in [&metric, &dataset_metric] {
        encode_key(2, WireType::LengthDelimited, &mut bytes);
        encode_varint(m.len() as u64, &mut bytes);
        bytes.extend(m);
    }
    // uuid (4), body (5) and a third-party extension (6).
    encode_key(4, WireType::LengthDelimited, &mut bytes);
    encode_varint(3, &mut bytes);
    bytes.extend(b"abc");
    encode_key(5, WireType::LengthDelimited, &mut bytes);
    encode_varint(1, &mut bytes);
    bytes.push(0);
    encode_key(6, WireType::Varint, &mut bytes);
    encode_varint(9, &mut bytes);
    let c = cfg(Some("press-3"));
    let mut s = Session::default();
    assert_eq!(
        events(decode(&c, &mut s, DBIRTH, &bytes)),
        vec![
            Event::Online(true),
            Event::Reading("temperature".into(), 20.5)
        ]
    );
}

#[test]
fn commands_use_the_birth_alias_and_datatype() {
    let (c, s) = born();
    let cmd = command(&c, &s, "running", &json!("off")).expect("a command");
    assert_eq!(cmd.topic, "spBv1.0/plant/DCMD/gw-1/press-3");
    let p = Payload::decode(cmd.payload.as_slice()).expect("protobuf");
    assert!(p.timestamp.is_some() && p.seq.is_none(), "{p:?}");
    assert_eq!(
        p.metrics,
        vec![Metric {
            name: Some("running".into()),
            alias: Some(3),
            datatype: Some(datatype::BOOLEAN),
            value: Some(MetricValue::Boolean(false)),
            ..Metric::default()
        }]
    );
    // Our name for a metric finds its Sparkplug name.
    let cmd = command(&c, &s, "properties_serial", &json!("B-2")).expect("a command");
    let p = Payload::decode(cmd.payload.as_slice()).expect("protobuf");
    assert_eq!(p.metrics[0].name.as_deref(), Some("Properties/Serial"));
    assert_eq!(p.metrics[0].value, Some(MetricValue::String("B-2".into())));
    let why = command(&c, &s, "running", &json!("fast")).expect_err("not a boolean");
    assert!(why.contains("Boolean"), "{why}");

    // Before any BIRTH: booleans as Boolean, numbers as Double; the node gets NCMD.
    let node = cfg(None);
    let fresh = Session::default();
    let cmd = command(&node, &fresh, "setpoint", &json!(40)).expect("a command");
    assert_eq!(cmd.topic, "spBv1.0/plant/NCMD/gw-1");
    let p = Payload::decode(cmd.payload.as_slice()).expect("protobuf");
    assert_eq!(
        (
            p.metrics[0].datatype,
            &p.metrics[0].value,
            p.metrics[0].alias
        ),
        (
            Some(datatype::DOUBLE),
            &Some(MetricValue::Double(40.0)),
            None
        )
    );
    let cmd = command(&node, &fresh, "enable", &json!(true)).expect("a command");
    let p = Payload::decode(cmd.payload.as_slice()).expect("protobuf");
    assert_eq!(p.metrics[0].datatype, Some(datatype::BOOLEAN));

    // Integers in their declared width, two's complement; out of range refused.
    let mut s = Session::default();
    let birth = payload(
        Some(0),
        vec![
            named("Offset", Some(9), datatype::INT8, MetricValue::Int(0)),
            named("Count", Some(10), datatype::UINT64, MetricValue::Long(0)),
            named("Gain", Some(11), datatype::FLOAT, MetricValue::Float(1.0)),
        ],
    );
    events(decode(&node, &mut s, NBIRTH, &birth));
    let value_of = |key: &str, v: Value| {
        let cmd = command(&node, &s, key, &v).expect("a command");
        let p = Payload::decode(cmd.payload.as_slice()).expect("protobuf");
        (p.metrics[0].datatype, p.metrics[0].value.clone())
    };
    assert_eq!(
        value_of("offset", json!(-1)),
        (Some(datatype::INT8), Some(MetricValue::Int(0xff)))
    );
    assert_eq!(
        value_of("count", json!(7)),
        (Some(datatype::UINT64), Some(MetricValue::Long(7)))
    );
    assert_eq!(
        value_of("gain", json!(2.5)),
        (Some(datatype::FLOAT), Some(MetricValue::Float(2.5)))
    );
    assert!(command(&node, &s, "offset", &json!(300)).is_err());
    assert!(command(&node, &s, "count", &json!(-1)).is_err());

    // With maps, only mapped names can be commanded.
    let mut mapped = cfg(Some("press-3"));
    mapped.state.insert("motor".into(), "running".into());
    let cmd = command(&mapped, &Session::default(), "motor", &json!(true)).expect("mapped");
    let p = Payload::decode(cmd.payload.as_slice()).expect("protobuf");
    assert_eq!(p.metrics[0].name.as_deref(), Some("running"));
    assert!(command(&mapped, &Session::default(), "speed", &json!(1)).is_err());
}

#[test]
fn data_before_any_birth_asks_the_node_to_rebirth_once() {
    // The mirror started after the node was born: its DATA carries aliases nobody here
    // has heard of. That is not a broken message; a host asks for a rebirth.
    let c = cfg(Some("press-3"));
    let mut s = Session::default();
    let e = events(decode(&c, &mut s, DDATA, &temperature(5, 20.0)));
    let [Event::Send(cmd)] = &e[..] else {
        panic!("expected one command, got {e:?}")
    };
    assert_eq!(cmd.topic, "spBv1.0/plant/NCMD/gw-1");
    let p = Payload::decode(cmd.payload.as_slice()).expect("a Sparkplug payload");
    assert_eq!(p.metrics.len(), 1);
    assert_eq!(p.metrics[0].name.as_deref(), Some(REBIRTH));
    assert_eq!(p.metrics[0].value, Some(MetricValue::Boolean(true)));
    // Asked once: the next DATA before the BIRTH is skipped quietly.
    assert_eq!(
        events(decode(&c, &mut s, DDATA, &temperature(6, 20.5))),
        vec![]
    );
    // The node answers with its BIRTHs; from then on an unknown alias is malformed.
    assert_eq!(decode(&c, &mut s, NBIRTH, &nbirth(8)), Outcome::NotMine);
    events(decode(&c, &mut s, DBIRTH, &dbirth(1)));
    assert!(
        events(decode(&c, &mut s, DDATA, &temperature(2, 21.0)))
            .contains(&Event::Reading("temperature".into(), 21.0))
    );
    let unknown = payload(Some(3), vec![aliased(99, MetricValue::Double(1.0))]);
    malformed(decode(&c, &mut s, DDATA, &unknown));
}
