//! `xs:dateTime` and `xs:date` values as EWS reads and writes them.
//!
//! Requests may carry `Z`, a numeric offset, or no offset at all; a value without offset is
//! wall-clock time in a zone the caller chooses (the item's `StartTimeZone`, the
//! `TimeZoneContext` header, or UTC — see "Time zones and EWS in Exchange"). Responses always
//! carry UTC with a `Z` and whole seconds, as Exchange Online writes them.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};

use super::timezone::WindowsZone;

/// Why a date or time value is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid xs:{kind} value (expected e.g. {example})")]
pub struct DateTimeError {
    /// The value as sent.
    pub value: String,
    /// `dateTime` or `date`.
    pub kind: &'static str,
    /// An example of a valid value.
    pub example: &'static str,
}

fn looks_like_xs(text: &str, need_time: bool) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes.len() <= 40
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (!need_time || bytes.get(10) == Some(&b'T'))
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b':' | b'.' | b'T' | b'Z'))
}

/// Parses an `xs:dateTime`; a value without offset is read as wall-clock time in `zone`.
pub fn parse_xs_datetime(text: &str, zone: &WindowsZone) -> Result<Timestamp, DateTimeError> {
    let text = text.trim();
    let error = || DateTimeError {
        value: text.to_owned(),
        kind: "dateTime",
        example: "2026-03-02T09:00:00Z",
    };
    if !looks_like_xs(text, true) {
        return Err(error());
    }
    let has_offset = text.ends_with('Z') || text[10..].contains('+') || text[10..].contains('-');
    if has_offset {
        text.parse::<Timestamp>().map_err(|_| error())
    } else {
        let local: DateTime = text.parse().map_err(|_| error())?;
        Ok(zone.to_instant(local))
    }
}

/// Parses an `xs:date` (an optional `Z` or offset suffix is accepted and ignored: recurrence
/// dates are calendar dates in the series' time zone).
pub fn parse_xs_date(text: &str) -> Result<Date, DateTimeError> {
    let text = text.trim();
    let error = || DateTimeError {
        value: text.to_owned(),
        kind: "date",
        example: "2026-03-02",
    };
    if !looks_like_xs(text, false) || text.len() > 16 || text.contains('T') {
        return Err(error());
    }
    text[..10].parse::<Date>().map_err(|_| error())
}

/// Formats an instant as Exchange does in responses: `2026-03-02T08:00:00Z`.
pub fn format_xs_datetime(instant: Timestamp) -> String {
    instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Formats a recurrence date with the zone's offset on that day, as Exchange renders
/// `StartDate`/`EndDate` (`2026-03-02+01:00`, or `2026-03-02Z` for UTC).
pub fn format_xs_date(date: Date, zone: &WindowsZone) -> String {
    let offset = zone.offset_seconds(zone.start_of_day(date));
    if offset == 0 {
        return format!("{date}Z");
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    format!("{date}{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::timezone::TimeZoneContextKind;
    use jiff::civil::date;

    fn berlin() -> WindowsZone {
        WindowsZone::lookup("W. Europe Standard Time", TimeZoneContextKind::CalendarItem).unwrap()
    }

    #[test]
    fn parses_the_three_forms_of_the_time_zones_article() {
        let utc = WindowsZone::utc();
        assert_eq!(
            parse_xs_datetime("2014-06-06T19:00:00.000Z", &utc)
                .unwrap()
                .to_string(),
            "2014-06-06T19:00:00Z"
        );
        assert_eq!(
            parse_xs_datetime("2014-06-06T19:00:00.000-08:00", &berlin())
                .unwrap()
                .to_string(),
            "2014-06-07T03:00:00Z"
        );
        assert_eq!(
            parse_xs_datetime("2014-06-06T19:00:00", &berlin())
                .unwrap()
                .to_string(),
            "2014-06-06T17:00:00Z"
        );
        assert_eq!(
            parse_xs_datetime("2006-11-02T14:00:00", &utc)
                .unwrap()
                .to_string(),
            "2006-11-02T14:00:00Z"
        );
    }

    #[test]
    fn rejects_what_the_schema_rejects() {
        let utc = WindowsZone::utc();
        for bad in [
            "",
            "tomorrow",
            "2026-01-01 10:00:00",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2026-01-01T10:00:00[Europe/Berlin]",
        ] {
            assert!(parse_xs_datetime(bad, &utc).is_err(), "{bad} was accepted");
        }
        assert!(parse_xs_date("2026-02-30").is_err());
        assert!(parse_xs_date("2026-02-03T00:00:00").is_err());
    }

    #[test]
    fn dates_accept_an_offset_suffix() {
        assert_eq!(parse_xs_date("2026-03-02").unwrap(), date(2026, 3, 2));
        assert_eq!(parse_xs_date("2026-03-02Z").unwrap(), date(2026, 3, 2));
        assert_eq!(parse_xs_date("2026-03-02-08:00").unwrap(), date(2026, 3, 2));
    }

    #[test]
    fn formats_like_exchange() {
        let instant: Timestamp = "2026-03-02T08:00:00.123Z".parse().unwrap();
        assert_eq!(format_xs_datetime(instant), "2026-03-02T08:00:00Z");
        assert_eq!(
            format_xs_date(date(2026, 1, 5), &berlin()),
            "2026-01-05+01:00"
        );
        assert_eq!(
            format_xs_date(date(2026, 7, 5), &berlin()),
            "2026-07-05+02:00"
        );
        assert_eq!(
            format_xs_date(date(2026, 7, 5), &WindowsZone::utc()),
            "2026-07-05Z"
        );
    }
}
