//! `twin run --shard i/N` as four processes at once on one broker, and `twin report
//! merge` of their run reports: the merge equals the unsharded run; bad sets exit 2.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns panic on failure, as tests do"
)]

use crate::{SpawnOutput, repo, stderr, twin};
use std::path::Path;
use std::process::Command;

fn read(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A report's alerts as sorted lines (their order in one run is arrival order).
fn alerts(v: &serde_json::Value) -> Vec<String> {
    let mut a: Vec<String> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let key = ["kind", "device", "sensor", "start", "end", "raised"];
            key.map(|k| a[k].to_string()).join(" ")
        })
        .collect();
    a.sort();
    a
}

#[test]
fn run_shards_merge_to_the_single_run_and_bad_sets_are_refused() {
    let broker = sim_core::transport::broker::EmbeddedBroker::start(256).unwrap();
    let url = broker.url();
    let dir = std::env::temp_dir().join(format!("twin-run-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let args = |json: &Path| -> Vec<String> {
        [
            "run",
            "scenarios/examples/smart-home.toml",
            "--duration",
            "1h",
            "--speed",
            "600",
            "--broker",
            &url,
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ]
        .map(str::to_string)
        .to_vec()
    };
    let whole = dir.join("whole.json");
    let o = twin(&args(&whole).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut a = args(&dir.join(format!("s{i}.json")));
            a.extend(["--shard".to_string(), format!("{i}/4")]);
            Command::new(env!("CARGO_BIN_EXE_twin"))
                .args(&a)
                .current_dir(repo())
                .env_remove("TWIN_SHARD")
                .output_async()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let shard = |i: usize| dir.join(format!("s{i}.json")).to_str().unwrap().to_string();
    let merged = dir.join("merged.json");
    let mut m_args = vec!["report".to_string(), "merge".into(), "--json".into()];
    m_args.push(merged.to_str().unwrap().to_string());
    m_args.extend((0..4).map(shard));
    let o = twin(&m_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("scenario smart-home (seed 42)"), "{out}");

    let (w, m) = (read(&whole), read(&merged));
    crate::schemas::assert_valid("run", &w);
    crate::schemas::assert_valid("run", &m);
    assert_eq!(read(Path::new(&shard(2)))["shard"], "2/4");
    assert!(m.get("shard").is_none());
    assert_eq!(m["merged"], 4);
    assert_eq!(
        m["per_device"], w["per_device"],
        "per device: counts, readings"
    );
    assert_eq!(m["messages"], w["messages"]);
    assert_eq!(m["devices"], w["devices"]);
    assert_eq!(m["fleet"], w["fleet"]);
    assert_eq!(alerts(&m), alerts(&w));
    assert_eq!(m["latency_ms"]["count"], w["messages"]["received"]);

    refusals(&dir, &shard);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Missing and repeated shards, another seed, a load report among run reports: exit 2
/// with the reason.
fn refusals(dir: &Path, shard: &dyn Fn(usize) -> String) {
    let refused = |files: &[String], says: &str| {
        let mut a = vec!["report", "merge"];
        a.extend(files.iter().map(String::as_str));
        let o = twin(&a);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "wanted {says:?}: {}", stderr(&o));
    };
    refused(&[shard(0), shard(1), shard(3)], "shard 2/4 of 4 missing");
    refused(
        &[shard(0), shard(1), shard(1), shard(2)],
        "shard 1/4 given twice",
    );
    let mut v = read(Path::new(&shard(3)));
    v["seed"] = 7.into();
    let reseeded = dir.join("seed7.json");
    std::fs::write(&reseeded, v.to_string()).unwrap();
    let reseeded = reseeded.to_str().unwrap().to_string();
    refused(&[shard(0), shard(1), shard(2), reseeded], "seed 7 but");
    let load = dir.join("load.json");
    std::fs::write(&load, r#"{"command":"load pub"}"#).unwrap();
    let load = load.to_str().unwrap().to_string();
    refused(&[shard(0), load], "cannot merge a `run` report");
}

#[test]
fn run_help_explains_shard() {
    let o = twin(&["run", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("--shard <i/N>"), "{out}");
    assert!(out.contains("twin report merge"), "{out}");
    let o = twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--shard",
        "4/4",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
