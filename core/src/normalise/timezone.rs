//! Time zone: the browser's UTC offset, rounded to the quarter hour.

/// Granularity of the stored offset, in minutes. Every time zone in use is a whole multiple of 15
/// minutes from UTC (India +5:30, Nepal +5:45, Chatham +12:45), so rounding loses nothing real;
/// it only stops a client from writing any of the 1,681 minute values of −840..840 (a covert
/// channel, and cardinality) where 113 suffice.
pub const OFFSET_STEP_MINUTES: i32 = 15;

/// Largest offset from UTC in use, in minutes (UTC−14:00 .. UTC+14:00).
const MAX_OFFSET_MINUTES: i32 = 840;

/// `minutes` (from `Date.getTimezoneOffset()`; the beacon parser accepts −840..840, and anything
/// beyond is clamped to that range here too) rounded to the nearest multiple of
/// [`OFFSET_STEP_MINUTES`].
pub fn quantise_offset(minutes: i32) -> i32 {
    let minutes = minutes.clamp(-MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES);
    (minutes + OFFSET_STEP_MINUTES / 2).div_euclid(OFFSET_STEP_MINUTES) * OFFSET_STEP_MINUTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_the_nearest_quarter_hour() {
        for (raw, quantised) in [
            (0, 0),
            (7, 0),
            (8, 15),
            (-7, 0),
            (-8, -15),
            (-60, -60),
            (-330, -330),
            (-345, -345),
            (-346, -345),
            (-353, -360),
            (840, 840),
            (-840, -840),
            (839, 840),
            (i32::MIN, -840),
            (i32::MAX, 840),
        ] {
            assert_eq!(quantise_offset(raw), quantised, "{raw}");
        }
    }

    #[test]
    fn the_accepted_range_gives_113_values_within_range() {
        let values: std::collections::BTreeSet<i32> = (-840..=840).map(quantise_offset).collect();
        assert_eq!(values.len(), 113);
        assert!(values.iter().all(|v| (-840..=840).contains(v) && v % 15 == 0));
        for minutes in -840..=840 {
            assert!((quantise_offset(minutes) - minutes).abs() <= 7, "{minutes}");
        }
    }
}
