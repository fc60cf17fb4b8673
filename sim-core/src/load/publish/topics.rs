//! The topics of a load run: each device's from the template, and the filter the
//! counting subscribers subscribe to.

use crate::wire::topic_filter;

/// The subscription filter for a topic template: levels holding `%i` or `%c` become
/// `+`, `%s` becomes the shard index.
pub fn filter_of(template: &str, shard: usize) -> String {
    topic_filter(&template.replace("%s", &shard.to_string()), &["%i", "%c"])
}

/// A device's topic (or JSON body): `%i` its index, `%c` its session's client id, `%s`
/// the shard index.
pub(crate) fn topic_of(template: &str, device: usize, client_id: &str, shard: usize) -> String {
    template
        .replace("%i", &device.to_string())
        .replace("%c", client_id)
        .replace("%s", &shard.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_topics_follow_the_template() {
        assert_eq!(filter_of("twin-load/%s/%i", 3), "twin-load/3/+");
        assert_eq!(filter_of("a/dev-%i/%c/x", 0), "a/+/+/x");
        assert_eq!(topic_of("t/%s/%c/%i", 12, "cid", 2), "t/2/cid/12");
    }
}
