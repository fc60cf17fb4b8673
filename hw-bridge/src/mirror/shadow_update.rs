//! Shadow updates: a desired state checked against the device's adapter, versioned in
//! its shadow, and sent as its native command; and the update payload clients publish.

use crate::mirror::machine::{Mirror, Publish};
use crate::shadow::UpdateError;
use serde_json::{Map, Value, json};

impl Mirror {
    /// A shadow update `{"state":{"desired":{...}},"version":N,"client_token":"..."}`.
    pub(super) fn update(&mut self, device: &str, payload: &[u8], t: f64) -> Vec<Publish> {
        let doc: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        let token = doc.get("client_token").cloned().unwrap_or(Value::Null);
        let reject = |topic: String, code: u16, message: String| {
            vec![Publish {
                topic,
                payload: json!({"code": code, "message": message, "client_token": token})
                    .to_string()
                    .into_bytes(),
                retain: false,
            }]
        };
        let Some(i) = self.devices.iter().position(|d| d.cfg.id == device) else {
            return reject(
                format!("twin/{}/{device}/shadow/update/rejected", self.fleet),
                404,
                format!("no device \"{device}\" in this mirror"),
            );
        };
        let rejected = self.topic(i, "/update/rejected");
        let Some(desired) = doc
            .pointer("/state/desired")
            .and_then(Value::as_object)
            .cloned()
        else {
            return reject(
                rejected,
                400,
                "expected {\"state\":{\"desired\":{...}}}".into(),
            );
        };
        let version = match doc.get("version") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(v) => Some(v),
                None => return reject(rejected, 400, "version must be a whole number".into()),
            },
        };
        for (k, v) in desired.iter().filter(|(_, v)| !v.is_null()) {
            if let Err(e) = self.devices[i].adapter.command(k, v) {
                return reject(rejected, 400, format!("{k}: {e}"));
            }
        }
        let deadline = t + self.confirm_timeout;
        let new_version = match self.devices[i].shadow.desire(&desired, version, deadline) {
            Ok(v) => v,
            Err(e @ UpdateError::Conflict { .. }) => return reject(rejected, 409, e.to_string()),
            Err(e) => return reject(rejected, 400, e.to_string()),
        };
        let mut out = vec![Publish {
            topic: self.topic(i, "/update/accepted"),
            payload: json!({"state": {"desired": desired}, "version": new_version, "client_token": token})
                .to_string()
                .into_bytes(),
            retain: false,
        }];
        let delta = self.devices[i].shadow.delta();
        // The normalised value (`true`, not `"on"`) is what the device is asked for.
        for (k, v) in delta.iter().filter(|(k, _)| desired.contains_key(*k)) {
            out.extend(self.command(i, k, v));
        }
        out.push(self.document(i));
        out
    }

    pub(super) fn command(&mut self, i: usize, key: &str, value: &Value) -> Option<Publish> {
        let d = &self.devices[i];
        match d.adapter.command(key, value) {
            Ok(c) => {
                self.commands_sent += 1;
                self.notes.push(format!(
                    "{}: {key} = {value} sent as {} {}",
                    d.cfg.id,
                    c.topic,
                    String::from_utf8_lossy(&c.payload)
                ));
                Some(Publish {
                    topic: c.topic,
                    payload: c.payload,
                    retain: false,
                })
            }
            Err(e) => {
                self.notes
                    .push(format!("{}: cannot send {key}: {e}", d.cfg.id));
                None
            }
        }
    }
}

/// A shadow update payload setting `desired`.
pub fn update_payload(desired: &Map<String, Value>, version: Option<u64>, token: &str) -> Vec<u8> {
    let mut doc = json!({"state": {"desired": desired}, "client_token": token});
    if let Some(v) = version {
        doc["version"] = json!(v);
    }
    doc.to_string().into_bytes()
}
