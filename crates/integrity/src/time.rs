//! RFC 3339 UTC timestamps in the one form records use, `YYYY-MM-DDTHH:MM:SSZ`
//! (whole seconds, upper-case `T` and `Z`, years 1970–9999), without a date library.
//! A single accepted spelling keeps the signed bytes of a time unique.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the epoch to 9999-12-31T23:59:59Z, the last representable instant.
const MAX_SECONDS: u64 = 253_402_300_799;

/// Formats `t` (sub-second part dropped); `None` before 1970 or after 9999.
pub(crate) fn format_rfc3339(t: SystemTime) -> Option<String> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    if secs > MAX_SECONDS {
        return None;
    }
    // Bounded by MAX_SECONDS / 86400, far inside i64.
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` with a real calendar date; `None` otherwise.
#[allow(
    clippy::indexing_slicing,
    reason = "b.len() == 20 checked first; num is only called with ranges inside 0..20"
)]
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> {
        b[from..to].iter().try_fold(0u64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if y < 1970 || !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // y ≤ 9999 (four digits), so these fit easily.
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let secs = days as u64 * 86_400 + h * 3600 + mi * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let t = UNIX_EPOCH + Duration::from_secs(1_763_780_400);
        assert_eq!(format_rfc3339(t).unwrap(), "2025-11-22T03:00:00Z");
        assert_eq!(parse_rfc3339("2025-11-22T03:00:00Z"), Some(t));
        assert_eq!(format_rfc3339(UNIX_EPOCH).unwrap(), "1970-01-01T00:00:00Z");
        let leap = parse_rfc3339("2024-02-29T23:59:59Z").unwrap();
        assert_eq!(format_rfc3339(leap).unwrap(), "2024-02-29T23:59:59Z");
        let last = UNIX_EPOCH + Duration::from_secs(MAX_SECONDS);
        assert_eq!(format_rfc3339(last).unwrap(), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(last + Duration::from_secs(1)), None);
    }

    #[test]
    fn other_spellings_are_refused() {
        for s in [
            "2025-11-22t03:00:00Z",
            "2025-11-22T03:00:00z",
            "2025-11-22T03:00:00+00:00",
            "2025-11-22T03:00:00.5Z",
            "2023-02-29T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2025-13-01T00:00:00Z",
            "2025-11-22T24:00:00Z",
            "2025-11-22T23:60:00Z",
            "+025-11-22T03:00:00Z",
            "",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn format_parse_round_trip(secs in 0..=MAX_SECONDS) {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let text = format_rfc3339(t).unwrap();
            proptest::prop_assert_eq!(parse_rfc3339(&text), Some(t));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = parse_rfc3339(&s);
        }
    }
}
