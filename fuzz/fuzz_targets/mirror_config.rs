//! `twin mirror` configs on any UTF-8 text: a checked config or one located message,
//! never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match hw_bridge::MirrorConfig::parse(text, "fuzz.toml") {
        Ok(cfg) => {
            // Whatever was accepted can be mirrored.
            let m = hw_bridge::mirror::Mirror::new(&cfg, 0.0);
            assert!(!m.subscriptions().is_empty());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
