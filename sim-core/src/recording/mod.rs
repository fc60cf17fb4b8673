//! `twin record` and `twin replay`: a broker's traffic written to NDJSON, one message a
//! line, and published again on its original timing (any speed, or as fast as the
//! broker takes it). Independent of the twin: any MQTT traffic records and replays.

pub mod line;
pub mod record;
pub mod replay;
pub mod rewrite;
