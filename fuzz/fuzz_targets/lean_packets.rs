//! The lean sessions' packet parsers on any bytes a broker could send: the counting
//! subscriber's (MQTT 3.1.1 and 5) and the publisher's. They split off complete packets
//! or return an error; they never panic or claim more bytes than they were given.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_core::load::parsers;

fuzz_target!(|bytes: &[u8]| {
    for v5 in [false, true] {
        let mut out = Vec::new();
        if let Ok(used) = parsers::subscriber(bytes, v5, &mut out) {
            assert!(used <= bytes.len());
        }
    }
    if let Ok((used, _)) = parsers::publisher(bytes) {
        assert!(used <= bytes.len());
    }
});
