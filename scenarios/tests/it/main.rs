//! Integration tests of the scenario language: the invalid fixtures, the shipped examples
//! and the defaults a minimal file gets.

mod examples;
mod invalid;
mod limits;
mod valid;

use std::path::PathBuf;

/// `scenarios/<rel>`, independent of the directory the tests run from.
fn crate_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The `.toml` files of a folder of this crate, sorted by name.
fn toml_files(rel: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(crate_path(rel))
        .unwrap_or_else(|e| panic!("cannot list {rel}: {e}"))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot list {rel}: {e}"))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}
