//! `twin load`'s payload decoder on any bytes, binary (`TWL1` header) or JSON
//! (`{"twl":"p.s.i.s",...}`): accounting fields or `None`, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Some((publisher, seq, intended_us, sent_us)) = sim_core::load::decode(bytes) {
        // What a decoded header means must survive an encode-decode round trip.
        let binary = sim_core::load::encode(publisher, seq, intended_us, sent_us, 0);
        assert_eq!(
            sim_core::load::decode(&binary),
            Some((publisher, seq, intended_us, sent_us))
        );
        let json = sim_core::load::encode_json(publisher, seq, intended_us, sent_us, "{}");
        assert_eq!(
            sim_core::load::decode(&json),
            Some((publisher, seq, intended_us, sent_us))
        );
    }
});
