//! MQTT transport: device sessions, the dispatcher, the embedded broker.

pub mod backoff;
pub mod broker;
pub mod dispatch;
pub mod endpoint;
pub mod session;
