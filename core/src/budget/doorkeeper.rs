//! The doorkeeper: a lossy memory of values seen once, so that a new value gets its own tag only
//! when it comes back.
//!
//! A direct-mapped array of fingerprints, overwritten on collision and shared by all regions
//! (the fingerprint includes the region). The first sighting of a value writes its fingerprint
//! and the hit is written under the overflow value; a later sighting that still finds it there
//! lets the value in. A flood of one-shot random values never gets past it: it only overwrites
//! entries. Real pages, visited again and again, do.
//!
//! The price: a genuinely new page's first hit is counted under `(other)`, and under a flood the
//! memory shrinks. With `S` slots and `N` junk values per second, an entry survives `t` seconds
//! with probability `exp(-N·t/S)`: on average `S/N` seconds. At the default 2^20 slots that is
//! 17 minutes at 1,000 junk beacons/s, 105 s at 10,000/s, 10 s at 100,000/s. A page must be seen
//! twice within that time to get its own tag; until then its hits still count, under `(other)`.
//! Once a region's budget is full its values no longer reach the doorkeeper, so a flood of one
//! tag stops churning it once that tag's budget is spent.

use std::sync::atomic::{AtomicU64, Ordering};

use super::fingerprint::Fingerprint;

pub(crate) struct Doorkeeper<'a> {
    /// A power of two in length (the layout rounds it up).
    slots: &'a [AtomicU64],
}

impl<'a> Doorkeeper<'a> {
    pub fn new(slots: &'a [AtomicU64]) -> Doorkeeper<'a> {
        Doorkeeper { slots }
    }

    /// Whether `fingerprint` was seen before (and not overwritten since); if not, it is
    /// remembered now. Two workers seeing a value for the first time at once both answer no: the
    /// value simply needs one more sighting.
    pub fn seen_before(&self, fingerprint: Fingerprint) -> bool {
        let Some(mask) = self.slots.len().checked_sub(1) else {
            return false;
        };
        // The high half of `position`: the admitted-set tables use the low bits, so a value's
        // place here is unrelated to its place there.
        let index = (fingerprint.position >> 32) as usize & mask;
        // Zero marks an empty slot; `max(1)` keeps a fingerprint of zero from matching it.
        let mark = fingerprint.check.max(1);
        let Some(slot) = self.slots.get(index) else {
            return false;
        };
        // Relaxed: the memory is lossy by design; a stale read only costs one more sighting.
        if slot.load(Ordering::Relaxed) == mark {
            return true;
        }
        slot.store(mark, Ordering::Relaxed);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(check: u64, position: u64) -> Fingerprint {
        Fingerprint { check, position }
    }

    #[test]
    fn a_value_is_seen_on_its_second_sighting_until_overwritten() {
        let slots: Vec<AtomicU64> = (0..8).map(|_| AtomicU64::new(0)).collect();
        let doorkeeper = Doorkeeper::new(&slots);
        let a = fingerprint(10, 3 << 32);
        let b = fingerprint(20, 3 << 32);
        let c = fingerprint(30, 4 << 32);
        assert!(!doorkeeper.seen_before(a));
        assert!(doorkeeper.seen_before(a));
        assert!(doorkeeper.seen_before(a));
        assert!(!doorkeeper.seen_before(c));
        // `b` shares a's slot: it takes it, and `a` starts over.
        assert!(!doorkeeper.seen_before(b));
        assert!(!doorkeeper.seen_before(a));
        assert!(doorkeeper.seen_before(a));
        assert!(doorkeeper.seen_before(c));
    }

    #[test]
    fn an_empty_slot_is_not_a_sighting_of_fingerprint_zero() {
        let slots: Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
        let doorkeeper = Doorkeeper::new(&slots);
        assert!(!doorkeeper.seen_before(fingerprint(0, 0)));
        assert!(doorkeeper.seen_before(fingerprint(0, 0)));
        assert!(!Doorkeeper::new(&[]).seen_before(fingerprint(5, 5)));
    }
}
