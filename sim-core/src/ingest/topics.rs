//! The topic layout ingest subscribes to, and matching topics against its templates.

/// Topic layout ingest subscribes to.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Telemetry template, with `{fleet}` filled and `{device}` left.
    pub telemetry: String,
    /// Status template, the same way.
    pub status: String,
}

/// MQTT filter for a template: the level holding `{device}` becomes `+`.
pub fn filter_of(template: &str) -> String {
    crate::wire::topic_filter(template, &["{device}"])
}

/// Does a topic match a template (with `{device}` in one level, alone or with text
/// around it)? Returns the device id.
pub fn match_template<'t>(template: &str, topic: &'t str) -> Option<&'t str> {
    let mut id = None;
    let mut tl = template.split('/');
    let mut pl = topic.split('/');
    loop {
        match (tl.next(), pl.next()) {
            (None, None) => return id.or(Some("")),
            (Some(t), Some(p)) => {
                if let Some((pre, post)) = t.split_once("{device}") {
                    let inner = p.strip_prefix(pre).and_then(|r| r.strip_suffix(post));
                    id = Some(inner.filter(|i| !i.is_empty())?);
                } else if t != p && t != "+" {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_topics_and_yield_the_device() {
        let t = "twin/home/{device}/telemetry";
        assert_eq!(match_template(t, "twin/home/th-1/telemetry"), Some("th-1"));
        assert_eq!(match_template(t, "twin/home/th-1/status"), None);
        assert_eq!(match_template(t, "twin/home/a/b/telemetry"), None);
        assert_eq!(filter_of(t), "twin/home/+/telemetry");
        let t = "site/dev-{device}.json";
        assert_eq!(match_template(t, "site/dev-th-1.json"), Some("th-1"));
        assert_eq!(match_template(t, "site/dev-.json"), None);
        assert_eq!(match_template(t, "site/th-1.json"), None);
    }
}
