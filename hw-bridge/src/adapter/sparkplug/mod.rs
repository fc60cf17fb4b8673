//! Sparkplug B (Eclipse Tahu, specification 3.0). An edge node publishes on
//! `spBv1.0/{group}/NBIRTH|NDATA|NDEATH/{edge_node}` and its devices on
//! `spBv1.0/{group}/DBIRTH|DDATA|DDEATH/{edge_node}/{device}`; a host commands them with
//! NCMD and DCMD. Payloads are protobuf `org.eclipse.tahu.protobuf.Payload`.
//!
//! Unlike the other conventions, Sparkplug is stateful, and so is this adapter (its
//! [`session::Session`]):
//! - A BIRTH names each metric and may give it an alias; later DATA may carry only the
//!   alias, so the names are remembered. A DATA metric whose alias no BIRTH defined is
//!   malformed.
//! - Every message of the node but NDEATH carries `seq`, one more (mod 256) than the
//!   node's previous message, whichever of its devices it is about. So the adapter
//!   follows the whole node, and a gap is counted as lost by the mirrored device whose
//!   message shows it (once, however many of the node's devices are mirrored).
//! - NBIRTH carries `bdSeq`; the NDEATH (the node's last will, published by the broker)
//!   carries the same. An NDEATH with another `bdSeq` is from an older session and is
//!   ignored.
//! - NDEATH takes the node and all its devices offline, DDEATH one device; NBIRTH and
//!   DBIRTH bring them online.
//!
//! Metric names become ours lower-cased, with '/' and spaces as '_'
//! (`Inputs/Temperature` is `inputs_temperature`), or as `readings`/`state` name them.

pub(crate) mod command;
pub(crate) mod config;
pub(crate) mod decode;
pub(crate) mod discover;
#[cfg(feature = "test-support")]
pub(crate) mod emulator;
pub(crate) mod proto;
pub(crate) mod session;
