//! `--broker` URL parsing on any UTF-8 text: (host, port, TLS) or a message, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|url: &str| {
    if let Ok(scenarios::BrokerUrl { host, port, .. }) = scenarios::BrokerUrl::parse(url) {
        // The contract `Endpoint` relies on: something to connect to.
        assert!(!host.is_empty(), "empty host from {url:?}");
        assert_ne!(port, 0, "port 0 from {url:?}");
    }
});
