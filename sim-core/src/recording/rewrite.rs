//! `--map 'tele/{t}/#=lab/{t}/#'`: rewrite a topic by a pattern. `{name}` matches one
//! level and `#` (last) the rest; the right side uses the same names. A topic the
//! pattern does not match is left as it is.

/// A parsed `FROM=TO`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    from: Vec<String>,
    to: Vec<String>,
}

impl Rewrite {
    /// Parse `FROM=TO`; every `{name}` on the right must be on the left.
    pub fn parse(s: &str) -> Result<Rewrite, String> {
        let (from, to) = s.split_once('=').ok_or_else(|| {
            format!("--map {s}: expected FROM=TO, like 'tele/{{t}}/#=lab/{{t}}/#'")
        })?;
        let levels = |p: &str| p.split('/').map(str::to_string).collect::<Vec<_>>();
        let (from, to) = (levels(from), levels(to));
        if let Some(i) = from.iter().position(|l| l == "#")
            && i + 1 != from.len()
        {
            return Err(format!("--map {s}: '#' must be the last level"));
        }
        for l in &to {
            let named = l.starts_with('{') && l.ends_with('}');
            if (named && !from.contains(l)) || (l == "#" && !from.contains(l)) {
                return Err(format!("--map {s}: {l} on the right is not on the left"));
            }
        }
        Ok(Rewrite { from, to })
    }

    /// `topic` rewritten, or `None` when the pattern does not match it.
    pub fn apply(&self, topic: &str) -> Option<String> {
        let levels: Vec<&str> = topic.split('/').collect();
        let mut named: Vec<(&str, String)> = Vec::new();
        for (i, p) in self.from.iter().enumerate() {
            if p == "#" {
                named.push(("#", levels.get(i..)?.join("/")));
                break;
            }
            let l = levels.get(i)?;
            if p.starts_with('{') && p.ends_with('}') {
                named.push((p, (*l).to_string()));
            } else if p != l {
                return None;
            }
            if i + 1 == self.from.len() && levels.len() != self.from.len() {
                return None;
            }
        }
        let out: Vec<String> = self
            .to
            .iter()
            .map(|l| {
                named
                    .iter()
                    .find(|(n, _)| n == l)
                    .map_or_else(|| l.clone(), |(_, v)| v.clone())
            })
            .collect();
        Some(out.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::Rewrite;

    #[test]
    fn levels_and_the_rest_move_to_their_places() {
        let r = Rewrite::parse("tele/{t}/#=lab/{t}/#").unwrap();
        assert_eq!(
            r.apply("tele/plug_1/SENSOR").as_deref(),
            Some("lab/plug_1/SENSOR")
        );
        assert_eq!(
            r.apply("tele/plug_1/a/b").as_deref(),
            Some("lab/plug_1/a/b")
        );
        assert_eq!(r.apply("stat/plug_1/POWER"), None);
        let r = Rewrite::parse("a/{x}/{y}=b/{y}/{x}").unwrap();
        assert_eq!(r.apply("a/1/2").as_deref(), Some("b/2/1"));
        assert_eq!(r.apply("a/1/2/3"), None);
        assert!(
            Rewrite::parse("a/#/b=c")
                .unwrap_err()
                .contains("last level")
        );
        assert!(
            Rewrite::parse("a/{x}=b/{y}")
                .unwrap_err()
                .contains("{y} on the right")
        );
        assert!(Rewrite::parse("nothing").unwrap_err().contains("FROM=TO"));
    }
}
