//! `twin load ...` and `twin report merge`: argument parsing, the interval lines, the CSV
//! and HDR interval logs, and the summaries.

use crate::cli::{
    EXIT_CONDITION, EXIT_FAILED, EXIT_INTERRUPTED, io_runtime, parse_dur, stop_on_ctrl_c,
    write_json,
};
use anyhow::Context;
use clap::Subcommand;
use scenarios::Dur;
use sim_core::load::{BufferPolicy, ConnCounters, ConnReport, Interval, LoadReport, Shard};
use sim_core::report::Latency;
use sim_core::run::RunError;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `twin load SCENARIO` or `twin load pub|sub|conn ...`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LoadArgs {
    /// Synthetic load.
    #[command(subcommand)]
    pub command: Option<LoadCommand>,
    /// Without a subcommand: run a scenario's fleet of twins in real time (speed 1
    /// unless --speed says otherwise) as the load, realistic telemetry instead of
    /// synthetic payloads, with a load line each second and the run report.
    #[command(flatten)]
    pub scenario: crate::cli::RunArgs,
}

/// `twin load ...`.
#[derive(Debug, Subcommand)]
pub enum LoadCommand {
    /// N publishers on an open-loop schedule, counted by an in-process subscriber:
    /// sent, received, lost, duplicates, reordering, latency from the actual and from
    /// the intended send time, PUBACK/PUBCOMP latency; a line each second.
    ///
    /// Exit codes: 0 done, 1 failed (broker unreachable, sessions that never
    /// connected), 2 bad flags, 3 --fail-on-loss and a message was lost, 130
    /// interrupted (the report is still written).
    Pub(LoadPubArgs),
    /// Open N sessions at a ramp rate and hold them, pinging at the keep-alive; report
    /// CONNECT→CONNACK latency percentiles, failures and refusals, and the memory each
    /// held session cost this process; a line each second.
    ///
    /// Exit codes: 0 done, 1 failed (a session did not connect, or dropped during the
    /// hold), 2 bad flags, 130 interrupted (the report is still written).
    Conn(LoadConnArgs),
    /// N subscribers on a topic filter: receive rate, and for `twin load pub` payloads
    /// (from another process or machine) duplicates, reordering, gaps in each
    /// publisher's sequence and latency from the send time.
    Sub(LoadSubArgs),
}

/// The broker a load command talks to, and how.
#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// Broker URL (mqtt://host:port or mqtts://host:port); default: the embedded broker.
    #[arg(long, env = "TWIN_BROKER")]
    pub broker: Option<String>,
    /// MQTT protocol version: 3.1.1 or 5.
    #[arg(long, value_parser = sim_core::load::Protocol::parse, default_value = "3.1.1")]
    pub mqtt_version: sim_core::load::Protocol,
    /// TLS and credentials.
    #[command(flatten)]
    pub security: SecurityArgs,
}

impl BrokerArgs {
    /// The URL checked, when one is given.
    fn checked_url(&self) -> anyhow::Result<Option<String>> {
        if let Some(b) = &self.broker {
            scenarios::BrokerUrl::parse(b).map_err(|e| RunError::BadInput(e.to_string()))?;
        }
        Ok(self.broker.clone())
    }
}

/// The interval series as files.
#[derive(Debug, clap::Args)]
pub struct SeriesArgs {
    /// Write the interval series (one row a second) as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write each second's latency histogram as an HdrHistogram interval log (values in
    /// µs, max column in ms), readable by HistogramLogProcessor and friends.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
}

/// How to reach a broker that wants TLS or credentials.
#[derive(Debug, clap::Args)]
pub struct SecurityArgs {
    /// MQTT user name.
    #[arg(long, env = "TWIN_USERNAME")]
    pub username: Option<String>,
    /// MQTT password (prefer TWIN_PASSWORD or --password-file: flags show in `ps`).
    #[arg(
        long,
        env = "TWIN_PASSWORD",
        hide_env_values = true,
        conflicts_with = "password_file"
    )]
    pub password: Option<String>,
    /// Read the MQTT password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// With mqtts://: trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<PathBuf>,
    /// With mqtts://: client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// With mqtts://: the client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// With mqtts://: accept any server certificate. For test brokers only.
    #[arg(long)]
    pub insecure: bool,
}

impl SecurityArgs {
    /// The settings, the password file read; warns about --insecure.
    pub fn security(&self) -> anyhow::Result<sim_core::transport::endpoint::Security> {
        let password = match &self.password_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| bad(format!("--password-file {}: {e}", p.display())))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            ),
            None => self.password.clone(),
        };
        if self.insecure {
            eprintln!(
                "warning: --insecure: the broker's certificate is not checked; anyone on the path can read and alter this traffic"
            );
        }
        Ok(sim_core::transport::endpoint::Security {
            username: self.username.clone(),
            password,
            cafile: self.cafile.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
        })
    }
}

/// `twin load sub`.
#[derive(Debug, clap::Args)]
pub struct LoadSubArgs {
    /// Which broker, how.
    #[command(flatten)]
    pub target: BrokerArgs,
    /// Subscribing sessions (over all shards); each receives every matching message.
    #[arg(short = 'c', long, default_value_t = 1)]
    pub clients: usize,
    /// Topic filter; wildcards + and # allowed.
    #[arg(short = 't', long, default_value = "twin-load/#")]
    pub topic: String,
    /// QoS 0, 1 or 2.
    #[arg(short = 'q', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// How long to listen once subscribed.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub duration: Dur,
    /// Stop each subscriber after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Run the i-th of N disjoint slices of the subscribers, e.g. 0/4.
    #[arg(long, value_parser = Shard::parse, env = "TWIN_SHARD")]
    pub shard: Option<Shard>,
    /// Give up on a subscriber with no SUBACK after this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// Write the JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Interval series files.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// No interval lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `twin report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of the shards of one `twin load pub --shard i/N` or `twin
    /// load conn --shard i/N` run into the report one unsharded run would have written:
    /// counts add, latency histograms add (the percentiles are exact, not averaged).
    Merge(MergeArgs),
}

/// `twin report merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard reports (JSON files written with --json).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Write the merged JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `twin load conn`.
#[derive(Debug, clap::Args)]
pub struct LoadConnArgs {
    /// Which broker, how.
    #[command(flatten)]
    pub target: BrokerArgs,
    /// Sessions to open.
    #[arg(short = 'c', long, default_value_t = 100)]
    pub clients: usize,
    /// New connections per second.
    #[arg(long, default_value_t = 500.0)]
    pub ramp: f64,
    /// Hold the sessions this long once all are up.
    #[arg(long, value_parser = parse_dur, default_value = "5s")]
    pub hold: Dur,
    /// Give up on one connection attempt after this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// Local addresses to connect from, round-robin, e.g. 127.0.0.2,127.0.0.3: each
    /// gives another range of ephemeral ports towards the broker (about 28k on Linux).
    #[arg(long, value_name = "IP,...", value_delimiter = ',')]
    pub source_ip: Vec<IpAddr>,
    /// Open the i-th of N disjoint slices of the clients, e.g. 0/4 (`twin report merge`
    /// adds the shard reports).
    #[arg(long, value_parser = Shard::parse, env = "TWIN_SHARD")]
    pub shard: Option<Shard>,
    /// MQTT keep-alive; each session pings every half of it.
    #[arg(long, value_parser = parse_dur, default_value = "60s")]
    pub keep_alive: Dur,
    /// Write the JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `twin load pub`.
#[derive(Debug, clap::Args)]
pub struct LoadPubArgs {
    /// Which broker, how.
    #[command(flatten)]
    pub target: BrokerArgs,
    /// MQTT sessions (over all shards).
    #[arg(short = 'c', long, default_value_t = 10)]
    pub clients: usize,
    /// Gateway mode: devices each session publishes for, each with its own topic and
    /// sequence numbers.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub devices_per_session: usize,
    /// Time between two messages of one device, e.g. "100ms".
    #[arg(short = 'I', long, value_parser = parse_dur, default_value = "100ms", conflicts_with = "rate")]
    pub interval: Dur,
    /// Total messages per second across all devices of all shards (sets the interval).
    #[arg(long)]
    pub rate: Option<f64>,
    /// QoS 0, 1 or 2.
    #[arg(short = 'q', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Publish with the retain flag.
    #[arg(long)]
    pub retain: bool,
    /// Publish this JSON object (or @FILE's) instead of padded binary payloads: %i, %c
    /// and %s are filled in per device, and the accounting travels as its first member
    /// "twl", so the payload stays JSON for rule engines and consumers.
    #[arg(long, value_name = "JSON|@FILE")]
    pub payload: Option<String>,
    /// Payload size in bytes (at least 32, the header).
    #[arg(short = 's', long, default_value_t = 64)]
    pub size: usize,
    /// Topic: %i device index, %c client id, %s shard index. Keep %s in it when
    /// sharding, so each shard's subscriber gets only its own shard's messages.
    #[arg(short = 't', long, default_value = "twin-load/%s/%i")]
    pub topic: String,
    /// How long each session publishes once connected.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub duration: Dur,
    /// Messages per device (the smaller of this and --duration wins).
    #[arg(long)]
    pub count: Option<u64>,
    /// Local addresses to publish from, round-robin over the sessions, e.g.
    /// 127.0.0.2,127.0.0.3 (each gives another range of ephemeral ports).
    #[arg(long, value_delimiter = ',', value_name = "IP,...")]
    pub source_ip: Vec<std::net::IpAddr>,
    /// Most QoS 1/2 messages a session has awaiting acknowledgement; a full window
    /// holds its publishes back (the schedule lag shows it). Keep it within the
    /// broker's receive quota (Mosquitto: max_inflight_messages, 20 by default): past
    /// it a broker may acknowledge a message and drop it.
    #[arg(long, default_value_t = 20)]
    pub inflight: usize,
    /// Sessions of the in-process subscriber; more than one share the subscription
    /// ($share), so the broker's delivery is not held to one session's in-flight window.
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// New sessions per second (default: as fast as the broker takes them). Also caps
    /// reconnection attempts per second over the run after a broker failure
    /// (default 1000/s), so sessions come back as a ramp, not a stampede.
    #[arg(long)]
    pub ramp: Option<f64>,
    /// Messages each device keeps while it cannot write them (no connection, a full
    /// in-flight window, the counting subscriber away). QoS 0 is never kept.
    #[arg(long, default_value_t = 1000)]
    pub buffer: usize,
    /// Bytes each device keeps while it cannot write them.
    #[arg(long, default_value_t = 1 << 20)]
    pub buffer_bytes: usize,
    /// When a device's buffer is full: block-device (its schedule waits; nothing is
    /// dropped, later messages leave late), drop-oldest or drop-newest (counted in the
    /// report's "dropped").
    #[arg(long, value_parser = BufferPolicy::parse, default_value = "block-device")]
    pub buffer_policy: BufferPolicy,
    /// Ask the broker to keep the sessions (clean session off; MQTT 5: expiry 300 s),
    /// so subscriptions and queued QoS 1/2 messages survive a lost connection.
    #[arg(long)]
    pub persistent: bool,
    /// Run the i-th of N disjoint slices of the clients, e.g. 0/4 (ids, devices and
    /// topics stay disjoint; `twin report merge` adds the shard reports).
    #[arg(long, value_parser = Shard::parse, env = "TWIN_SHARD")]
    pub shard: Option<Shard>,
    /// Give up on a session with no CONNACK after this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// Wait this long for messages and acknowledgements in flight after the last publish.
    #[arg(long, value_parser = parse_dur, default_value = "5s")]
    pub drain: Dur,
    /// Write the JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Interval series files.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// No interval lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Exit with code 3 if any message was lost.
    #[arg(long)]
    pub fail_on_loss: bool,
}

/// Run `twin load`.
pub fn main(args: LoadArgs) -> anyhow::Result<u8> {
    let Some(cmd) = args.command else {
        let mut run = args.scenario;
        if run.attach || run.tui {
            return Err(bad(
                "twin load SCENARIO takes neither --attach nor --tui (use twin tui SCENARIO)",
            ));
        }
        run.load_lines = true;
        run.speed.get_or_insert(scenarios::Speed::Factor(1.0));
        return crate::cli::run(run);
    };
    match cmd {
        LoadCommand::Pub(args) => load_pub(args),
        LoadCommand::Conn(args) => load_conn(args),
        LoadCommand::Sub(args) => load_sub(args),
    }
}

fn bad(msg: impl Into<String>) -> anyhow::Error {
    RunError::BadInput(msg.into()).into()
}

fn secs(d: Dur) -> Duration {
    Duration::from_secs_f64(d.secs())
}

fn percentiles(x: &Option<Latency>) -> String {
    x.map_or("no samples".to_string(), |l| {
        format!(
            "p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
            l.p50, l.p90, l.p99, l.p999, l.max
        )
    })
}

fn load_pub(args: LoadPubArgs) -> anyhow::Result<u8> {
    if args.clients == 0 || args.devices_per_session == 0 {
        return Err(bad(
            "--clients and --devices-per-session must be at least 1",
        ));
    }
    let broker = args.target.checked_url()?;
    if let Some(r) = args.ramp
        && !(r > 0.0 && r.is_finite())
    {
        return Err(bad(format!("--ramp {r}: expected sessions per second > 0")));
    }
    let devices = args.clients * args.devices_per_session;
    let interval = match args.rate {
        Some(r) if r > 0.0 && r.is_finite() => Duration::from_secs_f64(devices as f64 / r),
        Some(r) => return Err(bad(format!("--rate {r}: expected messages per second > 0"))),
        None => secs(args.interval),
    };
    let spec = sim_core::load::LoadSpec {
        clients: args.clients,
        devices_per_session: args.devices_per_session,
        interval,
        qos: args.qos,
        retain: args.retain,
        size: args.size,
        topic: args.topic.clone(),
        duration: secs(args.duration),
        count: args.count,
        drain: secs(args.drain),
        broker,
        ramp_per_s: args.ramp,
        connect_timeout: secs(args.connect_timeout),
        shard: args.shard.unwrap_or_default(),
        security: args.target.security.security()?,
        protocol: args.target.mqtt_version,
        source_ips: args.source_ip.clone(),
        inflight: args.inflight,
        buffer: args.buffer.max(1),
        buffer_bytes: args.buffer_bytes.max(1),
        buffer_policy: args.buffer_policy,
        persistent: args.persistent,
        subscribers: args.subscribers,
        payload: match &args.payload {
            Some(p) => Some(payload_template(p)?),
            None => None,
        },
    };
    let (csv, hdr) = (create(&args.series.csv)?, create(&args.series.hdr_log)?);
    let runtime = io_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let report = runtime.block_on(async {
        stop_on_ctrl_c(stop.clone());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Interval>();
        let quiet = args.quiet || args.json.as_deref() == Some(Path::new("-"));
        let consumer = tokio::task::spawn_blocking(move || write_intervals(rx, quiet, csv, hdr));
        let r = sim_core::load::publish_counted(&spec, stop.clone(), Some(tx)).await;
        let sinks = consumer.await.context("interval writer")?;
        sinks?;
        r.map_err(anyhow::Error::from)
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if args.json.as_deref() != Some(Path::new("-")) {
        let _ = write!(std::io::stdout(), "{}", pub_summary(&report));
    }
    if stop.load(Ordering::Relaxed) {
        return Ok(EXIT_INTERRUPTED);
    }
    if report.connect.failed > 0 {
        eprintln!(
            "{} sessions never connected: their devices published nothing",
            report.connect.failed
        );
        return Ok(EXIT_FAILED);
    }
    if args.fail_on_loss && report.messages.lost > 0 {
        return Ok(EXIT_CONDITION);
    }
    Ok(0)
}

/// `twin load SCENARIO`: a load line each second from the run's progress.
pub async fn scenario_lines(mut rx: tokio::sync::watch::Receiver<sim_core::run::Progress>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.tick().await;
    let (mut last, mut t) = (*rx.borrow_and_update(), 0u64);
    let mut cpu_last = sim_core::load::process_cpu_seconds();
    loop {
        every.tick().await;
        t += 1;
        let p = *rx.borrow_and_update();
        let cpu = sim_core::load::process_cpu_seconds();
        let cpu_text = match (cpu, cpu_last) {
            (Some(c), Some(l)) => format!("{:.0}%", 100.0 * (c - l)),
            _ => "-".into(),
        };
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        let _ = writeln!(
            std::io::stderr(),
            "{t:>5}s  sent {:>7}/s  recv {:>7}/s  p50 {:>6} ms  p99 {:>6} ms  conn {}/{}  in flight {}  dropped at source {}  sim {:.0}/{:.0} s  cpu {cpu_text}",
            p.sent.saturating_sub(last.sent),
            p.received.saturating_sub(last.received),
            ms(p.recent_p50_ms),
            ms(p.recent_p99_ms),
            p.connected,
            p.devices,
            p.sent.saturating_sub(p.received),
            p.dropped_at_source,
            p.sim_now,
            p.sim_duration,
        );
        (last, cpu_last) = (p, cpu);
    }
}

/// `--payload`: the text, or the file's after `@`; it must be a JSON object.
fn payload_template(arg: &str) -> anyhow::Result<String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| bad(format!("--payload @{path}: {e}")))?
        }
        None => arg.to_string(),
    };
    // Placeholders may stand where JSON wants values; check with them filled in.
    let probe = text
        .replace("%i", "0")
        .replace("%c", "c")
        .replace("%s", "0");
    match serde_json::from_str::<serde_json::Value>(&probe) {
        Ok(serde_json::Value::Object(_)) => Ok(text.trim().to_string()),
        Ok(_) => Err(bad(
            "--payload: expected a JSON object, like {\"temperature\": 21.5}",
        )),
        Err(e) => Err(bad(format!("--payload is not JSON: {e}"))),
    }
}

/// One interval as a line, emqtt-bench style.
pub fn interval_line(iv: &Interval) -> String {
    let q = |p: f64| {
        if iv.latency.is_empty() {
            "-".to_string()
        } else {
            format!("{:.2}", iv.latency.value_at_quantile(p) as f64 / 1000.0)
        }
    };
    let per_s = |n: u64| (n as f64 / iv.secs.max(1e-3)).round() as u64;
    format!(
        "{:>5.0}s  sent {:>7}/s  recv {:>7}/s  acked {:>7}/s  p50 {:>6} ms  p99 {:>6} ms  err {}  conn {}  in flight {}  cpu {}  lag {:.1} ms",
        iv.t,
        per_s(iv.sent),
        per_s(iv.received),
        per_s(iv.acked),
        q(0.5),
        q(0.99),
        iv.errors,
        iv.connections,
        iv.in_flight,
        iv.cpu_percent
            .map_or("-".to_string(), |c| format!("{c:.0}%")),
        iv.lag_ms
    )
}

fn pub_summary(r: &LoadReport) -> String {
    let m = &r.messages;
    let shard = r
        .shard
        .as_deref()
        .map_or(String::new(), |s| format!(" (shard {s})"));
    let merged = if r.merged > 1 {
        format!(" (merged from {} reports)", r.merged)
    } else {
        String::new()
    };
    let mut out = format!(
        "load pub{shard}{merged}: {} sessions, {} devices ({} seen), qos {}, {} B, {:.1} s on {}\n\
         messages  {} sent, {} received, {} lost, {} duplicates, {} out of order ({:.0} recv/s)\n\
         acked     {}; dropped at source {} (buffer full {}, offline {}, unsent {}); {} retransmitted\n\
         latency   {}\n\
         intended  {}\n\
         ack       {}\n\
         connect   {} connected, {} failed, {} errors, {} reconnects (subscriber {}); {}\n\
         schedule  lag {}\n\
         cpu       {:.2} s ({:.2} s per 100k messages)\n",
        r.clients,
        r.devices,
        r.devices_seen,
        r.qos,
        r.size,
        r.wall_seconds,
        r.broker.url,
        m.sent,
        m.received,
        m.lost,
        m.duplicates,
        m.out_of_order,
        r.received_per_s,
        r.acked,
        m.dropped_at_source,
        r.dropped.buffer_full,
        r.dropped.offline,
        r.dropped.unsent,
        r.retransmitted,
        percentiles(&r.latency_ms),
        percentiles(&r.latency_intended_ms),
        percentiles(&r.ack_ms),
        r.connect.connected,
        r.connect.failed,
        r.connect.errors,
        r.connect.reconnects,
        r.connect.subscriber_reconnects,
        percentiles(&r.connect_ms),
        percentiles(&r.schedule_lag_ms),
        r.cpu_seconds,
        r.cpu_seconds * 100_000.0 / (m.sent.max(1) as f64),
    );
    if r.generator_behind {
        out.push_str(
            "warning   the generator fell behind its schedule while busy: twin, not only the \
             broker, limited this run (spread it with --shard)\n",
        );
    } else if r.schedule_lag_ms.is_some_and(|l| l.p99 > 50.0) {
        out.push_str(
            "warning   publishes left late (lag p99 above 50 ms) while twin had CPU to spare: \
             the broker's back-pressure (acknowledgements, full in-flight windows) held the \
             rate down; the intended-time latency counts that wait\n",
        );
    }
    out
}

/// Create the interval files before the run, so a bad path fails before any load.
fn create(p: &Option<PathBuf>) -> anyhow::Result<Option<std::fs::File>> {
    p.as_ref()
        .map(|p| std::fs::File::create(p).with_context(|| format!("creating {}", p.display())))
        .transpose()
}

/// Print each interval on stderr (unless `quiet`) and append it to the CSV file and to
/// the HdrHistogram interval log (written by the hdrhistogram crate; values in µs, the
/// max column in ms, timestamps relative to the log's BaseTime).
fn write_intervals(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Interval>,
    quiet: bool,
    csv: Option<std::fs::File>,
    hdr: Option<std::fs::File>,
) -> anyhow::Result<()> {
    use hdrhistogram::serialization::{V2DeflateSerializer, interval_log};
    let mut csv = csv.map(std::io::BufWriter::new);
    if let Some(w) = &mut csv {
        writeln!(
            w,
            "t_s,interval_s,sent,received,acked,errors,connections,in_flight,p50_ms,p90_ms,p99_ms,max_ms,cpu_percent,lag_ms"
        )?;
    }
    let base_unix = sim_core::wire::unix_us() as f64 / 1e6;
    let base = std::time::UNIX_EPOCH + Duration::from_secs_f64(base_unix);
    let mut hdr = hdr.map(std::io::BufWriter::new);
    let mut ser = V2DeflateSerializer::new();
    let mut log = match &mut hdr {
        Some(f) => Some(
            interval_log::IntervalLogWriterBuilder::new()
                .add_comment("twin load pub: receive latency per interval, values in microseconds")
                .with_start_time(base)
                .with_base_time(base)
                .with_max_value_divisor(1000.0)
                .begin_log_with(f, &mut ser)?,
        ),
        None => None,
    };
    while let Some(iv) = rx.blocking_recv() {
        if !quiet {
            let _ = writeln!(std::io::stderr(), "{}", interval_line(&iv));
        }
        if let Some(w) = &mut csv {
            let q = |p: f64| {
                if iv.latency.is_empty() {
                    String::new()
                } else {
                    format!("{:.3}", iv.latency.value_at_quantile(p) as f64 / 1000.0)
                }
            };
            writeln!(
                w,
                "{:.3},{:.3},{},{},{},{},{},{},{},{},{},{},{},{:.3}",
                iv.t,
                iv.secs,
                iv.sent,
                iv.received,
                iv.acked,
                iv.errors,
                iv.connections,
                iv.in_flight,
                q(0.5),
                q(0.9),
                q(0.99),
                q(1.0),
                iv.cpu_percent.map_or(String::new(), |c| format!("{c:.1}")),
                iv.lag_ms
            )?;
        }
        if let Some(log) = &mut log {
            log.write_histogram(
                &iv.latency,
                Duration::from_secs_f64((iv.start_unix - base_unix).max(0.0)),
                Duration::from_secs_f64(iv.secs),
                None,
            )
            .map_err(|e| anyhow::anyhow!("writing the HDR log: {e}"))?;
        }
    }
    drop(log);
    if let Some(w) = &mut csv {
        w.flush().context("writing the CSV file")?;
    }
    if let Some(f) = &mut hdr {
        f.flush().context("writing the HDR log")?;
    }
    Ok(())
}

fn load_conn(args: LoadConnArgs) -> anyhow::Result<u8> {
    if args.clients == 0 || !(args.ramp > 0.0 && args.ramp.is_finite()) {
        return Err(bad("--clients and --ramp must be positive"));
    }
    let broker = args.target.checked_url()?;
    let keep_alive = secs(args.keep_alive);
    if keep_alive.as_secs() > u64::from(u16::MAX) {
        return Err(bad(format!(
            "--keep-alive {}: MQTT allows at most 65535 s",
            args.keep_alive
        )));
    }
    let spec = sim_core::load::ConnSpec {
        clients: args.clients,
        ramp_per_s: args.ramp,
        hold: secs(args.hold),
        connect_timeout: secs(args.connect_timeout),
        broker,
        source_ips: args.source_ip.clone(),
        shard: args.shard.unwrap_or_default(),
        keep_alive,
        security: args.target.security.security()?,
        protocol: args.target.mqtt_version,
    };
    let to_stdout = args.json.as_deref() == Some(Path::new("-"));
    let runtime = io_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let report = runtime.block_on(async {
        stop_on_ctrl_c(stop.clone());
        let counters = Arc::new(ConnCounters::default());
        let lines = (!args.quiet && !to_stdout).then(|| tokio::spawn(conn_lines(counters.clone())));
        let r = sim_core::load::connect_counted(&spec, stop.clone(), counters).await;
        if let Some(l) = lines {
            l.abort();
        }
        r
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if !to_stdout {
        let _ = write!(std::io::stdout(), "{}", conn_summary(&report));
    }
    if stop.load(Ordering::Relaxed) {
        return Ok(EXIT_INTERRUPTED);
    }
    if report.failed > 0 {
        eprintln!("{} sessions did not connect", report.failed);
        return Ok(EXIT_FAILED);
    }
    if report.held < report.connected {
        eprintln!(
            "{} sessions dropped during the hold",
            report.connected - report.held
        );
        return Ok(EXIT_FAILED);
    }
    Ok(0)
}

/// A line on stderr each second: sessions connected, failed and held so far.
async fn conn_lines(c: Arc<ConnCounters>) {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        tick.tick().await;
        let _ = writeln!(
            std::io::stderr(),
            "{:>5.0}s  connected {:>7}  failed {:>6} ({} refused)  held {:>7}",
            start.elapsed().as_secs_f64(),
            c.connected.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed),
            c.refused.load(Ordering::Relaxed),
            c.up.load(Ordering::Relaxed),
        );
    }
}

fn conn_summary(r: &ConnReport) -> String {
    let shard = r
        .shard
        .as_deref()
        .map_or(String::new(), |s| format!(" (shard {s})"));
    let merged = if r.merged > 1 {
        format!(" (merged from {} reports)", r.merged)
    } else {
        String::new()
    };
    let codes: Vec<String> = r
        .refused_codes
        .iter()
        .map(|(code, n)| format!("{n} with code {code}"))
        .collect();
    let refused = if codes.is_empty() {
        format!("{} refused", r.refused)
    } else {
        format!("{} refused: {}", r.refused, codes.join(", "))
    };
    let rss = match (r.rss_kib, r.rss_per_session_kib) {
        (Some(total), Some(per)) => {
            format!("{total} KiB at the hold, rss per session {per:.2} KiB")
        }
        (Some(total), None) => format!("{total} KiB at the hold, rss per session -"),
        _ => "rss per session - (no /proc/self/status)".to_string(),
    };
    format!(
        "load conn{shard}{merged}: {} of {} connected, {} failed ({refused}), {} held, ramp {:.1} s on {}\n\
         connect   {}\n\
         memory    {rss}\n",
        r.connected,
        r.clients,
        r.failed,
        r.held,
        r.ramp_seconds,
        r.broker.url,
        percentiles(&r.connect_ms)
    )
}

fn load_sub(args: LoadSubArgs) -> anyhow::Result<u8> {
    if args.clients == 0 {
        return Err(bad("--clients must be at least 1"));
    }
    let broker = args.target.checked_url()?;
    let spec = sim_core::load::SubSpec {
        clients: args.clients,
        filter: args.topic.clone(),
        qos: args.qos,
        duration: secs(args.duration),
        count: args.count,
        broker,
        connect_timeout: secs(args.connect_timeout),
        shard: args.shard.unwrap_or_default(),
        security: args.target.security.security()?,
        protocol: args.target.mqtt_version,
    };
    let (csv, hdr) = (create(&args.series.csv)?, create(&args.series.hdr_log)?);
    let runtime = io_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let report = runtime.block_on(async {
        stop_on_ctrl_c(stop.clone());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Interval>();
        let quiet = args.quiet || args.json.as_deref() == Some(Path::new("-"));
        let consumer = tokio::task::spawn_blocking(move || write_intervals(rx, quiet, csv, hdr));
        let r = sim_core::load::subscribe(&spec, stop.clone(), Some(tx)).await;
        consumer.await.context("interval writer")??;
        r.map_err(anyhow::Error::from)
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    let m = &report.messages;
    if args.json.as_deref() != Some(Path::new("-")) {
        let _ = writeln!(
            std::io::stdout(),
            "load sub: {} of {} subscribed to {} (qos {}), {:.1} s on {}\n\
             messages  {} received ({:.0}/s), {} distinct from {} publishers, {} duplicates, {} out of order, {} missing in sequence, {} untimed\n\
             latency   {}",
            report.subscribed,
            report.clients,
            report.filter,
            report.qos,
            report.wall_seconds,
            report.broker.url,
            m.received,
            report.received_per_s,
            m.distinct,
            report.publishers,
            m.duplicates,
            m.out_of_order,
            m.gaps,
            m.untimed,
            percentiles(&report.latency_ms)
        );
    }
    if stop.load(Ordering::Relaxed) {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(if report.subscribed < report.clients {
        EXIT_FAILED
    } else {
        0
    })
}

/// Run a `twin report` subcommand.
pub fn report(cmd: ReportCommand) -> anyhow::Result<u8> {
    let ReportCommand::Merge(args) = cmd;
    let mut values = Vec::new();
    for p in &args.reports {
        let text = std::fs::read_to_string(p)
            .map_err(|e| bad(format!("cannot read report {}: {e}", p.display())))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{}: not a JSON report: {e}", p.display())))?;
        let command = v
            .get("command")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_string();
        values.push((p, command, v));
    }
    let Some((first_path, command, _)) = values.first() else {
        return Err(bad("no reports to merge"));
    };
    let command = command.clone();
    if let Some((p, other, _)) = values.iter().find(|(_, c, _)| *c != command) {
        return Err(bad(format!(
            "cannot merge a `{command}` report ({}) with a `{other}` report ({})",
            first_path.display(),
            p.display()
        )));
    }
    fn parse<T: serde::de::DeserializeOwned>(
        values: Vec<(&PathBuf, String, serde_json::Value)>,
        what: &str,
    ) -> anyhow::Result<Vec<T>> {
        values
            .into_iter()
            .map(|(p, _, v)| {
                serde_json::from_value(v).map_err(|e| {
                    bad(format!(
                        "{}: not a `twin {what}` JSON report: {e}",
                        p.display()
                    ))
                })
            })
            .collect()
    }
    let to_stdout = args.json.as_deref() == Some(Path::new("-"));
    let summary = match command.as_str() {
        "load pub" => {
            let merged =
                sim_core::load::merge(&parse::<LoadReport>(values, "load pub")?).map_err(bad)?;
            if let Some(path) = &args.json {
                write_json(path, &merged)?;
            }
            pub_summary(&merged)
        }
        "load conn" => {
            let merged = sim_core::load::merge_conn(&parse::<ConnReport>(values, "load conn")?)
                .map_err(bad)?;
            if let Some(path) = &args.json {
                write_json(path, &merged)?;
            }
            conn_summary(&merged)
        }
        other => {
            return Err(bad(format!(
                "{}: `command` is {other:?}; only `load pub` and `load conn` reports merge",
                first_path.display()
            )));
        }
    };
    if !to_stdout {
        let _ = write!(std::io::stdout(), "{summary}");
    }
    Ok(0)
}
