//! `xs:dateTime` and `xs:date` as EWS writes and reads them, converted to and
//! from [`Instant`] (seconds since the Unix epoch, UTC) and [`Date`].
//!
//! Exchange Online answers every time in UTC with a `Z` and whole seconds
//! (`2026-01-05T08:00:00Z`); requests from this component are written the same
//! way. Reading is more lenient, as the schema allows: fractional seconds
//! (dropped, never rounded up), a numeric offset (`+01:00`), or no offset at
//! all, which is read as UTC (the zone EWS assumes when a request names none;
//! answers always carry one). Recurrence dates (`StartDate`, `EndDate`) come
//! with the series zone's offset (`2026-01-05+01:00`) or `Z`: that suffix names
//! the zone of a calendar date and is ignored, the date itself is the value.
//!
//! The calendar arithmetic is the proleptic Gregorian calendar over days since
//! 1970-01-01 (the "days from civil" conversion by 400-year eras); years 1 to
//! 9999 are accepted, which is the range of [`Date`] and of anything Exchange
//! stores. Nothing here panics on any input; every refusal is a sentence that
//! quotes the value through [`crate::safe_text`].

use crate::booking::{Date, Instant, Weekday};
use crate::safe_text;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The days since 1970-01-01 of a proleptic Gregorian date (negative before).
/// `month` is 1 to 12; `day` is not checked against the month here.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Years begin on 1 March, so that the leap day is the last day of a year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = (i64::from(month) + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // `month` is 1..=12 and `day` 1..=31 by construction.
    (year, month as u32, day as u32)
}

/// True in a Gregorian leap year.
pub fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days of `month` (1 to 12) in `year`; 0 for another month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The days since 1970-01-01 of `date`.
pub fn days_of(date: Date) -> i64 {
    days_from_civil(
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
}

/// The UTC date of an instant (`None` outside years 1 to 9999).
pub fn utc_date(instant: Instant) -> Option<Date> {
    let (year, month, day) = civil_from_days(instant.div_euclid(DAY));
    date_from_parts(year, month, day)
}

/// Midnight UTC at the start of `date`.
pub fn start_of_utc_day(date: Date) -> Instant {
    days_of(date) * DAY
}

/// The day of the week of `date`.
pub fn weekday_of(date: Date) -> Weekday {
    // 1970-01-01 was a Thursday.
    match (days_of(date) + 4).rem_euclid(7) {
        0 => Weekday::Sunday,
        1 => Weekday::Monday,
        2 => Weekday::Tuesday,
        3 => Weekday::Wednesday,
        4 => Weekday::Thursday,
        5 => Weekday::Friday,
        _ => Weekday::Saturday,
    }
}

fn date_from_parts(year: i64, month: u32, day: u32) -> Option<Date> {
    let valid = (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month);
    valid.then_some(Date {
        year: year as u16,
        month: month as u8,
        day: day as u8,
    })
}

/// Formats an instant as EWS writes times: `2026-01-05T08:00:00Z`. Instants
/// outside years 1 to 9999 are clamped to that range.
pub fn format_datetime(instant: Instant) -> String {
    let min = days_from_civil(1, 1, 1) * DAY;
    let max = days_from_civil(10_000, 1, 1) * DAY - 1;
    let instant = instant.clamp(min, max);
    let (year, month, day) = civil_from_days(instant.div_euclid(DAY));
    let second_of_day = instant.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Formats a date as `xs:date` without a zone: `2026-01-05`.
pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

fn refusal(kind: &str, text: &str, example: &str) -> String {
    format!(
        "'{}' is not a valid xs:{kind} (expected e.g. {example})",
        safe_text::clean(text, 60)
    )
}

/// Reads `count` ASCII digits at `at`.
fn digits(bytes: &[u8], at: usize, count: usize) -> Option<i64> {
    let slice = bytes.get(at..at + count)?;
    slice.iter().try_fold(0i64, |value, b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
}

/// Reads `YYYY-MM-DD` at the start of `bytes`.
fn read_date(bytes: &[u8]) -> Option<Date> {
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    date_from_parts(year, month as u32, day as u32)
}

/// Reads a zone suffix: empty, `Z`, or `±hh:mm` (at most 14:00), as seconds
/// east of UTC.
fn read_offset(suffix: &[u8]) -> Option<i64> {
    match suffix {
        [] | [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = digits(suffix, 1, 2)?;
            let minutes = digits(suffix, 4, 2)?;
            if minutes > 59 || hours * 60 + minutes > 14 * 60 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            Some(if *sign == b'-' { -offset } else { offset })
        }
        _ => None,
    }
}

/// Parses an `xs:dateTime` into an instant: `2026-01-05T08:00:00Z`,
/// `2026-01-05T09:00:00.123+01:00` (fraction dropped), or without offset
/// (read as UTC).
pub fn parse_datetime(text: &str) -> Result<Instant, String> {
    let trimmed = text.trim();
    let error = || refusal("dateTime", trimmed, "2026-01-05T08:00:00Z");
    let bytes = trimmed.as_bytes();
    if bytes.len() < 19 || bytes.len() > 40 || bytes[10] != b'T' {
        return Err(error());
    }
    let date = read_date(bytes).ok_or_else(error)?;
    let hour = digits(bytes, 11, 2).ok_or_else(error)?;
    let minute = digits(bytes, 14, 2).ok_or_else(error)?;
    let second = digits(bytes, 17, 2).ok_or_else(error)?;
    if bytes[13] != b':' || bytes[16] != b':' || hour > 23 || minute > 59 || second > 59 {
        return Err(error());
    }
    let mut rest = &bytes[19..];
    if let [b'.', fraction @ ..] = rest {
        let length = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if length == 0 {
            return Err(error());
        }
        rest = &fraction[length..];
    }
    let offset = read_offset(rest).ok_or_else(error)?;
    Ok(start_of_utc_day(date) + hour * 3600 + minute * 60 + second - offset)
}

/// Parses an `xs:date` (`2026-01-05`, `2026-01-05Z`, `2026-01-05+01:00`); the
/// zone suffix is checked and ignored.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let trimmed = text.trim();
    let error = || refusal("date", trimmed, "2026-01-05");
    let bytes = trimmed.as_bytes();
    let date = read_date(bytes).ok_or_else(error)?;
    read_offset(&bytes[10..]).ok_or_else(error)?;
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn the_epoch_and_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2026-01-01T00:00:00Z, the clock of the unit tests.
        assert_eq!(start_of_utc_day(date(2026, 1, 1)), 1_767_225_600);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let first = days_from_civil(1900, 1, 1);
        let last = days_from_civil(2300, 12, 31);
        let mut expected = (1900, 1, 1);
        for days in first..=last {
            let civil = civil_from_days(days);
            assert_eq!(civil, expected, "day {days}");
            assert_eq!(days_from_civil(civil.0, civil.1, civil.2), days);
            expected = if civil.2 < days_in_month(civil.0, civil.1) {
                (civil.0, civil.1, civil.2 + 1)
            } else if civil.1 < 12 {
                (civil.0, civil.1 + 1, 1)
            } else {
                (civil.0 + 1, 1, 1)
            };
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(2028));
        assert!(!is_leap_year(1900) && !is_leap_year(2100) && !is_leap_year(2026));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2026, 13), 0);
    }

    #[test]
    fn datetimes_as_exchange_writes_them() {
        assert_eq!(parse_datetime("2026-01-05T08:00:00Z"), Ok(1_767_600_000));
        assert_eq!(format_datetime(1_767_600_000), "2026-01-05T08:00:00Z");
        assert_eq!(format_datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_datetime(-1), "1969-12-31T23:59:59Z");
        assert_eq!(parse_datetime("1969-12-31T23:59:59Z"), Ok(-1));
        assert_eq!(parse_datetime(" 2024-02-29T23:59:59Z\n"), Ok(1_709_251_199));
        for instant in [
            -62_135_596_800,
            -1,
            0,
            951_782_400,
            1_767_600_000,
            253_402_300_799,
        ] {
            assert_eq!(parse_datetime(&format_datetime(instant)), Ok(instant));
        }
    }

    #[test]
    fn offsets_fractions_and_no_offset() {
        let utc = 1_767_600_000;
        assert_eq!(parse_datetime("2026-01-05T09:00:00+01:00"), Ok(utc));
        assert_eq!(parse_datetime("2026-01-05T03:00:00-05:00"), Ok(utc));
        assert_eq!(parse_datetime("2026-01-05T08:00:00.999Z"), Ok(utc));
        assert_eq!(parse_datetime("2026-01-05T08:00:00.0000000"), Ok(utc));
        assert_eq!(parse_datetime("2026-01-05T08:00:00"), Ok(utc));
        assert_eq!(parse_datetime("2026-01-05T13:45:00+05:45"), Ok(utc));
    }

    #[test]
    fn invalid_datetimes_are_refused_with_the_value_quoted() {
        for bad in [
            "",
            "2026-01-05",
            "2026-01-05 08:00:00Z",
            "2026-13-05T08:00:00Z",
            "2026-02-29T08:00:00Z",
            "2026-01-00T08:00:00Z",
            "2026-01-05T24:00:00Z",
            "2026-01-05T08:60:00Z",
            "2026-01-05T08:00:60Z",
            "2026-01-05T08:00:00.Z",
            "2026-01-05T08:00:00+1:00",
            "2026-01-05T08:00:00+15:00",
            "2026-01-05T08:00:00+01:60",
            "2026-01-05T08:00:00ZZ",
            "0000-01-05T08:00:00Z",
            "+2026-01-05T08:00:00Z",
            "2026-01-05T08:00:00Z\u{202e}",
            "２０２６-01-05T08:00:00Z",
        ] {
            let error = parse_datetime(bad).unwrap_err();
            assert!(
                error.contains("not a valid xs:dateTime"),
                "{bad:?}: {error}"
            );
            assert!(crate::safe_text::is_clean(&error), "{error:?}");
        }
        let long = "9".repeat(10_000);
        assert!(parse_datetime(&long).unwrap_err().len() < 200);
    }

    #[test]
    fn dates_with_and_without_zone_suffix() {
        for text in [
            "2026-01-05",
            "2026-01-05Z",
            "2026-01-05+01:00",
            "2026-01-05-08:00",
        ] {
            assert_eq!(parse_date(text), Ok(date(2026, 1, 5)), "{text}");
        }
        for bad in [
            "2026-1-5",
            "2026-02-30",
            "2026-01-05T00:00:00Z",
            "2026-01-05+1",
            "",
        ] {
            assert!(parse_date(bad).unwrap_err().contains("xs:date"), "{bad}");
        }
        assert_eq!(format_date(date(2026, 1, 5)), "2026-01-05");
        assert_eq!(format_date(date(7, 12, 31)), "0007-12-31");
    }

    #[test]
    fn utc_dates_and_weekdays() {
        assert_eq!(utc_date(1_767_600_000), Some(date(2026, 1, 5)));
        assert_eq!(utc_date(-1), Some(date(1969, 12, 31)));
        assert_eq!(utc_date(i64::MAX), None);
        assert_eq!(weekday_of(date(2026, 1, 5)), Weekday::Monday);
        assert_eq!(weekday_of(date(1970, 1, 1)), Weekday::Thursday);
        assert_eq!(weekday_of(date(2000, 2, 29)), Weekday::Tuesday);
        assert_eq!(format_datetime(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(format_datetime(i64::MIN), "0001-01-01T00:00:00Z");
    }
}
