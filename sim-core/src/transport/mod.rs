//! MQTT transport: device and gateway sessions, the dispatcher, the embedded broker,
//! reconnection backoff and shutdown signals.

pub mod announce;
pub mod backoff;
pub mod broker;
pub mod dispatch;
pub mod endpoint;
pub mod gateway;
pub mod reach;
pub mod retained;
pub mod send_log;
pub mod session;
pub mod shutdown;
pub mod signal;
