//! The driver: checks the tables in the order their checks depend on each other and
//! assembles the [`Scenario`]. Where a file has several problems, the first in this order
//! is the one reported.

use super::check::{Ctx, References, Res};
use super::{
    analytics, broker, devices, environments, events, include, models, mqtt, rules, scenario,
    topics, user_models,
};
use crate::raw::RawScenario;
use crate::spec::Scenario;

/// Check `raw` (parsed from `src`, named `file` in messages) and expand it into a fleet.
pub(crate) fn expand(raw: RawScenario, src: &str, file: &str) -> Res<Scenario> {
    let cx = Ctx { src, file };
    let header = scenario::header(&cx, &raw.scenario)?;
    let broker_url = broker::url(&cx, raw.broker.as_ref())?;
    let mqtt = mqtt::spec(&cx, raw.mqtt.as_ref())?;
    let environments = environments::expand(&cx, &raw.environment)?;
    let mut user = Vec::new();
    include::libraries(&cx, &raw.include, &mut user)?;
    user_models::expand(&cx, &raw.models, &mut user)?;
    let user: Vec<_> = user.into_iter().map(std::sync::Arc::new).collect();
    let mut fleet = devices::expand(&cx, &raw.scenario.name, &raw.devices, &environments, &user)?;
    let written = topics::Written {
        scenario: &raw.scenario,
        mqtt: raw.mqtt.as_ref(),
        groups: &raw.devices,
    };
    topics::check(&cx, &written, &mqtt, &header.fleet, &fleet)?;
    let mut references = References::default();
    models::resolve(
        &cx,
        &raw.devices,
        &environments,
        &mut fleet,
        &mut references,
    )?;
    let tick = scenario::tick(&cx, &raw.scenario, &fleet.devices, header.duration)?;
    let events = events::expand(
        &cx,
        &raw.events,
        header.duration,
        tick,
        &fleet,
        &mut references,
    )?;
    let analytics = analytics::spec(&cx, raw.analytics.as_ref())?;
    let rules = rules::expand(&cx, &raw.rules, &fleet, &mut references)?;
    Ok(Scenario {
        analytics,
        rules,
        name: header.name,
        fleet: header.fleet,
        seed: raw.scenario.seed.unwrap_or(0),
        duration: header.duration,
        tick,
        speed: header.speed,
        start_epoch: header.start_epoch,
        broker_url,
        mqtt,
        environments,
        groups: fleet.groups,
        devices: fleet.devices,
        events,
        shard: None,
    })
}
