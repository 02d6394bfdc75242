//! Keyed fingerprints of tag values.
//!
//! The tables store fingerprints, never values. The hash is keyed with a secret that lives in the
//! shared memory (so every worker computes the same fingerprints, across reloads): a client who
//! does not know the key cannot craft a junk value whose fingerprint equals an admitted one and
//! so ride on its admission.

use std::collections::hash_map::RandomState;
use std::fmt;
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

    /// Feeds the `Debug` form of `value`, ended by a byte that UTF-8 text never holds. Used for
    /// closed-set fields, so that the series fingerprint does not depend on their exact types.
    pub fn debug_form(&mut self, value: &dyn fmt::Debug) -> &mut Self {
        // Writing into a hasher cannot fail; an error would only mean a shorter input, which
        // still yields a fingerprint.
        let _ = fmt::write(&mut HasherWriter(&mut self.0), format_args!("{value:?}"));
        self.0.write_u8(0xff);
        self
    }

    pub fn finish(&self) -> Fingerprint {
        let hash = self.0.finish128();
        Fingerprint {
            check: hash.h1,
            position: hash.h2,
        }
    }
}

struct HasherWriter<'a>(&'a mut SipHasher13);

impl fmt::Write for HasherWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
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
        some.debug_form(&Some("x")).debug_form(&None::<&str>);
        let mut other = FingerprintBuilder::new([1, 2], 0);
        other.debug_form(&None::<&str>).debug_form(&Some("x"));
        assert_ne!(some.finish(), other.finish());
    }
}
