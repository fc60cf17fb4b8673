//! What this process costs: CPU time and resident memory, read from `/proc` (Linux; both
//! are `None` elsewhere).

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every architecture it exposes.
    Some(ticks as f64 / 100.0)
}

/// This process's resident memory, KiB (`VmRSS` in `/proc/self/status`).
pub fn process_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    // "VmRSS:\t  123456 kB"
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read() {
        // Spinning must show up as CPU time (it ticks in 10 ms steps), and not as more
        // than the spin took: a wrong field of /proc/self/stat would show neither.
        let before = process_cpu_seconds().expect("/proc/self/stat");
        let spin = std::time::Instant::now();
        let mut after = before;
        while after <= before && spin.elapsed() < std::time::Duration::from_secs(5) {
            for _ in 0..100_000 {
                std::hint::black_box(spin.elapsed());
            }
            after = process_cpu_seconds().expect("/proc/self/stat");
        }
        assert!(
            after > before,
            "{before} s, still {after} s after 5 s of spinning"
        );
        // All threads of the test binary count; a few busy tests beside this one at most.
        let spun = spin.elapsed().as_secs_f64();
        assert!(
            after - before < 16.0 * spun + 0.1,
            "{} s in {spun} s",
            after - before
        );
    }

    #[test]
    fn rss_is_read() {
        assert!(process_rss_kib().expect("/proc/self/status") > 0);
    }
}
