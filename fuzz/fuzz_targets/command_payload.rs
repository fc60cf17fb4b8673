//! A device session's command parser on any bytes: `{"set":{...}}` gives sim keys,
//! anything else `None`, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = sim_core::transport::session::parse_command(bytes);
});
