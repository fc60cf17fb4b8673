//! The fleet as pass 1 (`devices`) leaves it, for pass 2 (`models`), events and rules to
//! look devices up in.

use crate::catalog::ModelKind;
use crate::device::{DeviceSpec, GroupSpec};
use std::collections::HashMap;

/// Groups and devices in file order, with an index by id.
#[derive(Default)]
pub(super) struct Fleet {
    /// One per `[[devices]]` table.
    pub(super) groups: Vec<GroupSpec>,
    /// Every device; until pass 2 each model is a placeholder.
    pub(super) devices: Vec<DeviceSpec>,
    /// Fleet index of each id: references, events and rules look ids up instead of
    /// scanning the fleet.
    pub(super) ids: HashMap<String, usize>,
    /// The `{n}` each device was expanded with, to fill the templates of its references.
    pub(super) ns: Vec<usize>,
}

impl Fleet {
    /// The model of a device, from its group (valid before pass 2 fills the models in).
    pub(super) fn kind(&self, idx: usize) -> &ModelKind {
        &self.groups[self.devices[idx].group].model
    }
}
