//! Timestamps as kube-state-metrics writes them: whole seconds, and Go's zero time.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::exposition::Series;

/// Seconds since the epoch, truncated to whole seconds like Go's `t.Unix()`.
pub fn timestamp(t: &Time) -> f64 {
    t.0.as_second() as f64
}

// ===== Go's zero time =====
//
// Go has no absent `time.Time`: an unset `metav1.Time` is the zero time, `0001-01-01T00:00:00Z`.
// KSM meets it in two ways, and the helpers below keep them deliberately separate rules:
// - a generator that guards with `t.IsZero()` (pointer or value field) emits nothing for it:
//   [`is_go_zero`], and the sample shape built on it, [`nonzero_timestamp_sample`];
// - a generator that calls `t.Unix()` on a non-pointer field without a guard emits the zero
//   time's Unix seconds, a large negative number: [`unix_or_go_zero`].

/// `time.Time{}.Unix()`: the Unix seconds of Go's zero time, `0001-01-01T00:00:00Z`.
const GO_ZERO_TIME_UNIX: f64 = -62_135_596_800.0;

/// `metav1.Time.IsZero()` for a timestamp that is present: true for `0001-01-01T00:00:00Z`.
pub fn is_go_zero(t: &Time) -> bool {
    timestamp(t) == GO_ZERO_TIME_UNIX
}

/// The guarded timestamp shape of `createPodCreatedFamilyGenerator`,
/// `createNodeCreatedFamilyGenerator` and the deletion-timestamp generators
/// (`if !t.IsZero() { … float64(t.Unix()) }`): one sample with `t`'s Unix seconds, nothing when
/// `t` is unset or Go's zero time.
pub fn nonzero_timestamp_sample(out: &mut Series<'_>, t: Option<&Time>) {
    if let Some(t) = t.filter(|t| !is_go_zero(t)) {
        out.value(timestamp(t));
    }
}

/// `metav1.Time.Unix()` on a non-pointer field, as KSM reads e.g. `StartedAt` of a container
/// state: the timestamp, or Go's zero time (`-62135596800`) when the field is unset.
///
/// NOTE: not the [`is_go_zero`] rule: an unset field still yields a sample here, because KSM
/// emits one without checking `IsZero()`.
pub fn unix_or_go_zero(t: Option<&Time>) -> f64 {
    t.map_or(GO_ZERO_TIME_UNIX, timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;
    use crate::resources::common::testing::render;

    #[test]
    fn go_zero_time_is_skipped_by_the_is_zero_rule_and_reported_by_the_unix_rule() {
        let zero: Time = serde_json::from_str("\"0001-01-01T00:00:00Z\"").unwrap();
        let set: Time = serde_json::from_str("\"2017-08-03T16:16:58Z\"").unwrap();
        assert!(is_go_zero(&zero));
        assert!(!is_go_zero(&set));
        assert_eq!(unix_or_go_zero(None), -62_135_596_800.0);
        assert_eq!(unix_or_go_zero(Some(&zero)), -62_135_596_800.0);
        assert_eq!(unix_or_go_zero(Some(&set)), 1_501_777_018.0);
    }

    #[test]
    fn nonzero_timestamp_sample_skips_unset_and_go_zero_times() {
        let zero: Time = serde_json::from_str("\"0001-01-01T00:00:00Z\"").unwrap();
        let set: Time = serde_json::from_str("\"2017-08-03T16:16:58Z\"").unwrap();
        let ctx = RenderContext::default();
        assert_eq!(render(&ctx, |out| nonzero_timestamp_sample(out, None)), "");
        assert_eq!(
            render(&ctx, |out| nonzero_timestamp_sample(out, Some(&zero))),
            ""
        );
        assert_eq!(
            render(&ctx, |out| nonzero_timestamp_sample(out, Some(&set))),
            "m{obj=\"o\"} 1.501777018e+09\n"
        );
    }
}
