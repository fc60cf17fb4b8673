//! The interval series as files: a CSV row and an HdrHistogram interval-log entry a
//! second, beside the interval line on stderr.

use anyhow::Context;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder};
use sim_core::load::Interval;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// The CSV file's first row.
const CSV_HEADER: &str = "t_s,interval_s,sent,received,acked,errors,connections,in_flight,p50_ms,p90_ms,p99_ms,max_ms,cpu_percent,lag_ms";

/// The interval files asked for, created before the run so a bad path fails before any
/// load.
pub struct SeriesFiles {
    /// `--csv`.
    csv: Option<File>,
    /// `--hdr-log`.
    hdr: Option<File>,
}

impl SeriesFiles {
    /// Create the files the paths name.
    pub fn create(csv: &Option<PathBuf>, hdr_log: &Option<PathBuf>) -> anyhow::Result<Self> {
        Ok(SeriesFiles {
            csv: create(csv)?,
            hdr: create(hdr_log)?,
        })
    }
}

fn create(p: &Option<PathBuf>) -> anyhow::Result<Option<File>> {
    p.as_ref()
        .map(|p| File::create(p).with_context(|| format!("creating {}", p.display())))
        .transpose()
}

/// Run a load that reports an [`Interval`] a second, writing each as it comes (as `line`
/// puts it on stderr, none when `None`, and to the files) on a blocking thread; the
/// load's result once the last interval is written.
pub async fn recorded<T, E, F>(
    files: SeriesFiles,
    line: Option<fn(&Interval) -> String>,
    load: impl FnOnce(UnboundedSender<Interval>) -> F,
) -> anyhow::Result<T>
where
    F: Future<Output = Result<T, E>>,
    anyhow::Error: From<E>,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Interval>();
    let writer = tokio::task::spawn_blocking(move || write_intervals(rx, line, files));
    let r = load(tx).await;
    writer.await.context("interval writer")??;
    Ok(r?)
}

/// Print each interval on stderr (unless `quiet`) and append it to the CSV file and to
/// the HdrHistogram interval log (written by the hdrhistogram crate; values in µs, the
/// max column in ms, timestamps relative to the log's BaseTime).
fn write_intervals(
    mut rx: UnboundedReceiver<Interval>,
    line: Option<fn(&Interval) -> String>,
    files: SeriesFiles,
) -> anyhow::Result<()> {
    let mut csv = files.csv.map(BufWriter::new);
    if let Some(w) = &mut csv {
        writeln!(w, "{CSV_HEADER}")?;
    }
    let base_unix = sim_core::wire::unix_us() as f64 / 1e6;
    let mut hdr = files.hdr.map(BufWriter::new);
    let mut ser = V2DeflateSerializer::new();
    // The log borrows its file and serializer; it is dropped before the file is flushed.
    let mut log = match &mut hdr {
        Some(f) => Some(begin_hdr_log(f, &mut ser, base_unix)?),
        None => None,
    };
    while let Some(iv) = rx.blocking_recv() {
        if let Some(line) = line {
            let _ = writeln!(std::io::stderr(), "{}", line(&iv));
        }
        if let Some(w) = &mut csv {
            writeln!(w, "{}", csv_row(&iv))?;
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

/// The HDR log's header; its start and base time are `base_unix` (seconds).
fn begin_hdr_log<'a, 'b>(
    file: &'a mut BufWriter<File>,
    ser: &'b mut V2DeflateSerializer,
    base_unix: f64,
) -> std::io::Result<IntervalLogWriter<'a, 'b, BufWriter<File>, V2DeflateSerializer>> {
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(base_unix);
    IntervalLogWriterBuilder::new()
        .add_comment("twin load pub: receive latency per interval, values in microseconds")
        .with_start_time(base)
        .with_base_time(base)
        .with_max_value_divisor(1000.0)
        .begin_log_with(file, ser)
}

/// One interval as a CSV row (latency in ms; empty cells for no samples).
fn csv_row(iv: &Interval) -> String {
    let q = |p: f64| {
        if iv.latency.is_empty() {
            String::new()
        } else {
            format!("{:.3}", iv.latency.value_at_quantile(p) as f64 / 1000.0)
        }
    };
    format!(
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
    )
}
