//! One region's admitted values: a bounded set of fingerprints that empties itself at each new
//! period without anyone clearing memory, shared by all workers without locks.
//!
//! Words: one header `(epoch: u32, admitted count: u32)`, then `capacity` slots (a power of two,
//! at least twice the budget). A slot is `0` (never used) or `epoch tag (20 bits) | fingerprint
//! (44 bits, never 0)`. Relative to the current epoch `e`, a slot is *current* (tag `e`),
//! *older* (tag `e − d` for `0 < d < 2^19`, modulo 2^20), *newer* (any other tag) or *empty*.
//! *Free* means empty or older: an older slot is as good as empty, which is how a new period
//! starts with an empty set.
//!
//! - Lookup probes linearly from the fingerprint's home slot: current slot with the same
//!   fingerprint → found; free slot → not found; otherwise the next slot; at most `capacity`
//!   slots.
//! - Admission first reserves budget with a compare-and-swap on the header (so the count can
//!   never pass the budget, however many workers race), then inserts with a compare-and-swap
//!   into the first free slot on the probe path. A swap lost to the same fingerprint means
//!   another worker admitted the value meanwhile: found, and the reservation is given back.
//!
//! Why lookup never misses a value admitted in the current epoch `E` (once its insert is visible):
//! 1. A current slot is never overwritten during `E`. Writers of tag `E` only write free slots,
//!    and a current slot is not free to them. A worker still inserting with an earlier tag
//!    `E − d` (it reserved just before the period turned) only writes slots older than `E − d`,
//!    and `E` is newer than that. Only writers of a later epoch can overwrite it, and by then
//!    `E` is over. (Tags wrap after 2^20 epochs; a slot left untouched for 2^19 epochs or more
//!    reads as newer, and for exactly 2^20 as current: see docs/cardinality.md for why that is
//!    harmless.)
//! 2. A value `v` admitted in `E` was written into the first slot of its probe path that was
//!    free at that moment: every slot before it was then current or newer. By (1) current slots
//!    stay current; a newer slot only changes to a still newer one; so during `E` none of them
//!    ever becomes free again.
//! 3. So a lookup from `v`'s home slot passes only non-free slots until it reaches `v`, and
//!    never stops early. The probe is bounded by `capacity`, and since at most `budget ≤
//!    capacity / 2` slots are current, a lookup usually ends within a slot or two.
//!
//! A worker can momentarily read an older value of a slot than another worker has written
//! (nothing orders the two); then it takes the admission path, where every slot is checked by a
//! compare-and-swap against its latest value, finds the value there, and gives the reservation
//! back. The only visible effect: if the budget is full at that moment, that one hit reports
//! Overflow.

use std::sync::atomic::{AtomicU64, Ordering};

use super::fingerprint::Fingerprint;

const EPOCH_TAG_BITS: u32 = 20;
const FINGERPRINT_BITS: u32 = 64 - EPOCH_TAG_BITS;
const EPOCH_TAG_MASK: u32 = (1 << EPOCH_TAG_BITS) - 1;
const FINGERPRINT_MASK: u64 = (1 << FINGERPRINT_BITS) - 1;
/// Compare-and-swap retries on one word before giving up (and answering Overflow): each failure
/// means another worker changed that word, so this is only reached under extreme contention, and
/// a handler must never loop without bound.
const MAX_SWAP_ATTEMPTS: usize = 64;

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    Found,
    Missing,
}

/// How an insertion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Insertion {
    Admitted,
    /// The budget of the epoch is spent (or the header was too contended to reserve).
    Full,
}

pub(crate) struct AdmittedSet<'a> {
    header: &'a AtomicU64,
    /// A power of two in length.
    slots: &'a [AtomicU64],
    budget: u32,
}

impl<'a> AdmittedSet<'a> {
    /// `words` is the region: header then slots. `None` when the slots are not a power of two
    /// (never for a region of a [`super::BudgetLayout`]).
    pub fn new(words: &'a [AtomicU64], budget: u32) -> Option<AdmittedSet<'a>> {
        let (header, slots) = words.split_first()?;
        slots.len().is_power_of_two().then_some(AdmittedSet {
            header,
            slots,
            budget,
        })
    }

    /// Whether `fingerprint` was admitted in the epoch of `now_epoch`.
    pub fn lookup(&self, fingerprint: Fingerprint, now_epoch: u64) -> Lookup {
        let (header_epoch, _) = unpack_header(self.header.load(Ordering::Acquire));
        let epoch = effective_epoch(header_epoch, now_epoch);
        let wanted = slot_value(epoch, fingerprint);
        for slot in self.probe_path(fingerprint) {
            let seen = slot.load(Ordering::Acquire);
            if seen == wanted {
                return Lookup::Found;
            }
            if is_free(seen, epoch) {
                return Lookup::Missing;
            }
        }
        Lookup::Missing
    }

    /// Whether the budget of the current epoch is spent: then there is no point in asking the
    /// doorkeeper.
    pub fn is_full(&self, now_epoch: u64) -> bool {
        let (header_epoch, count) = unpack_header(self.header.load(Ordering::Acquire));
        header_epoch == effective_epoch(header_epoch, now_epoch) && count >= self.budget
    }

    /// Admits `fingerprint` if the budget allows: reserve, then insert.
    pub fn insert(&self, fingerprint: Fingerprint, now_epoch: u64) -> Insertion {
        let Some(epoch) = self.reserve(now_epoch) else {
            return Insertion::Full;
        };
        let wanted = slot_value(epoch, fingerprint);
        for slot in self.probe_path(fingerprint) {
            let mut seen = slot.load(Ordering::Acquire);
            let mut attempts = 0;
            while is_free(seen, epoch) {
                // Never skip a free slot (lookups stop there): give up instead, which only
                // happens if this one slot keeps changing under extreme contention.
                attempts += 1;
                if attempts > MAX_SWAP_ATTEMPTS {
                    self.release(epoch);
                    return Insertion::Full;
                }
                match slot.compare_exchange(seen, wanted, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return Insertion::Admitted,
                    Err(now_there) => seen = now_there,
                }
            }
            if seen == wanted {
                // Another worker admitted it first: our reservation was not needed.
                self.release(epoch);
                return Insertion::Admitted;
            }
        }
        // No free slot on the whole path: cannot happen while at most half the slots are
        // current, but if it did, the value is simply not admitted.
        self.release(epoch);
        Insertion::Full
    }

    /// How many values were admitted in the epoch of `now_epoch`.
    pub fn admitted(&self, now_epoch: u64) -> u32 {
        let (header_epoch, count) = unpack_header(self.header.load(Ordering::Acquire));
        if header_epoch == effective_epoch(header_epoch, now_epoch) {
            count
        } else {
            0
        }
    }

    /// Takes one unit of the epoch's budget; returns the epoch it was taken in. A header of an
    /// earlier epoch counts as zero: the first reservation of a period resets it.
    fn reserve(&self, now_epoch: u64) -> Option<u32> {
        let mut header = self.header.load(Ordering::Acquire);
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let (header_epoch, count) = unpack_header(header);
            let epoch = effective_epoch(header_epoch, now_epoch);
            let count = if header_epoch == epoch { count } else { 0 };
            if count >= self.budget {
                return None;
            }
            // count < budget ≤ 2^24: no overflow.
            let reserved = pack_header(epoch, count + 1);
            match self
                .header
                .compare_exchange(header, reserved, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(epoch),
                Err(now_there) => header = now_there,
            }
        }
        None
    }

    /// Gives back a reservation that was not used, if its epoch is still the header's.
    fn release(&self, epoch: u32) {
        let mut header = self.header.load(Ordering::Acquire);
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let (header_epoch, count) = unpack_header(header);
            if header_epoch != epoch || count == 0 {
                return;
            }
            let released = pack_header(epoch, count - 1);
            match self
                .header
                .compare_exchange(header, released, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now_there) => header = now_there,
            }
        }
    }

    /// The slots from the fingerprint's home slot on, wrapping around, each once.
    fn probe_path(&self, fingerprint: Fingerprint) -> impl Iterator<Item = &'a AtomicU64> {
        let slots = self.slots;
        let mask = slots.len().wrapping_sub(1);
        let home = fingerprint.position as usize & mask;
        (0..slots.len()).filter_map(move |step| slots.get(home.wrapping_add(step) & mask))
    }
}

/// The epoch this worker should act in. Workers read the clock at slightly different moments;
/// when the header is exactly one epoch ahead of this worker's clock, another worker has already
/// turned the period, and acting in the old one would reset the header back and forth. Any other
/// difference (an older header, or a clock set back further) follows the clock.
fn effective_epoch(header_epoch: u32, now_epoch: u64) -> u32 {
    // The header holds the low 32 bits of the epoch; comparisons wrap accordingly.
    let now = now_epoch as u32;
    if header_epoch.wrapping_sub(now) == 1 {
        header_epoch
    } else {
        now
    }
}

fn slot_value(epoch: u32, fingerprint: Fingerprint) -> u64 {
    let tag = u64::from(epoch & EPOCH_TAG_MASK);
    let print = (fingerprint.check & FINGERPRINT_MASK).max(1);
    (tag << FINGERPRINT_BITS) | print
}

fn is_free(slot: u64, epoch: u32) -> bool {
    if slot == 0 {
        return true;
    }
    let tag = (slot >> FINGERPRINT_BITS) as u32;
    let age = (epoch & EPOCH_TAG_MASK).wrapping_sub(tag) & EPOCH_TAG_MASK;
    age != 0 && age < 1 << (EPOCH_TAG_BITS - 1)
}

fn unpack_header(header: u64) -> (u32, u32) {
    ((header >> 32) as u32, header as u32)
}

fn pack_header(epoch: u32, count: u32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize) -> Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    fn fp(check: u64, position: u64) -> Fingerprint {
        Fingerprint { check, position }
    }

    #[test]
    fn slots_of_older_epochs_are_free_and_newer_ones_are_not() {
        let e = 3 << 20;
        let slot = |epoch| slot_value(epoch, fp(5, 0));
        assert!(is_free(0, e));
        assert!(!is_free(slot(e), e));
        assert!(is_free(slot(e - 1), e));
        assert!(is_free(slot(e - (1 << 19) + 1), e));
        assert!(!is_free(slot(e + 1), e));
        assert!(!is_free(slot(e + (1 << 20)), e), "tags wrap after 2^20 epochs");
        // Across the wrap of the tag.
        assert!(is_free(slot((1 << 20) - 1), 1 << 20));
        assert!(!is_free(slot(1 << 20), (1 << 20) - 1));
    }

    #[test]
    fn the_header_follows_the_clock_except_one_epoch_ahead() {
        assert_eq!(effective_epoch(5, 5), 5);
        assert_eq!(effective_epoch(4, 5), 5);
        assert_eq!(effective_epoch(6, 5), 6);
        assert_eq!(effective_epoch(9, 5), 5);
        assert_eq!(effective_epoch(0, u64::from(u32::MAX)), 0);
        assert_eq!(effective_epoch(3, (1 << 32) + 3), 3);
    }

    #[test]
    fn a_fingerprint_of_zero_still_marks_its_slot_used() {
        assert_ne!(slot_value(0, fp(0, 0)), 0);
        assert_ne!(slot_value(0, fp(1 << 44, 0)), 0);
    }

    #[test]
    fn admits_up_to_the_budget_and_finds_them_again() {
        let words = words(1 + 8);
        let set = AdmittedSet::new(&words, 3).unwrap();
        for v in 1..=3 {
            assert_eq!(set.lookup(fp(v, v), 7), Lookup::Missing);
            assert_eq!(set.insert(fp(v, v), 7), Insertion::Admitted);
        }
        assert!(set.is_full(7));
        assert_eq!(set.insert(fp(4, 4), 7), Insertion::Full);
        for v in 1..=3 {
            assert_eq!(set.lookup(fp(v, v), 7), Lookup::Found);
        }
        assert_eq!(set.lookup(fp(4, 4), 7), Lookup::Missing);
        assert_eq!(set.admitted(7), 3);
        // Inserting a value that is already there costs no budget.
        let words = self::words(1 + 8);
        let set = AdmittedSet::new(&words, 3).unwrap();
        assert_eq!(set.insert(fp(1, 1), 7), Insertion::Admitted);
        assert_eq!(set.insert(fp(1, 1), 7), Insertion::Admitted);
        assert_eq!(set.admitted(7), 1);
    }

    #[test]
    fn a_new_epoch_starts_empty_and_reuses_the_old_slots() {
        let words = words(1 + 4);
        let set = AdmittedSet::new(&words, 2).unwrap();
        assert_eq!(set.insert(fp(1, 0), 7), Insertion::Admitted);
        assert_eq!(set.insert(fp(2, 0), 7), Insertion::Admitted);
        assert!(set.is_full(7));
        assert!(!set.is_full(8));
        assert_eq!(set.lookup(fp(1, 0), 8), Lookup::Missing);
        assert_eq!(set.insert(fp(3, 0), 8), Insertion::Admitted);
        assert_eq!(set.insert(fp(1, 0), 8), Insertion::Admitted);
        assert_eq!(set.insert(fp(2, 0), 8), Insertion::Full);
        assert_eq!(set.admitted(8), 2);
        // Every slot still holds a fingerprint: the old ones were overwritten, not cleared.
        assert!(
            words
                .iter()
                .skip(1)
                .filter(|w| w.load(Ordering::Relaxed) != 0)
                .count()
                >= 2
        );
    }

    #[test]
    fn lookups_pass_over_current_slots_and_stop_at_stale_ones() {
        // Home slot 0 for all: epoch 7 fills slots 0, 1; epoch 8 overwrites slot 0 with c, then
        // d goes to slot 1 (older, free). A lookup of d walks 0 → 1 and finds it; a lookup of a
        // (epoch 7) in epoch 8 stops at slot 2 or earlier without seeing a.
        let words = words(1 + 4);
        let set = AdmittedSet::new(&words, 2).unwrap();
        set.insert(fp(0xa, 0), 7);
        set.insert(fp(0xb, 0), 7);
        assert_eq!(set.insert(fp(0xc, 0), 8), Insertion::Admitted);
        assert_eq!(set.insert(fp(0xd, 0), 8), Insertion::Admitted);
        assert_eq!(set.lookup(fp(0xc, 0), 8), Lookup::Found);
        assert_eq!(set.lookup(fp(0xd, 0), 8), Lookup::Found);
        assert_eq!(set.lookup(fp(0xa, 0), 8), Lookup::Missing);
        assert_eq!(set.lookup(fp(0xb, 0), 8), Lookup::Missing);
        // A stale slot on the path of a later value: slot 2 holds an epoch-7 entry, slot 1 a
        // current one; e, homed at 1, must land in 2 and be found from 1.
        let words = self::words(1 + 4);
        let set = AdmittedSet::new(&words, 2).unwrap();
        set.insert(fp(0xa, 2), 7);
        assert_eq!(set.insert(fp(0xb, 1), 8), Insertion::Admitted);
        assert_eq!(set.insert(fp(0xe, 1), 8), Insertion::Admitted);
        assert_eq!(words[3].load(Ordering::Relaxed), slot_value(8, fp(0xe, 1)));
        assert_eq!(set.lookup(fp(0xe, 1), 8), Lookup::Found);
    }

    #[test]
    fn a_straggler_one_epoch_behind_acts_in_the_new_epoch() {
        let words = words(1 + 4);
        let set = AdmittedSet::new(&words, 1).unwrap();
        assert_eq!(set.insert(fp(1, 0), 8), Insertion::Admitted);
        // A worker whose clock still says epoch 7 neither resets the count nor writes into 8.
        assert_eq!(set.insert(fp(2, 0), 7), Insertion::Full);
        assert_eq!(set.lookup(fp(1, 0), 7), Lookup::Found);
        assert_eq!(set.admitted(8), 1);
    }

    #[test]
    fn a_short_or_odd_region_is_refused() {
        assert!(AdmittedSet::new(&[], 1).is_none());
        assert!(AdmittedSet::new(&words(1 + 3), 1).is_none());
    }
}
