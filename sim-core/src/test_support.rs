//! Helpers for tests that need a real broker: a Mosquitto process on a free port, and
//! [`ConnackServer`], a listener that speaks just enough MQTT to accept (or refuse)
//! sessions and record who opened them. (The embedded broker is
//! [`crate::transport::broker::EmbeddedBroker`].)

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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
    /// Whether this Mosquitto test runs. It does unless the run says to skip them with
    /// `TWIN_TEST_MOSQUITTO=0`; then it prints which test it skipped (and counts as
    /// passed). Without that, a missing broker binary fails the test: a skip is never
    /// silent.
    pub fn wanted() -> bool {
        let test = std::thread::current()
            .name()
            .unwrap_or("a Mosquitto test")
            .to_string();
        if std::env::var("TWIN_TEST_MOSQUITTO").is_ok_and(|v| v == "0") {
            eprintln!("skipped {test}: TWIN_TEST_MOSQUITTO=0");
            return false;
        }
        assert!(
            std::path::Path::new(MOSQUITTO_BIN).exists(),
            "{test} needs {MOSQUITTO_BIN}, which is missing: apt-get install -y mosquitto, \
             or set TWIN_TEST_MOSQUITTO=0 to skip the Mosquitto tests"
        );
        true
    }

    /// Start Mosquitto on 127.0.0.1 and a free port, with extra config lines, and wait until
    /// it accepts connections (at most 10 s). `{dir}` in them stands for the broker's own
    /// directory (for `persistence_location {dir}/`).
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
        writeln!(
            f,
            "{}",
            extra_config.replace("{dir}", &dir.display().to_string())
        )?;
        drop(f);
        std::fs::File::create(dir.join("mosquitto.log"))?;
        let child = Self::spawn(&dir)?;
        let mut m = Mosquitto { addr, child, dir };
        m.wait_listening()?;
        Ok(m)
    }

    fn spawn(dir: &std::path::Path) -> std::io::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("mosquitto.log"))?;
        Command::new(MOSQUITTO_BIN)
            .arg("-c")
            .arg(dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
    }

    fn wait_listening(&mut self) -> std::io::Result<()> {
        let (addr, m) = (self.addr, self);
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
        Ok(())
    }

    /// Kill the broker with SIGKILL (no goodbye, no saving) and reap it.
    pub fn kill9(&mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Start the broker again on the same port with the same configuration (its log
    /// goes on in the same file), after [`Mosquitto::kill9`]; waits until it listens.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.child = Self::spawn(&self.dir)?;
        self.wait_listening()
    }

    /// Send the broker a signal by name (`STOP`, `CONT`, `USR1`...), with kill(1).
    pub fn signal(&self, name: &str) -> std::io::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "kill -{name} failed: {status}"
            )));
        }
        Ok(())
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// What the broker logged so far (connections, with their peer address and client id).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One CONNECT a [`ConnackServer`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenConnect {
    /// Where the connection came from.
    pub peer: SocketAddr,
    /// The client id in the CONNECT payload.
    pub client_id: String,
    /// The keep-alive, seconds.
    pub keep_alive: u16,
    /// The connect flags byte (0x02 = clean session only).
    pub flags: u8,
}

/// How a [`ConnackServer`] answers what follows its CONNACK, beyond PINGREQ and
/// DISCONNECT: the default subscribes nobody and closes a connection that publishes.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// SUBSCRIBE gets a SUBACK with this return (reason) code, and the connection then
    /// gets every later PUBLISH, at the QoS granted.
    pub suback: Option<u8>,
    /// PUBLISH is acknowledged as the spec says (PUBACK, or PUBREC and PUBCOMP), or with
    /// a PUBACK at any QoS when `puback_qos2` (a broker hiding a QoS 2 downgrade).
    pub publish: bool,
    /// See `publish`.
    pub puback_qos2: bool,
    /// Written instead of any answer to a PUBLISH, and the connection closed (a
    /// DISCONNECT with a reason code, say).
    pub kick_on_publish: Option<Vec<u8>>,
}

/// What the connection threads of a [`ConnackServer`] record.
#[derive(Debug, Default)]
struct Seen {
    /// Every CONNECT, in arrival order.
    connects: Vec<SeenConnect>,
    /// Every SUBSCRIBE's first filter.
    subscribes: Vec<String>,
    /// PUBLISH packets received.
    publishes: u64,
    /// PINGREQs answered.
    pings: u64,
    /// DISCONNECTs received.
    disconnects: u64,
    /// Connections whose thread has ended (closed by the client, or after a refusal).
    closed: u64,
}

/// A listener on 127.0.0.1 and a free port that speaks just enough MQTT (3.1.1 and 5) to
/// test a connection holder without a broker: each CONNECT gets the CONNACK given at
/// start (a return code of 0 accepts; non-zero refuses and closes), each PINGREQ a
/// PINGRESP; it records who connected, from which address, and what they sent. A thread
/// a connection.
#[derive(Debug)]
pub struct ConnackServer {
    /// Its listener.
    pub addr: SocketAddr,
    /// What the connection threads record, and a signal for waiters.
    seen: Arc<(Mutex<Seen>, Condvar)>,
    /// Tells the accept thread to stop.
    done: Arc<AtomicBool>,
    /// Every accepted connection, to shut them down on drop.
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

/// What every connection of a [`ConnackServer`] shares.
struct Shared {
    connack: Vec<u8>,
    answers: Answers,
    seen: Arc<(Mutex<Seen>, Condvar)>,
    /// Subscribed connections and the QoS each was granted.
    subscribers: Mutex<Vec<(TcpStream, u8)>>,
}

impl ConnackServer {
    /// Listen on 127.0.0.1 and a free port; answer every CONNECT with `return_code`.
    pub fn start(return_code: u8) -> std::io::Result<ConnackServer> {
        ConnackServer::start_with(vec![0x20, 0x02, 0x00, return_code])
    }

    /// Listen on 127.0.0.1 and a free port; answer every CONNECT with `connack`, a whole
    /// packet as written (its fourth byte is the return or reason code).
    pub fn start_with(connack: Vec<u8>) -> std::io::Result<ConnackServer> {
        ConnackServer::start_answering(connack, Answers::default())
    }

    /// As [`ConnackServer::start_with`], answering subscriptions and publishes as
    /// `answers` says: enough of a broker for a load run to count through it.
    pub fn start_answering(connack: Vec<u8>, answers: Answers) -> std::io::Result<ConnackServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
        let done = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            connack,
            answers,
            seen: seen.clone(),
            subscribers: Mutex::new(Vec::new()),
        });
        {
            let (seen, done, streams) = (seen.clone(), done.clone(), streams.clone());
            std::thread::Builder::new()
                .name("connack-accept".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        if done.load(Ordering::Acquire) {
                            return;
                        }
                        let Ok(conn) = conn else { continue };
                        if let (Ok(mut all), Ok(c)) = (streams.lock(), conn.try_clone()) {
                            all.push(c);
                        }
                        let (seen, shared) = (seen.clone(), shared.clone());
                        let _ = std::thread::Builder::new()
                            .name("connack-conn".into())
                            .spawn(move || {
                                let _ = serve(conn, &shared);
                                let (lock, cv) = &*seen;
                                if let Ok(mut s) = lock.lock() {
                                    s.closed += 1;
                                }
                                cv.notify_all();
                            });
                    }
                })?;
        }
        Ok(ConnackServer {
            addr,
            seen,
            done,
            streams,
        })
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The CONNECTs received so far.
    pub fn connects(&self) -> Vec<SeenConnect> {
        self.seen
            .0
            .lock()
            .map(|s| s.connects.clone())
            .unwrap_or_default()
    }

    /// PINGREQs answered so far.
    pub fn pings(&self) -> u64 {
        self.seen.0.lock().map(|s| s.pings).unwrap_or_default()
    }

    /// The filters subscribed to so far.
    pub fn subscribes(&self) -> Vec<String> {
        self.seen
            .0
            .lock()
            .map(|s| s.subscribes.clone())
            .unwrap_or_default()
    }

    /// PUBLISH packets received so far.
    pub fn publishes(&self) -> u64 {
        self.seen.0.lock().map(|s| s.publishes).unwrap_or_default()
    }

    /// Wait (at most `timeout`) until `n` connections have ended; returns how many
    /// DISCONNECTs and how many closed connections were seen by then.
    pub fn wait_closed(&self, n: u64, timeout: Duration) -> (u64, u64) {
        let (lock, cv) = &*self.seen;
        let Ok(guard) = lock.lock() else {
            return (0, 0);
        };
        match cv.wait_timeout_while(guard, timeout, |s| s.closed < n) {
            Ok((s, _)) => (s.disconnects, s.closed),
            Err(_) => (0, 0),
        }
    }
}

impl Drop for ConnackServer {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        // Wake the accept thread so it sees `done`, and end every connection thread.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Ok(all) = self.streams.lock() {
            for s in all.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Serve one connection until it ends.
fn serve(mut conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (connack, seen) = (&shared.connack[..], &*shared.seen);
    let return_code = connack.get(3).copied().unwrap_or(0);
    let mut v5 = false;
    let peer = conn.peer_addr()?;
    // No test holds a session for longer; a stuck client does not keep the thread.
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    let record = |f: &dyn Fn(&mut Seen)| {
        if let Ok(mut s) = seen.0.lock() {
            f(&mut s);
        }
        seen.1.notify_all();
    };
    loop {
        let mut first = [0u8; 1];
        if conn.read(&mut first)? == 0 {
            return Ok(());
        }
        let mut len = 0usize;
        for shift in [0, 7, 14, 21] {
            let mut b = [0u8; 1];
            conn.read_exact(&mut b)?;
            len |= usize::from(b[0] & 0x7F) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body)?;
        match first[0] {
            0x10 => {
                let bad = || std::io::Error::other(format!("malformed CONNECT {body:02x?}"));
                let level = body.get(6).copied();
                v5 = level == Some(5);
                if body.len() < 12
                    || body[..6] != [0, 4, b'M', b'Q', b'T', b'T']
                    || !matches!(level, Some(4 | 5))
                {
                    return Err(bad());
                }
                // MQTT 5 puts properties (a length, then the bytes) before the payload.
                let mut at = 10;
                if level == Some(5) {
                    let (mut props, mut shift) = (0usize, 0);
                    loop {
                        let b = *body.get(at).ok_or_else(bad)?;
                        props |= usize::from(b & 0x7F) << shift;
                        at += 1;
                        shift += 7;
                        if b & 0x80 == 0 {
                            break;
                        }
                    }
                    at += props;
                }
                let id_len = usize::from(u16::from_be_bytes([
                    *body.get(at).ok_or_else(bad)?,
                    *body.get(at + 1).ok_or_else(bad)?,
                ]));
                let id = body.get(at + 2..at + 2 + id_len).ok_or_else(bad)?;
                let c = SeenConnect {
                    peer,
                    client_id: String::from_utf8_lossy(id).into_owned(),
                    keep_alive: u16::from_be_bytes([body[8], body[9]]),
                    flags: body[7],
                };
                record(&|s| s.connects.push(c.clone()));
                conn.write_all(connack)?;
                if return_code != 0 {
                    return Ok(());
                }
            }
            0xC0 => {
                conn.write_all(&[0xD0, 0x00])?;
                record(&|s| s.pings += 1);
            }
            0xE0 => {
                record(&|s| s.disconnects += 1);
                return Ok(());
            }
            0x82 => {
                let code = shared.answers.suback.ok_or_else(|| unexpected(0x82))?;
                let filter = subscribe_filter(&body, v5).ok_or_else(|| unexpected(0x82))?;
                record(&|s| s.subscribes.push(filter.clone()));
                let mut ack = vec![0x90, 3 + u8::from(v5), body[0], body[1]];
                if v5 {
                    ack.push(0);
                }
                ack.push(code);
                // Listed before the SUBACK goes out: a publisher may start on it, and its
                // first PUBLISH (read by another thread) must find the subscriber here.
                if code < 0x80
                    && let (Ok(mut subs), Ok(c)) = (shared.subscribers.lock(), conn.try_clone())
                {
                    subs.push((c, code));
                }
                conn.write_all(&ack)?;
            }
            b if b >> 4 == 3 => {
                record(&|s| s.publishes += 1);
                publish(&mut conn, shared, b, &body)?;
                if shared.answers.kick_on_publish.is_some() {
                    return Ok(());
                }
            }
            // PUBREL from a publisher: PUBCOMP; PUBREC from a subscriber: PUBREL.
            0x62 => conn.write_all(&[0x70, 2, body[0], body[1]])?,
            0x50 => conn.write_all(&[0x62, 2, body[0], body[1]])?,
            0x40 | 0x70 => {}
            other => return Err(unexpected(other)),
        }
    }
}

fn unexpected(first: u8) -> std::io::Error {
    std::io::Error::other(format!("unexpected packet type byte {first:#04x}"))
}

/// A SUBSCRIBE's first topic filter (after the packet id and, in MQTT 5, properties).
fn subscribe_filter(body: &[u8], v5: bool) -> Option<String> {
    let at = if v5 {
        3 + usize::from(*body.get(2)?)
    } else {
        2
    };
    let len = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
    Some(String::from_utf8_lossy(body.get(at + 2..at + 2 + len)?).into_owned())
}

/// Answer a PUBLISH (first byte `first`) as `shared.answers` says, and hand it to every
/// subscriber at the QoS it was granted (at most the publish's).
fn publish(conn: &mut TcpStream, shared: &Shared, first: u8, body: &[u8]) -> std::io::Result<()> {
    let answers = &shared.answers;
    if let Some(kick) = &answers.kick_on_publish {
        return conn.write_all(kick);
    }
    if !answers.publish {
        return Err(unexpected(first));
    }
    let qos = (first >> 1) & 3;
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let at = 2 + topic_len;
    let pkid = body.get(at..at + 2).map(|b| [b[0], b[1]]);
    match (qos, pkid) {
        (1, Some([hi, lo])) => conn.write_all(&[0x40, 2, hi, lo])?,
        (2, Some([hi, lo])) if answers.puback_qos2 => conn.write_all(&[0x40, 2, hi, lo])?,
        (2, Some([hi, lo])) => conn.write_all(&[0x50, 2, hi, lo])?,
        _ => {}
    }
    let Ok(mut subs) = shared.subscribers.lock() else {
        return Ok(());
    };
    for (sub, granted) in subs.iter_mut() {
        // The same packet at the granted QoS (a QoS 0 delivery would drop the packet id;
        // the tests grant 1 or 2).
        let q = if qos == 0 {
            0
        } else {
            qos.min(*granted).max(1)
        };
        let mut p = vec![(first & !0x06) | (q << 1)];
        let mut len = body.len();
        loop {
            let mut b = (len % 128) as u8;
            len /= 128;
            if len > 0 {
                b |= 0x80;
            }
            p.push(b);
            if len == 0 {
                break;
            }
        }
        p.extend_from_slice(body);
        let _ = sub.write_all(&p);
    }
    Ok(())
}
