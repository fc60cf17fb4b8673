//! twinfleet engine: device models, the ECS simulation, MQTT transport with an embedded
//! broker, ingest, and run reports.

pub mod analytics;
pub mod attach;
pub mod error;
pub mod fault;
pub mod flow;
pub mod ingest;
pub mod load;
pub mod measure;
pub mod merge;
pub mod model;
pub mod names;
pub mod recording;
pub mod rejected;
pub mod report;
pub mod run;
pub mod sim;
pub mod snapshot;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod transport;
pub mod warn_limit;
pub mod wire;
