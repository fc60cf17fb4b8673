//! `twin load pub` through broker faults against real Mosquitto processes: kill -9 and
//! restart (with and without persistence), a SIGSTOP stall, a broker absent at start.
//!
//! Exactness is the property, not zero loss: an independent subscriber in the test,
//! connected straight to the broker, counts what really arrived, and the tool's report
//! must say the same (received, lost, duplicated). The tool's sessions reach the broker
//! through a small proxy the test controls, so after a restart the independent
//! subscriber is subscribed before any of the tool's sessions can reach the new broker:
//! both then see the same stream. Each test writes its row of the README's Reliability
//! table to `$CARGO_TARGET_TMPDIR/reliability/` (`benches/reliability.sh` renders it).

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim_core::load::{BufferPolicy, LoadReport, LoadSpec, decode, publish_counted};
use sim_core::test_support::Mosquitto;
use sim_core::wire::unix_us;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to the broker that accepts connections only while open.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(broker: SocketAddr) -> Proxy {
        Proxy::start_tapped(broker, None).await
    }

    /// A proxy that also counts, in `tap`, every load message it hands the tool: the
    /// PUBLISH packets flowing from the broker down to the tool's subscriber, parsed here
    /// from the bytes, independently of the tool's own parser.
    async fn start_tapped(broker: SocketAddr, tap: Option<Arc<Mutex<Seen>>>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let gate = open.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if !gate.load(Ordering::Acquire) {
                    continue;
                }
                let tap = tap.clone();
                tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(broker).await {
                        let _ = up.set_nodelay(true);
                        let _ = down.set_nodelay(true);
                        match tap {
                            None => {
                                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                            }
                            Some(tap) => tapped_copy(down, up, tap).await,
                        }
                    }
                });
            }
        });
        Proxy { addr, open }
    }

    fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

/// Copy both ways; count the load messages in PUBLISH packets going down (broker to
/// tool) once they are written to the tool.
async fn tapped_copy(down: TcpStream, up: TcpStream, tap: Arc<Mutex<Seen>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut down_r, mut down_w) = down.into_split();
    let (mut up_r, mut up_w) = up.into_split();
    let upward = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut down_r, &mut up_w).await;
        let _ = up_w.shutdown().await;
    });
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match up_r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if down_w.write_all(&buf[..n]).await.is_err() {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        let used = count_publishes(&pending, &tap);
        pending.drain(..used);
    }
    let _ = down_w.shutdown().await;
    upward.abort();
}

/// Count the complete MQTT 3.1.1 packets at the front of `b` that are load PUBLISHes;
/// returns the bytes used.
fn count_publishes(b: &[u8], tap: &Arc<Mutex<Seen>>) -> usize {
    let mut at = 0;
    loop {
        let rest = &b[at..];
        // Fixed header: type and flags, then the remaining length (1–4 bytes, 7 bits each).
        let (mut len, mut mult, mut i) = (0usize, 1usize, 1usize);
        loop {
            let Some(&byte) = rest.get(i) else { return at };
            len += usize::from(byte & 0x7f) * mult;
            mult *= 128;
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if rest.len() < i + len {
            return at;
        }
        let body = &rest[i..i + len];
        if rest[0] >> 4 == 3 && body.len() >= 2 {
            let qos = (rest[0] >> 1) & 3;
            let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
            let start = 2 + topic_len + if qos > 0 { 2 } else { 0 };
            if let Some((publisher, seq, _, sent)) = body.get(start..).and_then(decode) {
                let now = unix_us();
                let mut s = tap.lock().unwrap();
                *s.copies.entry((publisher, seq)).or_default() += 1;
                if let Some(since) = s.since_us
                    && s.recovered_us.is_none()
                    && sent >= since
                {
                    s.recovered_us = Some(now - since);
                }
            }
        }
        at += i + len;
    }
}

/// Mosquitto settings for a broker that saves its sessions and queues every second.
const SAVES_EVERY_SECOND: &str =
    "persistence true\npersistence_location {dir}/\nautosave_interval 1\nautosave_on_changes false";

/// The runtime a test's load and its fault run on.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What the independent subscriber saw.
#[derive(Default)]
struct Seen {
    copies: HashMap<(u32, u64), u64>,
    /// Subscribed on its current connection.
    subscribed: bool,
    /// Unix µs from which recovery is timed, and the first arrival sent after it.
    since_us: Option<u64>,
    recovered_us: Option<u64>,
}

impl Seen {
    fn distinct(&self) -> u64 {
        self.copies.len() as u64
    }
    fn duplicates(&self) -> u64 {
        self.copies.values().map(|n| n - 1).sum()
    }
}

/// Subscribe straight to the broker (subscribing on every CONNACK; a kept session when
/// `persistent`) and count every load message by (publisher, seq).
fn independent(broker: SocketAddr, filter: &str, qos: QoS, persistent: bool) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut o = MqttOptions::new(
        format!("independent-{}", broker.port()),
        "127.0.0.1",
        broker.port(),
    );
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(!persistent);
    let (client, mut el) = AsyncClient::new(o, 64);
    let (filter, s) = (filter.to_string(), seen.clone());
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(&filter, qos);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => s.lock().unwrap().subscribed = true,
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let now = unix_us();
                    let Some((publisher, seq, _, sent)) = decode(&p.payload) else {
                        continue;
                    };
                    let mut s = s.lock().unwrap();
                    *s.copies.entry((publisher, seq)).or_default() += 1;
                    if let Some(since) = s.since_us
                        && s.recovered_us.is_none()
                        && sent >= since
                    {
                        s.recovered_us = Some(now - since);
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    s.lock().unwrap().subscribed = false;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    });
    seen
}

/// Wait (bounded) until `f` holds of what the independent subscriber saw.
async fn until(seen: &Arc<Mutex<Seen>>, what: &str, f: impl Fn(&Seen) -> bool) {
    let t = tokio::time::timeout(Duration::from_secs(30), async {
        while !f(&seen.lock().unwrap()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(t.is_ok(), "waited 30 s for: {what}");
}

/// One row of the Reliability table.
fn write_row(key: &str, fault: &str, r: &LoadReport, seen: &Seen) {
    let m = &r.messages;
    let row = serde_json::json!({
        "fault": fault,
        "qos": r.qos,
        "sent": m.sent,
        "received": {"reported": m.received, "counted": seen.distinct()},
        "lost": {"reported": m.lost, "counted": m.sent - seen.distinct()},
        "duplicated": {"reported": m.duplicates, "counted": seen.duplicates()},
        "dropped_at_source": m.dropped_at_source,
        "retransmitted": r.retransmitted,
        "reconnects": r.connect.reconnects,
        "recovery_s": seen.recovered_us.map(|us| (us as f64 / 1e4).round() / 100.0),
    });
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{key}.json")), row.to_string()).unwrap();
    eprintln!("{key}: {row}");
}

/// After a broker killed without persistence, the report and the independent count
/// agree on every message received and lost. Duplicates may differ between the two
/// subscribers: a message the broker forwarded to one of them and not yet to the other
/// when it died comes again to both from the publisher's retransmission. Each side's
/// duplicates come from those retransmissions, so neither has more than there were.
fn assert_counts_agree_after_a_crash(r: &LoadReport, seen: &Seen) {
    let m = &r.messages;
    assert_eq!(m.received, seen.distinct(), "received: {m:?}");
    assert_eq!(m.lost, m.sent - seen.distinct(), "lost: {m:?}");
    assert_eq!(m.malformed, 0);
    assert!(
        m.duplicates <= r.retransmitted,
        "duplicates: {m:?}, {} retransmitted",
        r.retransmitted
    );
    assert!(
        seen.duplicates() <= r.retransmitted,
        "independent duplicates {}, {} retransmitted",
        seen.duplicates(),
        r.retransmitted
    );
}

/// The report and the independent count agree on every message.
fn assert_counts_agree(r: &LoadReport, seen: &Seen) {
    let m = &r.messages;
    assert_eq!(m.received, seen.distinct(), "received: {m:?}");
    assert_eq!(m.duplicates, seen.duplicates(), "duplicates: {m:?}");
    assert_eq!(m.lost, m.sent - seen.distinct(), "lost: {m:?}");
    assert_eq!(m.malformed, 0);
}

fn load(qos: u8, url: String, topic: &str) -> LoadSpec {
    LoadSpec {
        clients: 10,
        interval: Duration::from_millis(25),
        qos,
        size: 64,
        topic: format!("{topic}/%i"),
        duration: Duration::from_secs(6),
        drain: Duration::from_secs(15),
        connect_timeout: Duration::from_secs(20),
        broker: Some(url),
        ..LoadSpec::default()
    }
}

/// Run `spec` while `fault` acts on the broker; returns the report and what the
/// independent subscriber saw.
fn with_fault<F>(
    m: &mut Mosquitto,
    spec: impl FnOnce(String) -> LoadSpec,
    topic: &str,
    fault: F,
) -> (LoadReport, Arc<Mutex<Seen>>)
where
    F: AsyncFnOnce(&mut Mosquitto, &Proxy, &Arc<Mutex<Seen>>),
{
    let rt = runtime();
    rt.block_on(async {
        let proxy = Proxy::start(m.addr).await;
        let spec = spec(proxy.url());
        let qos = match spec.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let seen = independent(m.addr, &format!("{topic}/#"), qos, false);
        until(&seen, "the independent subscriber", |s| s.subscribed).await;
        let run = tokio::spawn(async move {
            publish_counted(&spec, Arc::new(AtomicBool::new(false)), None).await
        });
        until(&seen, "the load running", |s| s.distinct() >= 200).await;
        fault(m, &proxy, &seen).await;
        let r = finish(run, &seen).await;
        (r, seen)
    })
}

/// Wait (at most 90 s) for the load run to end by itself, then for what is still on its
/// way to the counter: anything the tool sent arrives before it has drained and
/// disconnected, but a last straggler gets time.
async fn finish(
    run: tokio::task::JoinHandle<Result<LoadReport, sim_core::run::RunError>>,
    seen: &Arc<Mutex<Seen>>,
) -> LoadReport {
    let r = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the load ends by itself")
        .unwrap()
        .expect("the load run reports");
    settle(seen, r.messages.received).await;
    r
}

/// Give what is still on its way to the independent subscriber up to 5 s to arrive.
async fn settle(seen: &Arc<Mutex<Seen>>, expect: u64) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while seen.lock().unwrap().distinct() < expect {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Kill the broker, keep it down for `outage`, start it again; the proxy opens to the
/// tool only once the independent subscriber is subscribed to the new broker.
async fn kill_and_restart(m: &mut Mosquitto, proxy: &Proxy, seen: &Arc<Mutex<Seen>>) {
    proxy.open.store(false, Ordering::Release);
    m.kill9().unwrap();
    seen.lock().unwrap().subscribed = false;
    // The outage itself: what the fault is, not a wait for an event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    m.restart().unwrap();
    seen.lock().unwrap().since_us = Some(unix_us());
    until(seen, "resubscribed after the restart", |s| s.subscribed).await;
    proxy.open.store(true, Ordering::Release);
}

fn kill9_row(qos: u8, key: &str, fault: &str) {
    if !Mosquitto::wanted() {
        return;
    }
    let mut m = Mosquitto::start("").unwrap();
    let topic = format!("rel-{key}");
    let (r, seen) = with_fault(
        &mut m,
        |url| load(qos, url, &topic),
        &topic,
        async |m, p, s| kill_and_restart(m, p, s).await,
    );
    let seen = seen.lock().unwrap();
    write_row(key, fault, &r, &seen);
    assert_counts_agree_after_a_crash(&r, &seen);
    // Every session came back, and the messages buffered over the outage went out.
    assert!(r.connect.reconnects >= 10, "{:?}", r.connect);
    assert!(r.connect.subscriber_reconnects >= 1, "{:?}", r.connect);
    assert_eq!(
        r.messages.sent,
        10 * 240,
        "{:?} {:?}",
        r.messages,
        r.dropped
    );
    assert!(seen.recovered_us.is_some(), "publishing resumed");
}

#[test]
fn kill_9_and_restart_at_qos_1_counts_exactly() {
    kill9_row(1, "kill9-qos1", "kill -9, restart after 2 s");
}

#[test]
fn kill_9_and_restart_at_qos_2_counts_exactly() {
    kill9_row(2, "kill9-qos2", "kill -9, restart after 2 s");
}

#[test]
fn a_stalled_broker_fills_bounded_buffers_and_every_drop_is_counted() {
    if !Mosquitto::wanted() {
        return;
    }
    let mut m = Mosquitto::start("").unwrap();
    let topic = "rel-stall";
    let (r, seen) = with_fault(
        &mut m,
        |url| LoadSpec {
            buffer: 10,
            buffer_policy: BufferPolicy::DropOldest,
            ..load(1, url, topic)
        },
        topic,
        async |m, _p, s| {
            m.signal("STOP").unwrap();
            tokio::time::sleep(Duration::from_secs(3)).await;
            m.signal("CONT").unwrap();
            s.lock().unwrap().since_us = Some(unix_us());
        },
    );
    let seen = seen.lock().unwrap();
    write_row("sigstop-qos1", "SIGSTOP 3 s, then SIGCONT", &r, &seen);
    assert_counts_agree(&r, &seen);
    // 3 s at 40 msg/s per device is 120 messages, 20 in flight and 10 buffered: the
    // rest were dropped, oldest first, and every drop is in the report.
    assert!(r.dropped.buffer_full > 0, "{:?}", r.dropped);
    assert_eq!(
        r.messages.sent + r.messages.dropped_at_source,
        10 * 240,
        "{:?} {:?}",
        r.messages,
        r.dropped
    );
    assert_eq!(r.messages.dropped_at_source, r.dropped.total());
}

#[test]
fn a_broker_absent_at_start_is_waited_for_until_the_deadline() {
    if !Mosquitto::wanted() {
        return;
    }
    // The independent subscriber's session and subscription are saved to disk before
    // the broker goes down, so the restarted broker queues every message for it from
    // its first moment, whoever reconnects first.
    let mut m = Mosquitto::start(SAVES_EVERY_SECOND).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topic = "rel-absent";
    let (r, seen) = rt.block_on(async {
        let seen = independent(m.addr, &format!("{topic}/#"), QoS::AtLeastOnce, true);
        until(&seen, "the independent subscriber", |s| s.subscribed).await;
        // Past an autosave (every second) with the subscription in it.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        m.kill9().unwrap();
        // Asked to wait for a broker still starting (by default a refused port fails
        // the run at once, naming the cause).
        let spec = LoadSpec {
            wait_for_broker: Duration::from_secs(10),
            ..load(1, m.url(), topic)
        };
        let run = tokio::spawn(async move {
            publish_counted(&spec, Arc::new(AtomicBool::new(false)), None).await
        });
        // Down when the tool starts; up 1.5 s later.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        m.restart().unwrap();
        seen.lock().unwrap().since_us = Some(unix_us());
        let r = finish(run, &seen).await;
        (r, seen)
    });
    let seen = seen.lock().unwrap();
    write_row(
        "absent-qos1",
        "broker absent at start, up after 1.5 s",
        &r,
        &seen,
    );
    assert_counts_agree(&r, &seen);
    assert_eq!(r.messages.sent, 10 * 240, "{:?}", r.messages);
    assert!(seen.recovered_us.is_some(), "publishing started");

    // No broker at all: a clear error once the deadline passes, not a hang.
    m.kill9().unwrap();
    let t0 = std::time::Instant::now();
    let spec = LoadSpec {
        connect_timeout: Duration::from_secs(2),
        wait_for_broker: Duration::from_secs(2),
        ..load(1, m.url(), topic)
    };
    let r = rt.block_on(publish_counted(
        &spec,
        Arc::new(AtomicBool::new(false)),
        None,
    ));
    match r {
        Err(sim_core::run::RunError::Unreachable { .. }) => {}
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

/// Connections the broker's log shows from the tool's publishers after its last
/// (re)start, per second of its clock.
fn publisher_connects_per_second(log: &str) -> std::collections::BTreeMap<u64, u64> {
    let after = log.rfind("starting").map_or(log, |i| &log[i..]);
    let mut per_s = std::collections::BTreeMap::new();
    for line in after.lines() {
        if !line.contains("New client connected")
            || !line.contains(" as twin-load-")
            || line.contains(" as twin-load-sub-")
        {
            continue;
        }
        if let Some(t) = line
            .split(':')
            .next()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            *per_s.entry(t).or_default() += 1;
        }
    }
    per_s
}

#[test]
fn a_reconnect_storm_keeps_to_the_ramp_in_the_broker_log() {
    if !Mosquitto::wanted() {
        return;
    }
    const SESSIONS: usize = 600;
    const RAMP: f64 = 200.0;
    let mut m = Mosquitto::start("").unwrap();
    let topic = "rel-storm";
    let (r, seen) = with_fault(
        &mut m,
        |url| LoadSpec {
            clients: SESSIONS,
            interval: Duration::from_secs(1),
            duration: Duration::from_secs(14),
            ramp_per_s: Some(RAMP),
            ..load(1, url, topic)
        },
        topic,
        async |m, p, s| {
            // Every session up and publishing before the broker dies.
            until(s, "every publisher seen", |s| {
                s.copies
                    .keys()
                    .map(|k| k.0)
                    .collect::<std::collections::HashSet<_>>()
                    .len()
                    == SESSIONS
            })
            .await;
            kill_and_restart(m, p, s).await;
        },
    );
    let seen = seen.lock().unwrap();
    write_row(
        "storm-qos1",
        "kill -9 under 600 sessions, --ramp 200, restart after 2 s",
        &r,
        &seen,
    );
    assert_counts_agree(&r, &seen);
    assert_eq!(
        r.messages.sent,
        (SESSIONS * 14) as u64,
        "{:?} {:?}",
        r.messages,
        r.dropped
    );
    assert!(r.connect.reconnects >= SESSIONS as u64, "{:?}", r.connect);
    // From the broker's own log: every publisher came back, and no second of its clock
    // saw more of them connect than the ramp allows.
    let per_s = publisher_connects_per_second(&m.log());
    let total: u64 = per_s.values().sum();
    assert!(
        total >= SESSIONS as u64,
        "{total} reconnections in the log: {per_s:?}"
    );
    let busiest = per_s.values().copied().max().unwrap_or(0);
    assert!(busiest as f64 <= RAMP, "{busiest} in one second: {per_s:?}");
    eprintln!("storm: reconnections per second {per_s:?}");
}

#[test]
fn kill_9_with_persistence_and_persistent_sessions_counts_what_reached_the_tool() {
    if !Mosquitto::wanted() {
        return;
    }
    // The broker saves its sessions and queues every second; the tool asks it to keep
    // them. After kill -9 the broker comes back with what it saved: the subscriber's
    // session and the messages queued for it then. What it had taken in since is lost,
    // and messages delivered since the save may come again. Two subscribers would each
    // get their own replay, so the count is taken on the tool's own connection: a tap in
    // the proxy parses every PUBLISH the broker hands the tool.
    let mut m = Mosquitto::start(SAVES_EVERY_SECOND).unwrap();
    let topic = "rel-persist";
    let rt = runtime();
    let tap = Arc::new(Mutex::new(Seen::default()));
    let r = rt.block_on(async {
        let proxy = Proxy::start_tapped(m.addr, Some(tap.clone())).await;
        let spec = LoadSpec {
            persistent: true,
            ..load(1, proxy.url(), topic)
        };
        let run = tokio::spawn(async move {
            publish_counted(&spec, Arc::new(AtomicBool::new(false)), None).await
        });
        until(&tap, "the load running", |s| s.distinct() >= 400).await;
        // Past an autosave with the load under way, then no goodbye.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        m.kill9().unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        m.restart().unwrap();
        tap.lock().unwrap().since_us = Some(unix_us());
        finish(run, &tap).await
    });
    let seen = tap.lock().unwrap();
    write_row(
        "persist-kill9-qos1",
        "kill -9 with persistence (autosave 1 s) and `--persistent`, restart after 2 s",
        &r,
        &seen,
    );
    assert_counts_agree(&r, &seen);
    assert_eq!(
        r.messages.sent,
        10 * 240,
        "{:?} {:?}",
        r.messages,
        r.dropped
    );
    assert!(r.connect.reconnects >= 10, "{:?}", r.connect);
    assert!(seen.recovered_us.is_some(), "publishing resumed");
}
