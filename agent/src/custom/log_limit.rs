//! Rate-limited logging of sample errors: at most one log line per object and metric per
//! [`LOG_INTERVAL`], so a config that misreads a field of every object does not flood the log
//! while the counter (`ksa_custom_resource_sample_errors_total`) still counts every one.
//!
//! Pure: the caller passes the time. See [`LogLimiter::should_log`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The least time between two log lines for one object and metric.
pub const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// When each (object UID, metric) last logged.
///
/// # Invariants
/// After a prune no entry is older than [`LOG_INTERVAL`]; prunes run at most once per
/// interval, so the map holds at most the pairs that erred within about two intervals.
#[derive(Debug, Default)]
pub struct LogLimiter {
    last: HashMap<(Arc<str>, Arc<str>), Instant>,
    last_prune: Option<Instant>,
}

impl LogLimiter {
    /// Whether an error of `metric` for the object `uid` at `now` should be logged: yes unless
    /// one was logged for the pair less than [`LOG_INTERVAL`] before. Records the log.
    pub fn should_log(&mut self, uid: &str, metric: &str, now: Instant) -> bool {
        self.prune(now);
        let key: (Arc<str>, Arc<str>) = (uid.into(), metric.into());
        match self.last.get(&key) {
            Some(&at) if now.saturating_duration_since(at) < LOG_INTERVAL => false,
            _ => {
                self.last.insert(key, now);
                true
            }
        }
    }

    /// Forgets the pairs whose last log is an interval old, once per interval.
    fn prune(&mut self, now: Instant) {
        if self
            .last_prune
            .is_some_and(|at| now.saturating_duration_since(at) < LOG_INTERVAL)
        {
            return;
        }
        self.last_prune = Some(now);
        self.last
            .retain(|_, at| now.saturating_duration_since(*at) < LOG_INTERVAL);
    }

    /// How many pairs are remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether no pair is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_object_and_metric_per_interval() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut limiter = LogLimiter::default();
        assert!(limiter.should_log("u1", "size", at(0)));
        assert!(
            !limiter.should_log("u1", "size", at(1)),
            "within the interval"
        );
        assert!(limiter.should_log("u1", "phase", at(1)), "another metric");
        assert!(limiter.should_log("u2", "size", at(1)), "another object");
        assert!(!limiter.should_log("u1", "size", at(59)));
        assert!(
            limiter.should_log("u1", "size", at(60)),
            "an interval later"
        );
    }

    #[test]
    fn pairs_that_stopped_erring_are_forgotten() {
        let start = Instant::now();
        let mut limiter = LogLimiter::default();
        for i in 0..100 {
            assert!(limiter.should_log(&format!("u{i}"), "size", start));
        }
        assert_eq!(limiter.len(), 100);
        assert!(limiter.should_log("other", "size", start + Duration::from_secs(61)));
        assert_eq!(limiter.len(), 1, "only the pair logged within the interval");
    }
}
