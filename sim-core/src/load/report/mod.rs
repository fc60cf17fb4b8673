//! The load commands' JSON reports (the keys are a public contract, see README.md) and
//! the merges `twin report merge` runs over shard reports.

mod conformance;
mod conn_report;
pub mod histograms;
mod pub_report;
mod sub_report;

pub use conformance::{BrokerLimits, ReasonCount};
pub use conn_report::{ConnReport, merge_conn};
pub use pub_report::{ConnectCounts, LoadReport, merge};
pub use sub_report::{SubCounts, SubReport};
