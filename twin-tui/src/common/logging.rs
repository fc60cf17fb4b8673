//! Logging: `tracing` on stderr, filtered by `RUST_LOG`; while the terminal UI owns the
//! screen, to a file instead (a warning printed onto the UI would tear it), named when
//! the UI closes.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where log lines go while the UI runs, and how many were written there.
struct FileSink {
    file: std::fs::File,
    path: PathBuf,
    lines: u64,
}

static SINK: Mutex<Option<FileSink>> = Mutex::new(None);

/// The writer every log line goes through: the file while the UI runs, else stderr.
struct Writer;

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut sink) = SINK.lock()
            && let Some(s) = sink.as_mut()
        {
            s.lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
            return s.file.write(buf);
        }
        std::io::stderr().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match SINK.lock().ok().as_mut().and_then(|s| s.as_mut()) {
            Some(s) => s.file.flush(),
            None => std::io::stderr().flush(),
        }
    }
}

/// Install the subscriber (warnings, and nothing from the embedded broker, unless
/// `RUST_LOG` says otherwise).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rumqttd=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Writer)
        .with_ansi(false)
        .try_init();
}

/// The file log lines go to while the UI runs: `TWIN_LOG_FILE`, or `twin-tui-PID.log` in
/// the temporary directory.
pub fn ui_log_path() -> PathBuf {
    std::env::var_os("TWIN_LOG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("twin-tui-{}.log", std::process::id()))
        })
}

/// Send log lines to [`ui_log_path`] (appended) until [`to_stderr`]. If the file cannot be
/// opened they stay on stderr, and this says why there (the UI is not up yet).
pub fn to_file() {
    let path = ui_log_path();
    let file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "twin tui: cannot open the log file {} ({e}); log lines go to stderr",
                path.display()
            );
            return;
        }
    };
    if let Ok(mut sink) = SINK.lock() {
        *sink = Some(FileSink {
            file,
            path,
            lines: 0,
        });
    }
}

/// Log lines go to stderr again; says on stderr where the lines written meanwhile are,
/// when there were any.
pub fn to_stderr() {
    let sink = SINK.lock().ok().and_then(|mut s| s.take());
    if let Some(s) = sink.filter(|s| s.lines > 0) {
        let _ = writeln!(
            std::io::stderr(),
            "twin tui: {} log {} written to {} while the UI ran",
            s.lines,
            if s.lines == 1 {
                "line was"
            } else {
                "lines were"
            },
            s.path.display()
        );
    }
}
