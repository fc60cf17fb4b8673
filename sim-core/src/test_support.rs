//! Helpers for tests that need a real broker: a Mosquitto process on a free port.
//! (The embedded broker is [`crate::transport::broker::EmbeddedBroker`].)

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the broker.
pub const MOSQUITTO_BIN: &str = "/usr/sbin/mosquitto";

/// A `mosquitto` process this test started; killed on drop.
#[derive(Debug)]
pub struct Mosquitto {
    /// Its listener.
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl Mosquitto {
    /// Whether Mosquitto tests must run: `TWIN_TEST_MOSQUITTO=1` (CI) makes them
    /// mandatory; otherwise they run when the binary is there and skip when it is not.
    pub fn wanted() -> bool {
        let required = std::env::var("TWIN_TEST_MOSQUITTO").is_ok_and(|v| v == "1");
        let present = std::path::Path::new(MOSQUITTO_BIN).exists();
        if required && !present {
            panic!(
                "TWIN_TEST_MOSQUITTO=1 but {MOSQUITTO_BIN} is missing: apt-get install -y mosquitto"
            );
        }
        if !present {
            eprintln!(
                "skipping: {MOSQUITTO_BIN} not installed (set TWIN_TEST_MOSQUITTO=1 to require it)"
            );
        }
        present
    }

    /// Start Mosquitto on 127.0.0.1 and a free port, with extra config lines, and wait until
    /// it accepts connections (at most 10 s).
    pub fn start(extra_config: &str) -> std::io::Result<Mosquitto> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let dir =
            std::env::temp_dir().join(format!("twin-mosquitto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let conf = dir.join("mosquitto.conf");
        let mut f = std::fs::File::create(&conf)?;
        writeln!(f, "listener {port} 127.0.0.1")?;
        writeln!(f, "allow_anonymous true")?;
        writeln!(f, "persistence false")?;
        // A fleet test sends bursts to one ingest subscriber; keep the broker from
        // discarding queued QoS>0 messages so loss counts reflect the path under test.
        writeln!(f, "max_queued_messages 1000000")?;
        writeln!(f, "{extra_config}")?;
        drop(f);
        let log = std::fs::File::create(dir.join("mosquitto.log"))?;
        let child = Command::new(MOSQUITTO_BIN)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let mut m = Mosquitto { addr, child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = m.child.try_wait()? {
                let log = std::fs::read_to_string(m.dir.join("mosquitto.log")).unwrap_or_default();
                return Err(std::io::Error::other(format!(
                    "mosquitto exited ({status}): {log}"
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "mosquitto did not listen within 10 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(m)
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
