//! `[broker]`: the URL is checked here and kept as written (the command line may override it).

use super::check::{Ctx, Res};
use crate::broker_url::BrokerUrl;
use crate::raw::BrokerTable;

/// The `[broker] url`, if the file names one. An error quotes the line with the URL's
/// password shown as `***`.
pub(super) fn url(cx: &Ctx, table: Option<&BrokerTable>) -> Res<Option<String>> {
    let Some(b) = table else { return Ok(None) };
    let url = b.url.get_ref();
    BrokerUrl::parse(url).map_err(|e| {
        let mut l = cx.at(b.url.span(), e.to_string());
        l.source_line = l.source_line.replace(url, &BrokerUrl::redact(url));
        l
    })?;
    Ok(Some(url.clone()))
}
