//! The ingest's decode-and-account path on hostile sequences: the bytes are read as a
//! script of sends (the fleet's own messages, recorded in the send log) and arrivals
//! (any topic, any payload) against a fleet of three, run or attached. Whatever comes,
//! nothing panics, a device never counts more distinct messages than it sent (in a
//! run), and what ingest keeps stays within its bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_core::analytics::fleet::{FleetAnalytics, FleetConfig};
use sim_core::ingest::{Arrival, Ingest, IngestState, Topics, count_batch};
use sim_core::rejected::{TOPICS_KEPT, TOPICS_LISTED};
use sim_core::transport::dispatch::{SendLog, SendRecord};
use std::sync::{Arc, Mutex};

const IDS: [&str; 3] = ["dht-0", "dht-1", "relay-0"];
/// Devices an attached ingest may keep here.
const CAP: usize = 8;

fn ingest(attach: bool) -> Ingest {
    use scenarios::ModelKind as M;
    let ids: Vec<String> = IDS.iter().map(|s| s.to_string()).collect();
    let (fleet, models): (Vec<String>, Vec<M>) = if attach {
        (Vec::new(), Vec::new())
    } else {
        (ids.clone(), vec![M::Dht22, M::Dht22, M::Relay])
    };
    let periods = vec![2.0; models.len()];
    let analytics = FleetAnalytics::new(FleetConfig::default(), fleet.clone(), &models, &periods);
    let mut st = IngestState::new(&fleet, analytics, 0.0);
    st.attach_cap = CAP;
    Ingest {
        state: Arc::new(Mutex::new(st)),
        counters: Default::default(),
        send_log: Arc::new(SendLog::default()),
        encoding: scenarios::Encoding::Json,
        topics: Topics {
            telemetry: "twin/f/{device}/telemetry".into(),
            status: "twin/f/{device}/status".into(),
        },
        attach,
    }
}

/// A topic the script picks: the fleet's, a stranger's, or its own bytes.
fn topic(pick: u8, rest: &[u8]) -> String {
    match pick % 4 {
        0 | 1 => format!("twin/f/{}/telemetry", IDS[pick as usize / 4 % 3]),
        2 => format!("twin/f/{}/status", IDS[pick as usize / 4 % 3]),
        _ => format!("twin/f/{}/telemetry", String::from_utf8_lossy(rest)),
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&mode, mut script)) = bytes.split_first() else {
        return;
    };
    let ing = ingest(mode & 1 == 1);
    let mut sent = [0u64; 3];
    let mut at_us = 1_000_000u64;
    while let [op, arg, rest @ ..] = script {
        let len = (*arg as usize).min(rest.len());
        let (body, tail) = rest.split_at(len);
        script = tail;
        at_us += 1_000;
        if op % 3 == 0 {
            // The fleet sends its next message: recorded, then it may arrive.
            let d = (*arg % 3) as usize;
            let seq = sent[d];
            sent[d] += 1;
            let rec = SendRecord { sent_us: at_us, expected: Vec::new(), sim_ms: at_us / 1000 };
            ing.send_log.record(d as u32, seq, rec);
            let body = format!(r#"{{"device_id":"{}","seq":{seq},"temperature":21.5}}"#, IDS[d]);
            let publish = rumqttc::Publish::new(topic((d * 4) as u8, &[]), rumqttc::QoS::AtMostOnce, body);
            count_batch(&ing, &[Arrival::new(publish, at_us + 500)]);
        } else {
            let publish = rumqttc::Publish::new(topic(*op, body), rumqttc::QoS::AtMostOnce, body.to_vec());
            count_batch(&ing, &[Arrival::new(publish, at_us)]);
        }
    }
    let st = ing.state.lock().unwrap();
    if !ing.attach {
        assert_eq!(st.devices.len(), 3);
        for (d, t) in st.devices.iter().enumerate() {
            assert!(t.seq.received <= sent[d], "{} received {} of {} sent", IDS[d], t.seq.received, sent[d]);
        }
    } else {
        assert!(st.attached.len() <= CAP, "{} kept", st.attached.len());
    }
    let s = st.rejected.summary();
    assert!(s.topics.len() <= TOPICS_LISTED && TOPICS_LISTED <= TOPICS_KEPT);
});
