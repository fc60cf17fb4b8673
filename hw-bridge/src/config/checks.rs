//! Checks every convention's keys share: a key that must be there, a JSON pointer, a
//! topic filter, a topic to publish to. Each error points at the key's file, line and
//! column.

use crate::config::raw::RawDevice;
use crate::error::BridgeError;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// Turns a span of the file and a message into the error that points at it.
pub(crate) type At<'a> = dyn Fn(Range<usize>, String) -> BridgeError + 'a;

/// One `[[device]]` being checked: its keys, its id and fleet, and where errors point.
pub(crate) struct DeviceCx<'a> {
    /// Its keys as written.
    pub raw: &'a RawDevice,
    /// Its id, already checked.
    pub id: &'a str,
    /// The fleet's name, already checked (serial topics carry it).
    pub fleet: &'a str,
    /// Makes the errors.
    pub at: &'a At<'a>,
}

/// Where a key is written, or the start of the file when it is not.
pub(crate) fn span_of<T>(v: &Option<Spanned<T>>) -> Range<usize> {
    v.as_ref().map_or(0..0, Spanned::span)
}

impl DeviceCx<'_> {
    /// An error pointing at `span`.
    pub fn err(&self, span: Range<usize>, msg: String) -> BridgeError {
        (self.at)(span, msg)
    }

    /// The value of a key the convention cannot do without; empty is an error too.
    pub fn need(&self, v: &Option<Spanned<String>>, key: &str) -> Result<String, BridgeError> {
        let d = self.raw;
        match v {
            Some(s) if s.get_ref().is_empty() => {
                Err(self.err(s.span(), format!("`{key}` is empty")))
            }
            Some(s) => Ok(s.get_ref().clone()),
            None => Err(self.err(
                d.adapter.span(),
                format!("adapter \"{}\" needs `{key}`", d.adapter.get_ref()),
            )),
        }
    }

    /// A table of JSON pointers (`readings`, `state`), each `""` or starting with '/'.
    pub fn pointers(
        &self,
        m: &Option<Spanned<BTreeMap<String, String>>>,
    ) -> Result<BTreeMap<String, String>, BridgeError> {
        let Some(m) = m else {
            return Ok(BTreeMap::new());
        };
        for (k, p) in m.get_ref() {
            if !p.is_empty() && !p.starts_with('/') {
                return Err(self.err(
                    m.span(),
                    format!(
                        "`{k} = \"{p}\"`: a JSON pointer starts with '/' (or is \"\" for the whole payload)"
                    ),
                ));
            }
        }
        Ok(m.get_ref().clone())
    }

    /// A topic filter to subscribe to, when given.
    pub fn filter(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
    ) -> Result<Option<String>, BridgeError> {
        match v {
            Some(s) if !valid_filter(s.get_ref()) => Err(self.err(
                s.span(),
                format!(
                    "`{key}` \"{}\" is not a valid MQTT topic filter",
                    s.get_ref()
                ),
            )),
            Some(s) => Ok(Some(s.get_ref().clone())),
            None => Ok(None),
        }
    }

    /// A topic to publish to, when given: no wildcards.
    pub fn plain(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
    ) -> Result<Option<String>, BridgeError> {
        match v {
            Some(s) if s.get_ref().contains(['+', '#']) => Err(self.err(
                s.span(),
                format!("`{key}` is a topic to publish to; it cannot hold '+' or '#'"),
            )),
            _ => Ok(v.as_ref().map(|s| s.get_ref().clone())),
        }
    }
}

/// Whether `f` is a valid MQTT topic filter: `#` only as a whole last level, `+` only as
/// a whole level.
pub fn valid_filter(f: &str) -> bool {
    if f.is_empty() {
        return false;
    }
    let levels: Vec<&str> = f.split('/').collect();
    levels.iter().enumerate().all(|(i, l)| match *l {
        "#" => i == levels.len() - 1,
        "+" => true,
        l => !l.contains(['+', '#']),
    })
}
