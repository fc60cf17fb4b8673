//! The sim's channels to the outside and the messages on them. Every send from the sim is
//! a `try_send` (or an unbounded send): the sim thread never blocks and never awaits.

use crate::flow::Window;
use crate::wire::Telemetry;
use bevy_ecs::prelude::*;
use scenarios::SetValue;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A command for one device, from MQTT or the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundCommand {
    /// Fleet index.
    pub device: u32,
    /// Keys to set.
    pub set: Vec<(String, SetValue)>,
}

/// What the transport must do to a device's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCommand {
    /// Drop the connection without DISCONNECT so the last will fires.
    Disconnect(u32),
    /// Connect again.
    Reconnect(u32),
    /// Drop gateway `n`'s session (by its place in the scenario's gateways) without
    /// DISCONNECT, so its last will takes its devices off line. A device's `Reconnect`
    /// brings its gateway back.
    GatewayDown(u32),
}

/// A timeline action applied at once to one device, by an operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Steer {
    /// Fleet index.
    pub device: u32,
    /// What to do (`Disconnect`, `Reconnect`, `Fault`, `Set`, `Rate`).
    pub action: scenarios::EventAction,
}

/// The sim's channels to the outside. Every send is a `try_send`: the sim never blocks.
pub struct SimIo {
    /// Telemetry out (bounded).
    pub outbox: mpsc::Sender<Telemetry>,
    /// Commands in (bounded).
    pub commands: mpsc::Receiver<InboundCommand>,
    /// Session changes out.
    pub sessions: mpsc::UnboundedSender<SessionCommand>,
    /// Steering from an operator (the terminal UI): timeline actions applied now.
    pub steer: Option<mpsc::Receiver<Steer>>,
    /// The run's flow window: every message handed to the outbox is counted in, and
    /// the sim thread holds its clock while it is full. `None`: no flow control (a full
    /// outbox drops at source).
    pub window: Option<Arc<Window>>,
}

impl SimIo {
    /// Channels for a sim with no network: returns the io and the far ends.
    pub fn detached(
        outbox_capacity: usize,
    ) -> (
        SimIo,
        mpsc::Receiver<Telemetry>,
        mpsc::Sender<InboundCommand>,
        mpsc::UnboundedReceiver<SessionCommand>,
    ) {
        let (out_tx, out_rx) = mpsc::channel(outbox_capacity.max(1));
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let (ses_tx, ses_rx) = mpsc::unbounded_channel();
        (
            SimIo {
                outbox: out_tx,
                commands: cmd_rx,
                sessions: ses_tx,
                steer: None,
                window: None,
            },
            out_rx,
            cmd_tx,
            ses_rx,
        )
    }
}

/// The sim's channel ends, as a resource.
#[derive(Resource)]
pub struct Io(pub SimIo);

impl Io {
    /// Ask the transport to drop or restore a device's session. The receiver lives as
    /// long as the run; once it is gone nobody is left to act on it, so a failed send is
    /// ignored.
    pub(crate) fn session(&self, command: SessionCommand) {
        let _ = self.0.sessions.send(command);
    }
}
