//! "Did you mean …": the known name closest to a mistyped one, for error messages.
//!
//! Jaro–Winkler similarity (the `strsim` crate, as clap's own suggestions use) weighs a
//! shared start, which is how names are usually mistyped (`publish_evry`, `dht2`); one
//! edit also counts, for names too short for it (`qso`).

/// The known name closest to `name`, when it is close enough to be a typo of it.
pub fn closest<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let name = name.to_lowercase();
    // Short names have too few letters for Jaro–Winkler (`qso` and `qos` share only the
    // `q` in place): one edit (a swap counts as one) is a typo there too.
    let near = |k: &str| {
        strsim::jaro_winkler(&name, k) >= 0.8 || strsim::damerau_levenshtein(&name, k) <= 1
    };
    known
        .into_iter()
        .filter(|k| near(k))
        .max_by(|a, b| strsim::jaro_winkler(&name, a).total_cmp(&strsim::jaro_winkler(&name, b)))
}

/// `; did you mean X?` with `X` written by `show` (for the end of a message), or nothing
/// when no name is close.
pub fn hint<'k>(
    name: &str,
    known: impl IntoIterator<Item = &'k str>,
    show: impl Fn(&str) -> String,
) -> String {
    closest(name, known)
        .map(|k| format!("; did you mean {}?", show(k)))
        .unwrap_or_default()
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a` or `b`")
/// with the closest expected field suggested at its end.
pub fn unknown_field(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((name, tail)) = rest.split_once('`') else {
        return message.to_string();
    };
    let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    let hint = hint(name, expected, |k| format!("`{k}`"));
    format!("unknown field `{name}`{tail}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_name_it_was_meant_to_be() {
        assert_eq!(
            closest("publish_evry", ["id", "publish_every", "power_w"]),
            Some("publish_every")
        );
        assert_eq!(closest("DHT2", ["dht22", "bme280"]), Some("dht22"));
        assert_eq!(closest("colour", ["id", "model", "count"]), None);
        assert_eq!(
            hint("devce", ["fleet", "device"], |k| format!("{{{k}}}")),
            "; did you mean {device}?"
        );
    }

    #[test]
    fn serde_unknown_field_messages_get_a_suggestion() {
        assert_eq!(
            unknown_field("unknown field `publish_evry`, expected one of `id`, `publish_every`"),
            "unknown field `publish_evry`, expected one of `id`, `publish_every`; did you mean `publish_every`?"
        );
        assert_eq!(
            unknown_field("unknown field `qso`, expected `qos` or `encoding`"),
            "unknown field `qso`, expected `qos` or `encoding`; did you mean `qos`?"
        );
        assert_eq!(
            unknown_field("unknown field `colour`, expected `id`"),
            "unknown field `colour`, expected `id`"
        );
        assert_eq!(unknown_field("invalid type"), "invalid type");
    }
}
