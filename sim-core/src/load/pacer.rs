//! Pacing connection attempts over a run, so reconnecting sessions reach a broker as a
//! ramp.

use std::time::Duration;

/// Spaces the connection attempts of a run: at most `per_s` a second, whichever
/// sessions ask, so thousands of sessions coming back to a restarted broker arrive as
/// a ramp, not a stampede. Each waiting session holds one slot, so the queue is never
/// longer than the sessions over the rate.
///
/// Spacing the starts is not enough on its own: a broker that stalls for a moment leaves
/// the attempts started meanwhile in its listen backlog, and accepts them all at once
/// when it resumes. So a slot also holds one of a few in-flight permits until its attempt
/// ends (CONNACK, refusal or timeout): while the broker stalls, no more attempts start.
/// The permits are 5 % of the rate and the starts the other 95 %, so in any one second
/// the broker accepts at most `per_s`: that second's starts plus the attempts already
/// in flight.
pub(crate) struct Pacer {
    /// Time between two starts.
    gap: Duration,
    /// The next free start slot.
    next: std::sync::Mutex<tokio::time::Instant>,
    /// Attempts started and not yet ended.
    in_flight: tokio::sync::Semaphore,
}

impl Pacer {
    /// At most `per_s` attempts a second, counted where the broker sees them.
    pub fn new(per_s: f64) -> Pacer {
        let per_s = per_s.max(0.001);
        let permits = ((per_s * 0.05).floor() as usize).max(1);
        let starts = (per_s - permits as f64).max(per_s * 0.5);
        Pacer {
            gap: Duration::from_secs_f64(1.0 / starts),
            next: std::sync::Mutex::new(tokio::time::Instant::now()),
            in_flight: tokio::sync::Semaphore::new(permits),
        }
    }

    /// Wait for this caller's slot; hold what it returns until the attempt has ended.
    pub async fn wait(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let permit = self.in_flight.acquire().await.ok();
        let slot = match self.next.lock() {
            Ok(mut next) => {
                let slot = (*next).max(tokio::time::Instant::now());
                *next = slot + self.gap;
                slot
            }
            Err(_) => return permit,
        };
        tokio::time::sleep_until(slot).await;
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::Pacer;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_and_stop_while_attempts_hang() {
        // 100 a second: 5 in flight at most, starts 1/95 s apart.
        let p = std::sync::Arc::new(Pacer::new(100.0));
        let t0 = tokio::time::Instant::now();
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(p.wait().await);
        }
        let spread = t0.elapsed();
        assert!(
            spread >= Duration::from_secs_f64(4.0 / 95.0) && spread < Duration::from_millis(50),
            "{spread:?}"
        );
        // All five attempts hang (a stalled broker): a sixth does not start…
        let p2 = p.clone();
        let sixth = tokio::spawn(async move { p2.wait().await.is_some() });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!sixth.is_finished());
        // …until one of them ends.
        held.pop();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), sixth)
                .await
                .is_ok()
        );
    }
}
