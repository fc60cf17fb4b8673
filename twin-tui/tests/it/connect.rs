//! A broker that cannot be used, as `twin run`, `twin load pub|sub|conn` and
//! `twin mirror` meet it: the cause is named at once (no such name, a closed port, a wrong scheme, refused
//! credentials, an untrusted certificate) with exit 1 (2 for a bad URL), and a signal
//! while they connect stops them within a second with exit 130.

use crate::{repo, stderr, twin};
use sim_core::test_support::Mosquitto;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The commands that connect, each with its broker URL in place.
fn commands(url: &str) -> [Vec<String>; 5] {
    let own = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    [
        own(&["run", "scenarios/examples/quickstart.toml", "--broker", url]),
        own(&[
            "load",
            "pub",
            "-c",
            "2",
            "--duration",
            "2s",
            "--broker",
            url,
        ]),
        own(&[
            "load",
            "sub",
            "-c",
            "2",
            "--duration",
            "2s",
            "--broker",
            url,
        ]),
        own(&["load", "conn", "-c", "2", "--hold", "1s", "--broker", url]),
        own(&[
            "mirror",
            "hw-bridge/examples/mirror.toml",
            "--duration",
            "5s",
            "--broker",
            url,
        ]),
    ]
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Run `twin ARGS EXTRA`, timed.
fn timed(args: &[String], extra: &[&str]) -> (Output, Duration) {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend_from_slice(extra);
    let t0 = Instant::now();
    let o = twin(&all);
    (o, t0.elapsed())
}

#[test]
fn each_cause_is_named_within_two_seconds_by_every_command() {
    let refused = format!("mqtt://127.0.0.1:{}", closed_port());
    let cases = [
        (refused.as_str(), 1, "connection refused"),
        (
            "mqtt://nosuchhost.invalid:1883",
            1,
            "name nosuchhost.invalid not resolved",
        ),
        ("http://127.0.0.1:1883", 2, "wrong scheme `http`"),
    ];
    for (url, code, words) in cases {
        for args in commands(url) {
            let (o, took) = timed(&args, &[]);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(code), "twin {args:?}: {err}");
            assert!(err.contains(words), "twin {args:?}: {err}");
            assert!(took < Duration::from_secs(2), "twin {args:?} took {took:?}");
        }
    }
}

#[test]
fn a_broker_still_starting_is_waited_for_when_asked() {
    if !Mosquitto::wanted() {
        return;
    }
    // --wait-for-broker: a refused port is tried again, so a broker that comes up a
    // moment after the command starts is used. Here it is up the whole time, on the port
    // the command was given: the flag must not stand in the way of a working broker,
    // and a closed port still fails once the wait is over, with its cause.
    let m = Mosquitto::start("").expect("mosquitto");
    let o = twin(&[
        "load",
        "pub",
        "-c",
        "1",
        "--duration",
        "1s",
        "--wait-for-broker",
        "5s",
        "--broker",
        &m.url(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let refused = format!("mqtt://127.0.0.1:{}", closed_port());
    let (o, took) = timed(&commands(&refused)[0], &["--wait-for-broker", "1s"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("connection refused"), "{}", stderr(&o));
    assert!(took >= Duration::from_secs(1), "{took:?}");
}

/// A listener that accepts connections and never answers (a broker that hangs), and a
/// receiver told of each connection it accepts.
fn silent_broker() -> (u16, std::sync::mpsc::Receiver<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = l.local_addr().expect("its address").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().map_while(Result::ok) {
            held.push(s);
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn a_signal_while_connecting_stops_each_command_within_a_second() {
    for signal in ["INT", "TERM"] {
        let (port, accepted) = silent_broker();
        for args in commands(&format!("mqtt://127.0.0.1:{port}")) {
            let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
                .args(&args)
                .current_dir(repo())
                .env_remove("TWIN_BROKER")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("twin starts");
            accepted
                .recv_timeout(Duration::from_secs(20))
                .expect("twin connects");
            let sent = Instant::now();
            let st = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(st.success());
            let status = loop {
                if let Some(s) = child.try_wait().expect("waiting") {
                    break s;
                }
                assert!(
                    sent.elapsed() < Duration::from_secs(10),
                    "twin {args:?} ignored SIG{signal} while connecting"
                );
                std::thread::sleep(Duration::from_millis(10));
            };
            let took = sent.elapsed();
            let out = child.wait_with_output().expect("its output");
            // A load's summary (on stdout) is marked; the others say it on stderr.
            let err = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                status.code(),
                Some(130),
                "twin {args:?} on SIG{signal}: {err}"
            );
            assert!(err.contains("interrupted"), "twin {args:?}: {err}");
            assert!(took < Duration::from_secs(1), "twin {args:?} took {took:?}");
            // What else it accepted (a second session of load pub) is not waited for.
            while accepted.try_recv().is_ok() {}
        }
    }
}

#[test]
fn refused_credentials_stop_each_command_at_once_with_exit_1() {
    if !Mosquitto::wanted() {
        return;
    }
    let dir = temp_dir("passwd");
    let passwd = dir.join("passwd");
    let made = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&passwd)
        .args(["twin", "right-password"])
        .status()
        .expect("mosquitto_passwd runs");
    assert!(made.success());
    let m = Mosquitto::start(&format!(
        "password_file {}\nallow_anonymous false",
        passwd.display()
    ))
    .expect("mosquitto");
    let url = format!("mqtt://twin:wrong-password@127.0.0.1:{}", m.addr.port());
    for args in commands(&url) {
        let (o, took) = timed(&args, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "twin {args:?}: {err}");
        assert!(err.contains("refused"), "twin {args:?}: {err}");
        assert!(
            err.contains("not authorized") || err.contains("bad user name or password"),
            "twin {args:?}: {err}"
        );
        assert!(!err.contains("wrong-password"), "twin {args:?}: {err}");
        assert!(took < Duration::from_secs(5), "twin {args:?} took {took:?}");
    }
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twin-connect-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// A server certificate for 127.0.0.1 in `dir` (server.pem, server.key), signed by a CA
/// made here (ca.pem); with `self_signed_ca`, the server's own certificate is itself a
/// CA certificate (CA:TRUE), the mistake a quick self-signed setup often makes.
fn make_pki(dir: &Path, self_signed_ca: bool) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let names = vec!["127.0.0.1".to_string(), "localhost".into()];
    let key = KeyPair::generate().expect("a key");
    let (ca_pem, cert_pem) = if self_signed_ca {
        let mut p = CertificateParams::new(names).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = p.self_signed(&key).expect("a certificate");
        (cert.pem(), cert.pem())
    } else {
        let ca_key = KeyPair::generate().expect("a key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("a CA");
        let p = CertificateParams::new(names).expect("params");
        let cert = p.signed_by(&key, &ca, &ca_key).expect("a certificate");
        (ca.pem(), cert.pem())
    };
    std::fs::write(dir.join("ca.pem"), ca_pem).expect("written");
    std::fs::write(dir.join("server.pem"), cert_pem).expect("written");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("written");
    dir.join("ca.pem")
}

/// A Mosquitto with only a TLS listener, its certificates made in `dir`.
fn tls_mosquitto(dir: &Path, self_signed_ca: bool) -> (Mosquitto, PathBuf) {
    let ca = make_pki(dir, self_signed_ca);
    let conf = format!(
        "cafile {}\ncertfile {}\nkeyfile {}",
        ca.display(),
        dir.join("server.pem").display(),
        dir.join("server.key").display(),
    );
    (Mosquitto::start(&conf).expect("mosquitto over TLS"), ca)
}

#[test]
fn an_untrusted_certificate_stops_each_command_at_once_in_words() {
    if !Mosquitto::wanted() {
        return;
    }
    let dir = temp_dir("tls");
    let (m, _ca) = tls_mosquitto(&dir, false);
    let url = format!("mqtts://127.0.0.1:{}", m.addr.port());
    // No --cafile: the system roots do not know the CA made here.
    for args in commands(&url) {
        let (o, took) = timed(&args, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "twin {args:?}: {err}");
        assert!(
            err.contains("not signed by a CA this command trusts; give that CA with --cafile"),
            "twin {args:?}: {err}"
        );
        assert!(took < Duration::from_secs(5), "twin {args:?} took {took:?}");
    }
    drop(m);

    // A self-signed server certificate made as a CA, given with --cafile: the TLS
    // library's `CaUsedAsEndEntity`, said in words with what to do.
    let ca_dir = temp_dir("tls-ca");
    let (m, ca) = tls_mosquitto(&ca_dir, true);
    let url = format!("mqtts://127.0.0.1:{}", m.addr.port());
    let cafile = ca.to_str().expect("a UTF-8 path");
    for args in commands(&url) {
        let (o, _) = timed(&args, &["--cafile", cafile]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "twin {args:?}: {err}");
        assert!(
            err.contains("presents a CA certificate as its own"),
            "twin {args:?}: {err}"
        );
        assert!(!err.contains("CaUsedAsEndEntity"), "twin {args:?}: {err}");
    }
    for d in [dir, ca_dir] {
        std::fs::remove_dir_all(d).expect("cleaned up");
    }
}

#[test]
fn a_garbage_connack_is_named_by_every_command() {
    use sim_core::test_support::ConnackServer;
    // An HTTP server's first bytes where the CONNACK should be.
    let server = ConnackServer::start_with(b"HTTP/1.1 400".to_vec()).expect("a fake broker");
    for args in commands(&server.url()) {
        let (o, took) = timed(&args, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "twin {args:?}: {err}");
        assert!(
            err.contains("answered CONNECT with bytes that are not a CONNACK: 48 54"),
            "twin {args:?}: {err}"
        );
        assert!(took < Duration::from_secs(5), "twin {args:?} took {took:?}");
    }
}
