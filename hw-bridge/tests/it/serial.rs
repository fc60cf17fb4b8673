//! A serial device over a pseudo-terminal pair, mirrored through a real Mosquitto. The
//! mirror opens the pair's slave by its path, as it would `/dev/ttyUSB0`; the test plays
//! the device on the master side, writing JSON lines and reading the command lines.
//! Readings reach the twin through the broker, `relay=on` arrives as one JSON line and
//! converges once the device answers, junk lines are counted, a port that does not exist
//! marks its device offline, and closing the device side takes the device offline.

use crate::mirror::{Running, WAIT, device, set_and_wait};
use hw_bridge::MirrorConfig;
use hw_bridge::set::SetOutcome;
use serde_json::json;
use sim_core::test_support::Mosquitto;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio_serial::{SerialPort, SerialStream};

/// The next line the mirror wrote to the device.
async fn command(rd: &mut BufReader<ReadHalf<SerialStream>>) -> String {
    let mut line = String::new();
    let n = tokio::time::timeout(WAIT, rd.read_line(&mut line))
        .await
        .unwrap_or_else(|_| panic!("no command line within {WAIT:?}"))
        .expect("reading the pty master");
    assert!(n > 0, "the port closed");
    line
}

async fn write(wr: &mut WriteHalf<SerialStream>, bytes: &[u8]) {
    tokio::time::timeout(WAIT, wr.write_all(bytes))
        .await
        .expect("written in time")
        .expect("writing the pty master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_device_over_a_pseudo_terminal_is_mirrored() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    // Both ends raw, so lines pass unchanged; the mirror opens the slave by its path.
    let (master, slave) = SerialStream::pair().expect("a pseudo-terminal pair");
    let path = slave.name().expect("the slave's path");
    drop(slave);
    let text = format!(
        r#"
[mirror]
fleet = "home"
broker = "{url}"
stale_after = "30s"
confirm_timeout = "5s"
max_payload = 1024

[[device]]
id = "bench"
adapter = "serial"
port = "{path}"
readings = {{ temperature = "/temperature", humidity = "/humidity" }}
state = {{ relay = "/relay", mode = "/mode" }}

[[device]]
id = "ghost"
adapter = "serial"
port = "/dev/twinfleet-no-such-port"
baud = 9600
"#
    );
    let cfg = MirrorConfig::parse(&text, "serial.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut m = Running::start(&cfg, &url);
    m.note(&["bench: serial port", "open at 115200 baud"]).await;
    m.note(&["bench: online"]).await;
    // A port that cannot be opened: its bridge says offline, and keeps trying.
    m.note(&["ghost: serial port /dev/twinfleet-no-such-port cannot be opened"])
        .await;
    m.note(&["ghost: offline"]).await;

    let (rd, mut wr) = tokio::io::split(master);
    let mut rd = BufReader::new(rd);
    // A line split over two writes, one ending in "\r\n", one in "\n".
    write(&mut wr, b"{\"seq\":0,\"temperature\":21.5,\"hum").await;
    write(
        &mut wr,
        b"idity\":40,\"relay\":false}\r\n{\"seq\":1,\"temperature\":21.75,\"humidity\":41,\"relay\":false}\n",
    )
    .await;
    m.note(&["bench: reported relay = false"]).await;

    // A desired state goes out as one JSON line, and converges when the device answers.
    let set = tokio::spawn({
        let url = url.clone();
        async move { set_and_wait(&url, "bench", json!({"relay": "on"})).await }
    });
    assert_eq!(command(&mut rd).await, "{\"set\":{\"relay\":true}}\n");
    write(
        &mut wr,
        b"{\"seq\":2,\"temperature\":22.0,\"humidity\":42,\"relay\":true}\n",
    )
    .await;
    match tokio::time::timeout(WAIT, set)
        .await
        .expect("set ends")
        .expect("set task")
    {
        SetOutcome::Converged { reported, .. } => {
            assert_eq!(reported.get("relay"), Some(&json!(true)))
        }
        other => panic!("{other:?}"),
    }

    // Junk: binary, not JSON, a wrong type, a line over max_payload. Then a good line,
    // whose report says every line before it was read.
    write(&mut wr, b"\xff\xfe\x00\x13\n").await;
    write(&mut wr, b"boot: rst cause 2\n").await;
    write(&mut wr, b"{\"temperature\":\"warm\"}\n").await;
    let mut long = vec![b'7'; 5000];
    long.push(b'\n');
    write(&mut wr, &long).await;
    write(
        &mut wr,
        b"{\"seq\":3,\"temperature\":22.25,\"humidity\":43,\"relay\":true,\"mode\":\"idle\"}\n",
    )
    .await;
    m.note(&["bench: reported mode = \"idle\""]).await;
    m.note(&["bench: malformed payload"]).await;

    // Unplugged: closing the device side hangs the port up.
    drop((rd, wr));
    m.note(&["bench: serial port", "closed"]).await;
    m.note(&["bench: offline"]).await;
    let r = m.stop().await;

    let b = device(&r, "bench");
    assert_eq!(b.adapter, "serial");
    assert!(!b.online);
    let t = &b.readings["temperature"];
    assert_eq!((t.count, t.min, t.max, t.last), (4, 21.5, 22.25, 22.25));
    assert_eq!(b.readings["humidity"].last, 43.0);
    assert_eq!(b.lost, 0, "seq 0 to 3, no gaps");
    assert_eq!(b.shadow.reported.get("relay"), Some(&json!(true)));
    assert!(b.shadow.delta.is_empty(), "{:?}", b.shadow.delta);
    // The over-long line is counted by the bridge, the others by the JSON adapter.
    assert_eq!(b.malformed, 4, "last: {:?}", b.last_malformed);
    assert!(
        r.alerts
            .iter()
            .any(|a| a.device == "bench" && a.kind == "offline"),
        "{:?}",
        r.alerts
    );

    let g = device(&r, "ghost");
    assert!(!g.online);
    assert!(g.readings.is_empty());
    assert!(
        r.alerts
            .iter()
            .any(|a| a.device == "ghost" && a.kind == "offline")
    );
    assert_eq!(r.commands_sent, 1);
    assert_eq!(r.messages.malformed, 4);
}
