//! `[broker]`: the URL is checked here and kept as written (the command line may override it).

use super::check::{Ctx, Res};
use crate::broker_url::BrokerUrl;
use crate::raw::BrokerTable;

/// The `[broker] url`, if the file names one.
pub(super) fn url(cx: &Ctx, table: Option<&BrokerTable>) -> Res<Option<String>> {
    let Some(b) = table else { return Ok(None) };
    BrokerUrl::parse(b.url.get_ref()).map_err(|e| cx.at(b.url.span(), e.to_string()))?;
    Ok(Some(b.url.get_ref().clone()))
}
