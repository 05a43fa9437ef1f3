use std::sync::atomic::{AtomicU64, Ordering};

use domain::LimitKind;

/// Refusals by limit, counted in one place so that a metrics endpoint can expose them later
/// (`yanzheng_refusals_total{limit="mobile_cooldown"}` …). Per process: each replica counts
/// what it refused.
#[derive(Debug, Default)]
pub struct RefusalCounters {
    counts: [AtomicU64; LimitKind::ALL.len()],
}

impl RefusalCounters {
    pub fn record(&self, limit: LimitKind) {
        self.counts[Self::index(limit)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, limit: LimitKind) -> u64 {
        self.counts[Self::index(limit)].load(Ordering::Relaxed)
    }

    /// `(label, count)` for every limit, in a fixed order.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        LimitKind::ALL
            .iter()
            .map(|k| (k.as_str(), self.get(*k)))
            .collect()
    }

    fn index(limit: LimitKind) -> usize {
        // Fieldless enum: the discriminant is the position in `LimitKind::ALL`.
        limit as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_limit_apart() {
        let c = RefusalCounters::default();
        c.record(LimitKind::MobileCooldown);
        c.record(LimitKind::MobileCooldown);
        c.record(LimitKind::GlobalHourly);
        assert_eq!(c.get(LimitKind::MobileCooldown), 2);
        assert_eq!(c.get(LimitKind::GlobalHourly), 1);
        assert_eq!(c.get(LimitKind::IpHourly), 0);
        assert_eq!(c.snapshot().len(), LimitKind::ALL.len());
        for (i, k) in LimitKind::ALL.iter().enumerate() {
            assert_eq!(
                RefusalCounters::index(*k),
                i,
                "ALL must list kinds in declaration order"
            );
        }
    }
}
