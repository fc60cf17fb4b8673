//! `twin tui`: the run, watched and steered in the terminal.
//!
//! The run publishes `Arc<FleetSnapshot>`s through a watch channel; the driver loop
//! polls the keyboard with a timeout, redraws only when the snapshot or the model
//! changed (at most 30 times a second), and never touches the world or the network
//! itself. Elm style: a key becomes an `Action` (`keys`), `app::update` changes the
//! `Model`, `view::view` draws the model and the snapshot; `driver` runs the loop.

pub mod app;
pub mod driver;
pub mod keys;
pub mod view;

pub use driver::{Steering, drive};
pub use keys::key_to_action;
