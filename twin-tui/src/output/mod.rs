//! What the commands write besides the JSON report: the run's progress bar
//! (`progress`), the load lines on stderr (`lines`), the CSV and HdrHistogram interval
//! logs (`series`), and the load summaries on stdout (`summary`), which `twin report
//! merge` prints too.

pub mod lines;
pub mod progress;
pub mod series;
pub mod summary;
