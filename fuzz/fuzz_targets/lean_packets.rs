//! The lean sessions' packet parsers on any bytes a broker could send: CONNACK with its
//! MQTT 5 properties (as the dialer reads it), the counting subscriber's (MQTT 3.1.1
//! and 5) and the publisher's. They split off complete packets or return an error;
//! they never panic or claim more bytes than they were given, and a CONNACK that parses
//! holds only values the spec allows.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_core::load::parsers;

fuzz_target!(|bytes: &[u8]| parsers::check(bytes));
