//! Keyed fingerprints of tag values.
//!
//! The tables store fingerprints, never values. The hash is keyed with a secret that lives in the
//! shared memory (so every worker computes the same fingerprints, across reloads): a client who
//! does not know the key cannot craft a junk value whose fingerprint equals an admitted one and
//! so ride on its admission.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use siphasher::sip128::{Hasher128, SipHasher13};

/// The secret of the fingerprints: 128 bits.
pub type BudgetKey = [u64; 2];

/// A fresh secret from the operating system's randomness (through std's `RandomState`, whose
/// hasher keys are seeded from it), for the shell to store when it creates the shared table.
pub fn new_key() -> BudgetKey {
    let half = |salt: u64| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(salt);
        hasher.finish()
    };
    [half(0), half(1)]
}

/// 128 bits of keyed hash: `check` is compared, `position` chooses where to look, so that two
/// values that land on the same slot still differ in all of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub check: u64,
    pub position: u64,
}

/// Feeds the keyed hash. Every piece is self-delimiting, so different sequences of pieces never
/// feed the same bytes.
pub(crate) struct FingerprintBuilder(SipHasher13);

impl FingerprintBuilder {
    /// `region` is the table the value belongs to: the same value has unrelated fingerprints in
    /// different tables.
    pub fn new(key: BudgetKey, region: usize) -> FingerprintBuilder {
        let mut hasher = SipHasher13::new_with_keys(key[0], key[1]);
        hasher.write_u64(region as u64);
        FingerprintBuilder(hasher)
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        self.0.write_u64(text.len() as u64);
        self.0.write(text.as_bytes());
        self
    }

    pub fn number(&mut self, number: u64) -> &mut Self {
        self.0.write_u64(number);
        self
    }

    /// Feeds a closed-set tag: absent, or its tag value. Its absence and each of its values feed
    /// different bytes, so two values of one field share a fingerprint only when they are equal.
    pub fn optional_text(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            None => self.number(0),
            Some(text) => self.number(1).text(text),
        }
    }

    /// Feeds an optional signed number, as [`Self::optional_text`] does a word.
    pub fn optional_signed(&mut self, number: Option<i64>) -> &mut Self {
        match number {
            None => self.number(0),
            Some(number) => self.number(1).number(number as u64),
        }
    }

    /// The hasher itself, for tests that feed it as an older version of the code did.
    #[cfg(test)]
    pub fn raw_hasher(&mut self) -> &mut SipHasher13 {
        &mut self.0
    }

    pub fn finish(&self) -> Fingerprint {
        let hash = self.0.finish128();
        Fingerprint {
            check: hash.h1,
            position: hash.h2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh() {
        assert_ne!(new_key(), new_key());
        assert_ne!(new_key()[0], new_key()[1]);
    }

    #[test]
    fn fingerprints_depend_on_key_region_and_every_piece() {
        let fp = |key: BudgetKey, region: usize, pieces: &[&str]| {
            let mut builder = FingerprintBuilder::new(key, region);
            for piece in pieces {
                builder.text(piece);
            }
            builder.finish()
        };
        let a = fp([1, 2], 0, &["/a"]);
        assert_eq!(a, fp([1, 2], 0, &["/a"]));
        assert_ne!(a, fp([1, 3], 0, &["/a"]));
        assert_ne!(a, fp([1, 2], 1, &["/a"]));
        assert_ne!(fp([1, 2], 0, &["ab", "c"]), fp([1, 2], 0, &["a", "bc"]));
        let mut some = FingerprintBuilder::new([1, 2], 0);
        some.optional_text(Some("x")).optional_text(None);
        let mut other = FingerprintBuilder::new([1, 2], 0);
        other.optional_text(None).optional_text(Some("x"));
        assert_ne!(some.finish(), other.finish());
        let mut some = FingerprintBuilder::new([1, 2], 0);
        some.optional_signed(Some(0)).optional_signed(None);
        let mut other = FingerprintBuilder::new([1, 2], 0);
        other.optional_signed(None).optional_signed(Some(0));
        assert_ne!(some.finish(), other.finish());
    }
}
