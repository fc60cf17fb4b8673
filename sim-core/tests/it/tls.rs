//! TLS and credentials against a real Mosquitto: a CA made in the test (rcgen), a TLS
//! listener with a password file; exact counts when everything matches, a clear and
//! quick refusal when the CA or the password does not.

use sim_core::load::{LoadSpec, publish};
use sim_core::run::RunError;
use sim_core::test_support::Mosquitto;
use sim_core::transport::endpoint::Security;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// A CA and a server certificate for 127.0.0.1 signed by it, as PEM files in `dir`;
/// returns the CA file.
fn make_pki(dir: &Path, name: &str) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join(format!("{name}-ca.pem")), ca.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}-server.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}-server.key")), key.serialize_pem()).unwrap();
    dir.join(format!("{name}-ca.pem"))
}

/// A Mosquitto with only a TLS listener (its certificate signed by a CA made here) and a
/// password file holding `user`; returns it, its directory, the good CA and another CA.
fn tls_broker(name: &str, user: &str, password: &str) -> (Mosquitto, PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = make_pki(&dir, "good");
    let other_ca = make_pki(&dir, "other");
    let passwd = dir.join("passwd");
    let st = std::process::Command::new("/usr/bin/mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwd)
        .args([user, password])
        .status()
        .expect("mosquitto_passwd runs");
    assert!(st.success());
    let conf = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nallow_anonymous false\npassword_file {}",
        ca.display(),
        dir.join("good-server.pem").display(),
        dir.join("good-server.key").display(),
        passwd.display()
    );
    (Mosquitto::start(&conf).unwrap(), dir, ca, other_ca)
}

fn run(spec: &LoadSpec) -> Result<sim_core::load::LoadReport, RunError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            publish(spec, Arc::new(AtomicBool::new(false))),
        )
        .await
        .expect("load run ends by itself")
    })
}

#[test]
fn tls_with_a_password_counts_exactly_and_refusals_are_quick_and_clear() {
    if !Mosquitto::wanted() {
        return;
    }
    let (m, dir, ca, other_ca) = tls_broker("twin-tls", "loader", "right-password");
    let url = format!("mqtts://{}", m.addr);
    let good = Security {
        username: Some("loader".into()),
        password: Some("right-password".into()),
        cafile: Some(ca.clone()),
        ..Security::default()
    };
    let spec = LoadSpec {
        clients: 5,
        interval: Duration::from_millis(20),
        count: Some(20),
        qos: 1,
        broker: Some(url.clone()),
        security: good.clone(),
        ..LoadSpec::default()
    };
    let r = run(&spec).unwrap();
    assert_eq!(
        (r.messages.sent, r.messages.received, r.messages.lost),
        (100, 100, 0)
    );
    assert_eq!(r.acked, 100);
    // The report names the broker, never the password.
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("right-password"));

    // --insecure skips verification, so the same broker works without the CA.
    let insecure = LoadSpec {
        security: Security {
            cafile: None,
            insecure: true,
            ..good.clone()
        },
        ..spec.clone()
    };
    assert_eq!(run(&insecure).unwrap().messages.received, 100);

    // Wrong password: refused at once, not retried for the whole connect timeout.
    let t0 = Instant::now();
    let wrong = LoadSpec {
        security: Security {
            password: Some("wrong".into()),
            ..good.clone()
        },
        ..spec.clone()
    };
    match run(&wrong) {
        Err(RunError::Refused { why, .. }) => assert!(why.contains("refused"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());

    // `load conn` holds sessions over the same TLS listener with the same credentials,
    // over MQTT 3.1.1 and 5; a wrong password is counted as refused, by CONNACK code.
    let rt = tokio::runtime::Runtime::new().unwrap();
    for protocol in [sim_core::load::Protocol::V311, sim_core::load::Protocol::V5] {
        let conn = sim_core::load::ConnSpec {
            clients: 20,
            ramp_per_s: 1000.0,
            hold: Duration::from_millis(200),
            broker: Some(url.clone()),
            security: good.clone(),
            protocol,
            ..sim_core::load::ConnSpec::default()
        };
        let r = rt
            .block_on(sim_core::load::connect(
                &conn,
                Arc::new(AtomicBool::new(false)),
            ))
            .unwrap();
        assert_eq!((r.connected, r.failed, r.held), (20, 0, 20), "{protocol:?}");
        let bad = sim_core::load::ConnSpec {
            clients: 3,
            security: Security {
                password: Some("wrong".into()),
                ..good.clone()
            },
            ..conn
        };
        let r = rt
            .block_on(sim_core::load::connect(
                &bad,
                Arc::new(AtomicBool::new(false)),
            ))
            .unwrap();
        assert_eq!((r.connected, r.refused), (0, 3), "{protocol:?}: {r:?}");
    }

    // A CA that did not sign the broker's certificate: TLS fails, clearly.
    let mismatched = LoadSpec {
        security: Security {
            cafile: Some(other_ca),
            ..good
        },
        ..spec
    };
    match run(&mismatched) {
        Err(RunError::Refused { why, .. }) => assert!(why.contains("TLS"), "{why}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A scenario's fleet over TLS with a password: every device session, the ingest and the
/// last wills go through the TLS listener, and the counts are exact. A CA that did not
/// sign the broker's certificate fails the run clearly, within its connect timeout.
#[test]
fn a_scenario_runs_over_tls_with_credentials() {
    if !Mosquitto::wanted() {
        return;
    }
    let (m, dir, ca, other_ca) = tls_broker("twin-tls-run", "fleet", "fleet-password");
    let s = crate::scenario(
        r#"
[scenario]
name = "tls"
seed = 3
duration = "20s"
tick = "1s"
speed = "max"

[[environment]]
name = "room"

[[devices]]
id = "t-{n}"
count = 8
model = "dht22"
environment = "room"
publish_every = "2s"
"#,
    );
    let good = Security {
        username: Some("fleet".into()),
        password: Some("fleet-password".into()),
        cafile: Some(ca),
        ..Security::default()
    };
    let run = |security: Security, connect: Duration| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let opts = sim_core::run::RunOptions {
            broker_url: Some(format!("mqtts://{}", m.addr)),
            security,
            connect_timeout: connect,
            ..sim_core::run::RunOptions::default()
        };
        let (tx, _rx) = tokio::sync::watch::channel(sim_core::run::Progress::default());
        rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(120),
                sim_core::run::run(&s, opts, tx, Arc::new(AtomicBool::new(false))),
            )
            .await
            .expect("the run ends by itself")
        })
    };
    let r = run(good.clone(), Duration::from_secs(30)).expect("run over TLS");
    crate::assert_clean(&r);
    // 8 devices × 10 messages (every 2 s over 20 s).
    assert_eq!(r.messages.sent, 80);
    assert_eq!(r.devices.online, 8);
    assert!(r.broker.url.starts_with("mqtts://"), "{}", r.broker.url);

    let started = Instant::now();
    let wrong_ca = Security {
        cafile: Some(other_ca),
        ..good
    };
    // A certificate that does not verify is the broker's refusal, said at once.
    match run(wrong_ca, Duration::from_secs(3)) {
        Err(RunError::Refused { why, .. }) => assert!(why.contains("TLS failed"), "{why}"),
        other => panic!("expected the run to fail for the CA, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
