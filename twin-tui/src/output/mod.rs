//! What the commands write besides the JSON report: the run's progress bar
//! (`progress`), the load lines on stderr (`lines`), the CSV and HdrHistogram interval
//! logs (`series`), the load summaries on stdout (`summary`), which `twin report
//! merge` prints too, and a scenario's parts in its own words for `twin check`
//! (`scenario_words`).

pub mod lines;
pub mod progress;
pub mod scenario_words;
pub mod series;
pub mod summary;
