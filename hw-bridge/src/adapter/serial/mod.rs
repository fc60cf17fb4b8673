//! Newline-delimited JSON over a serial port. The session bridges the port into MQTT
//! (`crate::serial`, which does the I/O); the mirror reads the bridged topics with the
//! generic JSON adapter, so this folder holds the settings and the topics only.

pub(crate) mod config;
pub(crate) mod topics;
