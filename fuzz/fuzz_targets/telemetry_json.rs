//! The ingest side's telemetry decoder on any bytes, as JSON: a payload either decodes or
//! is counted as malformed, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_core::wire::{Decoded, Encoding};

fuzz_target!(|bytes: &[u8]| {
    if let Err(e) = Decoded::decode(Encoding::Json, bytes) {
        let _ = e.to_string();
    }
});
