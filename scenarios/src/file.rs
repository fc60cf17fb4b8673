//! Reading a scenario file, with a cap on its size: the largest fleet fits in a few lines
//! (`count`), so a file of megabytes is a mistake (`twin check /dev/zero`, a log given by
//! accident) and is refused after reading one byte past the cap, not read to its end.

use crate::error::ScenarioError;
use std::io::Read;
use std::path::Path;

/// The largest scenario file read: 4 MiB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The text of the file at `path`, if it is UTF-8 and at most [`MAX_FILE_BYTES`] long.
pub(crate) fn read(path: &Path) -> Result<String, ScenarioError> {
    let shown = || path.display().to_string();
    let read_error = |source| ScenarioError::Read {
        path: shown(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ScenarioError::TooLarge {
            path: shown(),
            limit_mib: MAX_FILE_BYTES / (1024 * 1024),
        });
    }
    String::from_utf8(bytes)
        .map_err(|e| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}
