//! Checks of what Knack says: a container's configured fields against the app's metadata before
//! any run (what `aks config check` reports), and whether the app's daily quota runs low.

use std::collections::BTreeSet;

use knack_client::{Container, Formatter};

/// The field keys of `fields` (a modified-date field, location fields) that `container` does not
/// show (`formatter` is its formatter), one sentence each.
pub fn unknown_fields<'a>(
    formatter: &Formatter,
    container: &Container,
    fields: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let keys: BTreeSet<&str> = formatter.fields().iter().map(|f| f.key.as_str()).collect();
    fields
        .into_iter()
        .filter(|field| !keys.contains(field))
        .map(|field| format!("field {field} is not in {container} (check the key in Knack)"))
        .collect()
}

/// Below this share of the app's daily Knack quota a caller should warn: other programs of the
/// app, and tomorrow's first runs, may soon get 429s.
pub const LOW_QUOTA_SHARE: f64 = 0.10;
/// The low-quota threshold, in calls left, when Knack sends no limit.
pub const LOW_QUOTA_CALLS: u64 = 1_000;

/// Whether the quota Knack reported is low: under [`LOW_QUOTA_SHARE`] of its limit, or under
/// [`LOW_QUOTA_CALLS`] when Knack sent no limit.
pub fn quota_is_low(q: &knack_client::Quota) -> bool {
    match q.limit {
        Some(limit) if limit > 0 => (q.remaining as f64) < limit as f64 * LOW_QUOTA_SHARE,
        _ => q.remaining < LOW_QUOTA_CALLS,
    }
}

/// The quota as a person reads it: `Knack quota left 1199 of 5000`, `Knack quota left 1199` (no
/// limit sent), or that Knack reported none (`None`: no answer carried the `X-PlanLimit-*`
/// headers, <https://docs.knack.com/docs/api-limits>).
pub fn quota_left(quota: Option<&knack_client::Quota>) -> String {
    match quota {
        Some(knack_client::Quota {
            remaining,
            limit: Some(limit),
            ..
        }) => format!("Knack quota left {remaining} of {limit}"),
        Some(q) => format!("Knack quota left {}", q.remaining),
        None => "Knack quota left: not reported by Knack".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use knack_client::Quota;

    use super::*;

    #[test]
    fn low_quotas_are_spotted() {
        let q = |remaining, limit| Quota {
            remaining,
            limit,
            resets_at: None,
        };
        assert!(!quota_is_low(&q(1199, Some(5000))));
        assert!(quota_is_low(&q(499, Some(5000))));
        assert!(quota_is_low(&q(999, None)));
        assert!(!quota_is_low(&q(1000, None)));
        assert_eq!(
            quota_left(Some(&q(1199, Some(5000)))),
            "Knack quota left 1199 of 5000"
        );
        assert_eq!(quota_left(Some(&q(7, None))), "Knack quota left 7");
        assert_eq!(quota_left(None), "Knack quota left: not reported by Knack");
    }
}
