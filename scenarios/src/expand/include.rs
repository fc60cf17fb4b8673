//! `include = ["models/pumps.toml"]`: model library files (only `[[models]]` tables),
//! read relative to the scenario's own file, each checked with its own file, line and
//! column in messages.

use super::check::{Ctx, Res};
use super::user_models;
use crate::raw_model::RawLibrary;
use crate::user_model::UserModel;
use std::path::Path;
use toml::Spanned;

/// Most library files one scenario includes.
const MAX_INCLUDES: usize = 64;

/// Read and check every included library into `models`, in the order written.
pub(super) fn libraries(
    cx: &Ctx,
    includes: &[Spanned<String>],
    models: &mut Vec<UserModel>,
) -> Res<()> {
    if let Some(extra) = includes.get(MAX_INCLUDES) {
        return Err(cx.at(
            extra.span(),
            format!("more than {MAX_INCLUDES} files are included; expected fewer"),
        ));
    }
    let base = Path::new(cx.file).parent().unwrap_or(Path::new(""));
    for inc in includes {
        let path = base.join(inc.get_ref());
        let src = crate::file::read(&path).map_err(|e| {
            cx.at(
                inc.span(),
                format!("cannot include \"{}\": {e}", inc.get_ref()),
            )
        })?;
        let file = path.display().to_string();
        let lib: RawLibrary = crate::raw::read(&src, &file)?;
        let lcx = Ctx {
            src: &src,
            file: &file,
        };
        user_models::expand(&lcx, &lib.models, models)?;
    }
    Ok(())
}
