//! Each report's JSON Schema lives in the repository (`twin-tui/schemas/`), made from
//! the report types themselves (their doc comments are its descriptions). One test holds
//! the files to what the types make; the tests that write real reports check each one
//! against its schema with [`assert_valid`].

use crate::repo;
use std::path::PathBuf;

/// Every report kind and the schema its type makes.
fn kinds() -> [(&'static str, schemars::Schema); 5] {
    [
        ("run", schemars::schema_for!(sim_core::report::Report)),
        (
            "load-pub",
            schemars::schema_for!(sim_core::load::LoadReport),
        ),
        ("load-sub", schemars::schema_for!(sim_core::load::SubReport)),
        (
            "load-conn",
            schemars::schema_for!(sim_core::load::ConnReport),
        ),
        (
            "mirror",
            schemars::schema_for!(hw_bridge::report::MirrorReport),
        ),
    ]
}

/// Where a kind's schema is kept.
fn path(kind: &str) -> PathBuf {
    repo().join(format!("twin-tui/schemas/{kind}.schema.json"))
}

#[test]
fn each_reports_schema_in_the_repository_is_the_one_its_type_makes() {
    let write = std::env::var_os("TWIN_WRITE_SCHEMAS").is_some();
    for (kind, schema) in kinds() {
        let made = serde_json::to_string_pretty(&schema).expect("a schema is JSON") + "\n";
        if write {
            std::fs::write(path(kind), &made).expect("the schema written");
        }
        let kept = std::fs::read_to_string(path(kind)).unwrap_or_default();
        assert!(
            kept == made,
            "twin-tui/schemas/{kind}.schema.json is not what the report type makes; \
             write it again with TWIN_WRITE_SCHEMAS=1 cargo test -p twin-tui --test it schema"
        );
    }
}

/// `report` (a real report of `kind`, as written by `--json`) is valid against its
/// schema in the repository.
pub fn assert_valid(kind: &str, report: &serde_json::Value) {
    let text = std::fs::read_to_string(path(kind)).expect("the schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "a {kind} report against its schema: {errors:?}"
    );
}

#[test]
fn a_report_of_the_wrong_shape_fails_its_schema() {
    let o = crate::twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--duration",
        "2m",
        "--speed",
        "max",
        "--quiet",
        "--json",
        "-",
    ]);
    assert!(o.status.success(), "{}", crate::stderr(&o));
    let good: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the report");
    assert_valid("run", &good);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("run")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut bad = good.clone();
    bad["messages"]["sent"] = serde_json::json!("many");
    assert!(!validator.is_valid(&bad), "a count that is a word");
    let mut bad = good;
    bad["messages"]
        .as_object_mut()
        .expect("messages")
        .remove("lost");
    assert!(!validator.is_valid(&bad), "a count left out");
}

#[test]
fn a_load_sub_report_is_valid_against_its_schema() {
    let o = crate::twin(&[
        "load",
        "sub",
        "-c",
        "1",
        "--duration",
        "1s",
        "--quiet",
        "--json",
        "-",
    ]);
    assert!(o.status.success(), "{}", crate::stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the report");
    assert_eq!(report["command"], "load sub");
    assert_valid("load-sub", &report);
}
