//! [`ExpiringMap`]: a hash map whose entries expire, swept a little on every operation.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Most expired entries removed from one map by one operation.
const SWEEP_BUDGET: usize = 16;

struct Slot<V> {
    value: V,
    expires_at: u64,
    seq: u64,
}

/// A hash map whose entries carry an expiry time, with an index by expiry for sweeping.
/// Invariant: every entry has exactly one index entry `(expires_at, seq) → key`.
pub(crate) struct ExpiringMap<K, V> {
    entries: HashMap<K, Slot<V>>,
    by_expiry: BTreeMap<(u64, u64), K>,
    next_seq: u64,
}

impl<K, V> Default for ExpiringMap<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K: Eq + Hash + Clone, V> ExpiringMap<K, V> {
    /// Remove up to [`SWEEP_BUDGET`] entries whose expiry is at or before `now`.
    pub(crate) fn sweep(&mut self, now: u64) {
        for _ in 0..SWEEP_BUDGET {
            match self.by_expiry.first_entry() {
                Some(first) if first.key().0 <= now => {
                    let key = first.remove();
                    self.entries.remove(&key);
                }
                _ => break,
            }
        }
    }

    /// Insert or replace `key`, live until `expires_at` (exclusive).
    pub(crate) fn insert(&mut self, key: K, value: V, expires_at: u64) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let slot = Slot {
            value,
            expires_at,
            seq,
        };
        if let Some(old) = self.entries.insert(key.clone(), slot) {
            self.by_expiry.remove(&(old.expires_at, old.seq));
        }
        self.by_expiry.insert((expires_at, seq), key);
    }

    /// The live value under `key` (an expired entry counts as absent).
    pub(crate) fn get<Q>(&self, key: &Q, now: u64) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get(key)
            .filter(|s| s.expires_at > now)
            .map(|s| &s.value)
    }

    pub(crate) fn get_mut<Q>(&mut self, key: &Q, now: u64) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get_mut(key)
            .filter(|s| s.expires_at > now)
            .map(|s| &mut s.value)
    }

    /// Make the live entry under `key` live at least until `until` (an absent or expired one
    /// stays so).
    pub(crate) fn extend_to<Q>(&mut self, key: &Q, until: u64, now: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(slot) = self.entries.get_mut(key).filter(|s| s.expires_at > now) else {
            return;
        };
        if slot.expires_at >= until {
            return;
        }
        if let Some(k) = self.by_expiry.remove(&(slot.expires_at, slot.seq)) {
            self.by_expiry.insert((until, slot.seq), k);
        }
        slot.expires_at = until;
    }

    /// Remove `key` whether live or expired; returns the live value only.
    pub(crate) fn remove<Q>(&mut self, key: &Q, now: u64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key, now).map(|(value, _)| value)
    }

    /// Remove `key` whether live or expired; returns the live value and when it would have
    /// expired.
    pub(crate) fn remove_entry<Q>(&mut self, key: &Q, now: u64) -> Option<(V, u64)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.entries.remove(key)?;
        self.by_expiry.remove(&(slot.expires_at, slot.seq));
        (slot.expires_at > now).then_some((slot.value, slot.expires_at))
    }

    /// The value under `key` whether live or expired (for changes that are harmless either way).
    pub(crate) fn peek_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).map(|s| &mut s.value)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        debug_assert_eq!(self.entries.len(), self.by_expiry.len());
        self.entries.len()
    }
}
