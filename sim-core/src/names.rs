//! Interned names: a user model's reading and state names as `&'static str`, so its
//! messages carry them as the built-in models' do (`Telemetry::readings`), without a
//! copy per message.
//!
//! Each distinct name is leaked once, the first time it is seen, and found again after:
//! what is leaked is bounded by the distinct names of the scenarios a process loads
//! (a scenario file is at most 4 MiB), not by the messages it sends.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// `name`, as a string that lives as long as the process.
pub fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_is_leaked_once() {
        let a = super::intern("vibration_x");
        let b = super::intern(&String::from("vibration_x"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "vibration_x");
    }
}
