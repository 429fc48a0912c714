//! Time zones and series expansion: the occurrences of a booking in a
//! window, in the booking's own time zone.
//!
//! Bookings carry Windows time-zone ids, as EWS speaks them (`W. Europe
//! Standard Time`). [`Zone::lookup`] maps such an id to its IANA zone with
//! CLDR's `windowsZones` table (territory `001`, the world-wide default) as
//! compiled into ICU4X's `icu_time`, then to the IANA canonical name, whose
//! rules come from the tz database bundled with jiff. No table is written by
//! hand here. Matching is exact, as CLDR spells the ids.
//!
//! A series ([`Recurrence`]) is stored as Exchange stores it: a pattern, a
//! range and its exceptions. [`expand`] turns it into occurrences the way
//! Exchange and Outlook do:
//!
//! - the pattern yields local dates, and each occurrence starts at the
//!   master's local start time on its date, in the series' zone: a weekly
//!   09:00 `W. Europe Standard Time` meeting stays at 09:00 local across the
//!   March and October changes (08:00Z in winter, 07:00Z in summer);
//! - an occurrence lasts the master's wall-clock length (an all-day event is
//!   midnight to midnight local, 23 or 25 hours on the change days);
//! - a local time inside a daylight-saving gap moves forward by the gap, one
//!   inside a fold takes the earlier instant;
//! - a weekly series' weeks begin on `first_day_of_week`, and an interval
//!   counts from the week (or month, or year) of the range's start date;
//! - an absolute monthly or yearly day that a month lacks (the 31st,
//!   29 February) falls on the month's last day;
//! - a numbered range counts the pattern's dates on or after the range
//!   start, deleted occurrences included; an end date is inclusive; a series
//!   without an end is bounded only by the window;
//! - a modified occurrence is shown at its own start and end with its own
//!   subject, wherever it was moved; a deleted one is left out.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use jiff::SignedDuration;
use jiff::civil::{Date as CivilDate, DateTime, Time};
use jiff::tz::TimeZone;

use crate::rooms_db::{BookingFields, Date, Instant, Pattern, Recurrence, WeekIndex, Weekday};

/// Most pattern periods (days, weeks, months or years) one expansion walks
/// through: a bound for hostile or broken series, far above any real one.
const MAX_PERIODS: u64 = 1_000_000;

/// A time or zone that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The id names no Windows time zone.
    #[error(
        "`{0}` is not a Windows time-zone id; use the id as Windows and Exchange spell it, e.g. `W. Europe Standard Time`, `GMT Standard Time`, `Eastern Standard Time` or `UTC`"
    )]
    UnknownTimeZone(String),
    /// A local time that the clocks skip (a daylight-saving gap).
    #[error(
        "{local} does not exist in {zone}: the clocks move forward then; pick a time outside the daylight-saving change"
    )]
    NonexistentLocalTime {
        /// The local time as given.
        local: String,
        /// The Windows id.
        zone: String,
    },
    /// An instant or date outside the range of the calendar arithmetic.
    #[error("{0} is outside the supported dates (years 1 to 9999)")]
    OutOfRange(String),
}

/// The IANA zone CLDR's `windowsZones` table gives a Windows time-zone id
/// (territory `001`), by its IANA canonical name; `None` for an unknown id.
pub fn iana_for_windows(windows_id: &str) -> Option<&'static str> {
    let bcp47 = icu_time::zone::WindowsParser::new().parse(windows_id.trim(), None)?;
    canonical_iana().get(&bcp47).copied()
}

/// BCP-47 time-zone id -> IANA canonical name, from ICU4X's compiled data.
fn canonical_iana() -> &'static HashMap<icu_time::TimeZone, &'static str> {
    static MAP: OnceLock<HashMap<icu_time::TimeZone, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        icu_time::zone::iana::IanaParserExtended::new()
            .iter()
            .map(|z| (z.time_zone, z.canonical))
            .collect()
    })
}

/// A Windows time zone with its IANA rules.
#[derive(Debug, Clone)]
pub struct Zone {
    windows_id: String,
    iana: &'static str,
    tz: TimeZone,
}

impl Zone {
    /// Looks up a Windows time-zone id (exact spelling, surrounding blanks
    /// ignored).
    pub fn lookup(windows_id: &str) -> Result<Zone, TimeError> {
        let unknown = || TimeError::UnknownTimeZone(windows_id.to_string());
        let iana = iana_for_windows(windows_id).ok_or_else(unknown)?;
        let tz = TimeZone::get(iana).map_err(|_| unknown())?;
        Ok(Zone {
            windows_id: windows_id.trim().to_string(),
            iana,
            tz,
        })
    }

    /// The Windows id.
    pub fn windows_id(&self) -> &str {
        &self.windows_id
    }

    /// The IANA canonical name of the zone.
    pub fn iana(&self) -> &'static str {
        self.iana
    }

    /// `instant` as local date, time and offset in this zone
    /// (`2026-03-30 09:00+02:00`), for people to read.
    pub fn display(&self, instant: Instant) -> String {
        match jiff::Timestamp::from_second(instant) {
            Ok(ts) => ts
                .to_zoned_datetime(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M%:z")
                .to_string(),
            Err(_) => instant.to_string(),
        }
    }

    /// The wall-clock time of `instant` in this zone.
    pub fn local(&self, instant: Instant) -> Result<DateTime, TimeError> {
        let ts = jiff::Timestamp::from_second(instant)
            .map_err(|_| TimeError::OutOfRange(instant.to_string()))?;
        Ok(self.tz.to_datetime(ts))
    }

    /// The instant of a wall-clock time, as Exchange places occurrences: a
    /// time in a gap moves forward by the gap, a time in a fold takes the
    /// earlier instant.
    pub fn instant(&self, local: DateTime) -> Result<Instant, TimeError> {
        self.tz
            .to_ambiguous_timestamp(local)
            .compatible()
            .map(|ts| ts.as_second())
            .map_err(|_| TimeError::OutOfRange(local.to_string()))
    }

    /// The instant of a wall-clock time an operator typed: a time in a gap is
    /// refused (it does not exist), a time in a fold takes the earlier
    /// instant.
    pub fn instant_strict(&self, local: DateTime) -> Result<Instant, TimeError> {
        let ambiguous = self.tz.to_ambiguous_timestamp(local);
        if matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
            return Err(TimeError::NonexistentLocalTime {
                local: local.to_string(),
                zone: self.windows_id.clone(),
            });
        }
        ambiguous
            .compatible()
            .map(|ts| ts.as_second())
            .map_err(|_| TimeError::OutOfRange(local.to_string()))
    }
}

/// One occurrence of a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The start the pattern gives it (identifies it in the series); `None`
    /// for a single booking.
    pub original_start: Option<Instant>,
    /// Its start.
    pub start: Instant,
    /// Its end.
    pub end: Instant,
    /// Its subject (a modified occurrence's own).
    pub subject: String,
    /// True for a modified occurrence (an exception).
    pub modified: bool,
}

/// True when `[start, end)` meets the window `[from, to)`; a zero-length
/// booking meets it when it starts inside.
fn overlaps(start: Instant, end: Instant, from: Instant, to: Instant) -> bool {
    if end <= start {
        from <= start && start < to
    } else {
        start < to && end > from
    }
}

/// Every occurrence of `fields` that meets the window `[from, to)`, sorted
/// by start: the booking itself for a single booking; for a series, the
/// pattern's occurrences with the deleted ones left out and the modified
/// ones at their own times. A series without an end is expanded as far as
/// the window reaches.
pub fn expand(
    fields: &BookingFields,
    from: Instant,
    to: Instant,
) -> Result<Vec<Occurrence>, TimeError> {
    let Some(recurrence) = &fields.recurrence else {
        return Ok(if overlaps(fields.start, fields.end, from, to) {
            vec![Occurrence {
                original_start: None,
                start: fields.start,
                end: fields.end,
                subject: fields.subject.clone(),
                modified: false,
            }]
        } else {
            Vec::new()
        });
    };
    let series = Series::new(fields, recurrence)?;
    let deleted: HashSet<Instant> = recurrence.deleted.iter().copied().collect();
    let modified: HashSet<Instant> = recurrence
        .modified
        .iter()
        .map(|m| m.original_start)
        .collect();
    let mut out = Vec::new();
    // Occurrences longer than a day may start before the window and reach
    // into it: the walk starts early enough for the longest one.
    let lead = (fields.end - fields.start)
        .max(0)
        .saturating_add(2 * 86_400);
    let walk_from = series
        .zone
        .local(from.saturating_sub(lead).max(-62_000_000_000))?;
    for item in series.occurrences(Some(walk_from.date())) {
        let (original, end) = item?;
        if original >= to {
            break;
        }
        if deleted.contains(&original) || modified.contains(&original) {
            continue;
        }
        if overlaps(original, end, from, to) {
            out.push(Occurrence {
                original_start: Some(original),
                start: original,
                end,
                subject: fields.subject.clone(),
                modified: false,
            });
        }
    }
    for m in &recurrence.modified {
        if !deleted.contains(&m.original_start) && overlaps(m.start, m.end, from, to) {
            out.push(Occurrence {
                original_start: Some(m.original_start),
                start: m.start,
                end: m.end,
                subject: m.subject.clone(),
                modified: true,
            });
        }
    }
    out.sort_by_key(|o| (o.start, o.original_start));
    Ok(out)
}

/// The first occurrence the pattern and range of `fields` give (start and
/// end), deleted or not; `None` when the range holds no occurrence. For a
/// single booking, its own start and end.
pub fn first_occurrence(fields: &BookingFields) -> Result<Option<(Instant, Instant)>, TimeError> {
    let Some(recurrence) = &fields.recurrence else {
        return Ok(Some((fields.start, fields.end)));
    };
    let series = Series::new(fields, recurrence)?;
    series.occurrences(None).next().transpose()
}

/// The original start of the pattern's occurrence on the local date `date`
/// of the series (deleted or not); `None` when the series has no occurrence
/// that day, or `fields` is no series.
pub fn occurrence_on(fields: &BookingFields, date: Date) -> Result<Option<Instant>, TimeError> {
    let Some(recurrence) = &fields.recurrence else {
        return Ok(None);
    };
    let civil = date
        .to_civil()
        .ok_or_else(|| TimeError::OutOfRange(date.to_string()))?;
    let series = Series::new(fields, recurrence)?;
    let hint = recurrence.range.count.is_none().then_some(civil);
    for item in series.dated_occurrences(hint) {
        let (day, original, _) = item?;
        if day == civil {
            return Ok(Some(original));
        }
        if day > civil {
            break;
        }
    }
    Ok(None)
}

/// True when `original_start` is an occurrence of the pattern and range of
/// `fields` (deleted or not).
pub fn is_occurrence(fields: &BookingFields, original_start: Instant) -> Result<bool, TimeError> {
    if fields.recurrence.is_none() {
        return Ok(false);
    }
    let zone = Zone::lookup(&fields.time_zone)?;
    let Some(date) = Date::from_civil(zone.local(original_start)?.date()) else {
        return Ok(false);
    };
    Ok(occurrence_on(fields, date)? == Some(original_start))
}

/// A series ready to be walked: its zone, its local start time and length,
/// and its pattern and range.
struct Series<'a> {
    zone: Zone,
    start_time: Time,
    length: SignedDuration,
    pattern: &'a Pattern,
    range_start: CivilDate,
    range_end: Option<CivilDate>,
    count: Option<u32>,
}

impl<'a> Series<'a> {
    fn new(fields: &BookingFields, recurrence: &'a Recurrence) -> Result<Series<'a>, TimeError> {
        let zone = Zone::lookup(&fields.time_zone)?;
        let local_start = zone.local(fields.start)?;
        let local_end = zone.local(fields.end.max(fields.start))?;
        let range_start = recurrence
            .range
            .start
            .to_civil()
            .ok_or_else(|| TimeError::OutOfRange(recurrence.range.start.to_string()))?;
        let range_end = match recurrence.range.end {
            Some(end) => Some(
                end.to_civil()
                    .ok_or_else(|| TimeError::OutOfRange(end.to_string()))?,
            ),
            None => None,
        };
        Ok(Series {
            zone,
            start_time: local_start.time(),
            length: local_start.duration_until(local_end),
            pattern: &recurrence.pattern,
            range_start,
            range_end,
            count: recurrence.range.count,
        })
    }

    /// The occurrences in order, as (original start, end); `hint` skips
    /// ahead to the period of that local date (only without a count).
    fn occurrences(
        &'a self,
        hint: Option<CivilDate>,
    ) -> impl Iterator<Item = Result<(Instant, Instant), TimeError>> + 'a {
        self.dated_occurrences(hint)
            .map(|item| item.map(|(_, start, end)| (start, end)))
    }

    /// The occurrences in order, as (local date, original start, end).
    fn dated_occurrences(
        &'a self,
        hint: Option<CivilDate>,
    ) -> impl Iterator<Item = Result<(CivilDate, Instant, Instant), TimeError>> + 'a {
        let hint = if self.count.is_none() { hint } else { None };
        let dates = PatternDates::new(self.pattern, self.range_start, hint);
        let mut counted = 0u32;
        dates
            .take_while(move |date| {
                if self.range_end.is_some_and(|end| *date > end) {
                    return false;
                }
                if let Some(count) = self.count {
                    if counted >= count {
                        return false;
                    }
                    counted += 1;
                }
                true
            })
            .map(move |date| {
                let local = date.to_datetime(self.start_time);
                let start = self.zone.instant(local)?;
                let local_end = local
                    .checked_add(self.length)
                    .map_err(|_| TimeError::OutOfRange(local.to_string()))?;
                let end = self.zone.instant(local_end)?.max(start);
                Ok((date, start, end))
            })
    }
}

/// The local dates a pattern gives from a range start on, in order.
struct PatternDates<'a> {
    pattern: &'a Pattern,
    range_start: CivilDate,
    /// The next period (day, week, month or year index) to generate.
    period: u64,
    /// Dates of the current period not yet handed out, in order.
    pending: std::vec::IntoIter<CivilDate>,
    /// Periods walked, against [`MAX_PERIODS`].
    walked: u64,
    done: bool,
}

impl<'a> PatternDates<'a> {
    fn new(pattern: &'a Pattern, range_start: CivilDate, hint: Option<CivilDate>) -> Self {
        let mut dates = PatternDates {
            pattern,
            range_start,
            period: 0,
            pending: Vec::new().into_iter(),
            walked: 0,
            done: false,
        };
        if let Some(hint) = hint {
            dates.period = dates.period_of(hint).saturating_sub(1);
        }
        dates
    }

    fn interval(&self) -> i64 {
        i64::from(self.pattern.interval().max(1))
    }

    /// The period that holds `date` (0 when it is before the range start).
    fn period_of(&self, date: CivilDate) -> u64 {
        let start = self.range_start;
        let index = match self.pattern {
            Pattern::Daily { .. } => (day_number(date) - day_number(start)) / self.interval(),
            Pattern::Weekly {
                first_day_of_week, ..
            } => {
                let week0 = week_start(start, *first_day_of_week);
                (day_number(date) - day_number(week0)) / (7 * self.interval())
            }
            Pattern::AbsoluteMonthly { .. } | Pattern::RelativeMonthly { .. } => {
                (month_number(date) - month_number(start)) / self.interval()
            }
            Pattern::AbsoluteYearly { .. } | Pattern::RelativeYearly { .. } => {
                i64::from(date.year()) - i64::from(start.year())
            }
        };
        u64::try_from(index).unwrap_or(0)
    }

    /// The dates of period `p`, in order and on or after the range start;
    /// `None` past the end of the supported dates.
    fn period_dates(&self, p: u64) -> Option<Vec<CivilDate>> {
        let p = i64::try_from(p).ok()?;
        let start = self.range_start;
        let mut dates = match self.pattern {
            Pattern::Daily { .. } => {
                vec![from_day_number(day_number(start) + p * self.interval())?]
            }
            Pattern::Weekly {
                days,
                first_day_of_week,
                ..
            } => {
                let week =
                    day_number(week_start(start, *first_day_of_week)) + p * 7 * self.interval();
                from_day_number(week)?;
                let mut out: Vec<CivilDate> = days
                    .iter()
                    .filter_map(|d| d.to_jiff())
                    .filter_map(|d| {
                        let offset = days_from(first_day_of_week.to_jiff()?, d);
                        from_day_number(week + offset)
                    })
                    .collect();
                out.sort();
                out.dedup();
                out
            }
            Pattern::AbsoluteMonthly { day_of_month, .. } => {
                let first = from_month_number(month_number(start) + p * self.interval())?;
                vec![clamped_day(first, *day_of_month)]
            }
            Pattern::RelativeMonthly { day, index, .. } => {
                let first = from_month_number(month_number(start) + p * self.interval())?;
                relative_day(first, *day, *index).into_iter().collect()
            }
            Pattern::AbsoluteYearly {
                month,
                day_of_month,
            } => {
                let year = i16::try_from(i64::from(start.year()) + p).ok()?;
                let first = CivilDate::new(year, i8::try_from(*month).ok()?, 1).ok()?;
                vec![clamped_day(first, *day_of_month)]
            }
            Pattern::RelativeYearly { month, day, index } => {
                let year = i16::try_from(i64::from(start.year()) + p).ok()?;
                let first = CivilDate::new(year, i8::try_from(*month).ok()?, 1).ok()?;
                relative_day(first, *day, *index).into_iter().collect()
            }
        };
        dates.retain(|d| *d >= start);
        Some(dates)
    }
}

impl Iterator for PatternDates<'_> {
    type Item = CivilDate;

    fn next(&mut self) -> Option<CivilDate> {
        loop {
            if let Some(date) = self.pending.next() {
                return Some(date);
            }
            if self.done || self.walked >= MAX_PERIODS {
                return None;
            }
            match self.period_dates(self.period) {
                Some(dates) => self.pending = dates.into_iter(),
                None => self.done = true,
            }
            self.period += 1;
            self.walked += 1;
        }
    }
}

/// Days from `from` forward to the next `to` (0 to 6).
fn days_from(from: jiff::civil::Weekday, to: jiff::civil::Weekday) -> i64 {
    i64::from(to.to_sunday_zero_offset() - from.to_sunday_zero_offset()).rem_euclid(7)
}

/// The first day (per `first_day_of_week`) of the week that holds `date`.
fn week_start(date: CivilDate, first_day_of_week: Weekday) -> CivilDate {
    let first = first_day_of_week
        .to_jiff()
        .unwrap_or(jiff::civil::Weekday::Sunday);
    let back = days_from(first, date.weekday());
    from_day_number(day_number(date) - back).unwrap_or(date)
}

/// Day `day_of_month` of the month of `first`, or its last day when the
/// month is shorter.
fn clamped_day(first: CivilDate, day_of_month: u8) -> CivilDate {
    let day = i8::try_from(day_of_month.max(1))
        .unwrap_or(31)
        .min(first.days_in_month());
    CivilDate::new(first.year(), first.month(), day).unwrap_or(first)
}

/// The `index` `day` of the month of `first`: a weekday (the last Friday),
/// any day (`Day`), a working day (`Weekday`) or a weekend day.
fn relative_day(first: CivilDate, day: Weekday, index: WeekIndex) -> Option<CivilDate> {
    let matches = |d: &CivilDate| {
        use jiff::civil::Weekday as J;
        match day.to_jiff() {
            Some(w) => d.weekday() == w,
            None => match day {
                Weekday::Day => true,
                Weekday::Weekday => !matches!(d.weekday(), J::Saturday | J::Sunday),
                _ => matches!(d.weekday(), J::Saturday | J::Sunday),
            },
        }
    };
    let month: Vec<CivilDate> = (1..=first.days_in_month())
        .filter_map(|d| CivilDate::new(first.year(), first.month(), d).ok())
        .filter(matches)
        .collect();
    match index {
        WeekIndex::First => month.first().copied(),
        WeekIndex::Second => month.get(1).copied(),
        WeekIndex::Third => month.get(2).copied(),
        WeekIndex::Fourth => month.get(3).copied(),
        WeekIndex::Last => month.last().copied(),
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn day_number(date: CivilDate) -> i64 {
    // Howard Hinnant's days_from_civil.
    let (y, m, d) = (
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number; `None` outside years 1 to 9999.
fn from_day_number(days: i64) -> Option<CivilDate> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if !(1..=9999).contains(&y) {
        return None;
    }
    CivilDate::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

/// Months since year 0 of the month of `date`.
fn month_number(date: CivilDate) -> i64 {
    i64::from(date.year()) * 12 + i64::from(date.month()) - 1
}

/// The first day of month number `n`; `None` outside years 1 to 9999.
fn from_month_number(n: i64) -> Option<CivilDate> {
    let year = n.div_euclid(12);
    if !(1..=9999).contains(&year) {
        return None;
    }
    CivilDate::new(
        i16::try_from(year).ok()?,
        i8::try_from(n.rem_euclid(12) + 1).ok()?,
        1,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms_db::{FreeBusy, ModifiedOccurrence, RecurrenceRange};

    const BERLIN: &str = "W. Europe Standard Time";

    fn t(rfc3339: &str) -> Instant {
        rfc3339.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn shown(instant: Instant) -> String {
        jiff::Timestamp::from_second(instant).unwrap().to_string()
    }

    fn date(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    fn single(start: &str, end: &str) -> BookingFields {
        BookingFields {
            organiser: "adele@contoso.com".into(),
            rooms: vec!["room.berlin@contoso.com".into()],
            subject: "Stand-up".into(),
            start: t(start),
            end: t(end),
            time_zone: BERLIN.into(),
            all_day: false,
            reminder_minutes: Some(15),
            private: false,
            free_busy: FreeBusy::Busy,
            attendees: Vec::new(),
            recurrence: None,
        }
    }

    fn series(
        start: &str,
        end: &str,
        zone: &str,
        pattern: Pattern,
        range: (Date, Option<Date>, Option<u32>),
    ) -> BookingFields {
        let mut fields = single(start, end);
        fields.time_zone = zone.into();
        fields.recurrence = Some(Recurrence {
            pattern,
            range: RecurrenceRange {
                start: range.0,
                end: range.1,
                count: range.2,
            },
            modified: Vec::new(),
            deleted: Vec::new(),
        });
        fields
    }

    fn starts(fields: &BookingFields, from: &str, to: &str) -> Vec<String> {
        expand(fields, t(from), t(to))
            .unwrap()
            .into_iter()
            .map(|o| shown(o.start))
            .collect()
    }

    fn weekly(days: &[Weekday], interval: u32, first: Weekday) -> Pattern {
        Pattern::Weekly {
            interval,
            days: days.to_vec(),
            first_day_of_week: first,
        }
    }

    #[test]
    fn windows_ids_map_to_iana_zones_through_cldr() {
        assert_eq!(iana_for_windows(BERLIN), Some("Europe/Berlin"));
        assert_eq!(
            iana_for_windows("Eastern Standard Time"),
            Some("America/New_York")
        );
        assert_eq!(
            iana_for_windows("Pacific Standard Time"),
            Some("America/Los_Angeles")
        );
        assert_eq!(iana_for_windows("GMT Standard Time"), Some("Europe/London"));
        for id in ["UTC", "India Standard Time", "AUS Eastern Standard Time"] {
            let zone = Zone::lookup(id).unwrap();
            assert_eq!(zone.windows_id(), id);
        }
        assert_eq!(Zone::lookup("UTC").unwrap().local(0).unwrap().hour(), 0);
        let err = Zone::lookup("Europe/Berlin").unwrap_err();
        assert!(err.to_string().contains("W. Europe Standard Time"), "{err}");
        assert!(Zone::lookup("Mars Standard Time").is_err());
    }

    #[test]
    fn a_weekly_series_at_nine_stays_at_nine_local_across_both_dst_changes() {
        // Mondays 09:00-10:00 Berlin time, no end.
        let fields = series(
            "2026-03-02T08:00:00Z",
            "2026-03-02T09:00:00Z",
            BERLIN,
            weekly(&[Weekday::Monday], 1, Weekday::Sunday),
            (date(2026, 3, 2), None, None),
        );
        let all = expand(
            &fields,
            t("2026-03-01T00:00:00Z"),
            t("2026-11-10T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(all.len(), 37); // March 2 to November 9
        let zone = Zone::lookup(BERLIN).unwrap();
        for o in &all {
            let local = zone.local(o.start).unwrap();
            assert_eq!((local.hour(), local.minute()), (9, 0), "{}", shown(o.start));
            assert_eq!(local.weekday(), jiff::civil::Weekday::Monday);
            assert_eq!(o.end - o.start, 3600);
        }
        // The UTC hour moves with the March 29 and October 25 changes.
        let utc: Vec<String> = all.iter().map(|o| shown(o.start)).collect();
        for expected in [
            "2026-03-23T08:00:00Z",
            "2026-03-30T07:00:00Z",
            "2026-10-19T07:00:00Z",
            "2026-10-26T08:00:00Z",
        ] {
            assert!(utc.contains(&expected.to_string()), "{expected} in {utc:?}");
        }
    }

    #[test]
    fn a_series_without_an_end_expands_in_any_window() {
        let fields = series(
            "2026-01-05T08:00:00Z",
            "2026-01-05T08:30:00Z",
            BERLIN,
            Pattern::Daily { interval: 1 },
            (date(2026, 1, 5), None, None),
        );
        let far = starts(&fields, "2040-07-01T00:00:00Z", "2040-07-04T00:00:00Z");
        assert_eq!(
            far,
            [
                "2040-07-01T07:00:00Z",
                "2040-07-02T07:00:00Z",
                "2040-07-03T07:00:00Z"
            ]
        );
        // Before the range start there is nothing.
        assert!(starts(&fields, "2025-01-01T00:00:00Z", "2026-01-05T00:00:00Z").is_empty());
    }

    #[test]
    fn every_pattern_type_gives_the_dates_outlook_gives() {
        let window = ("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z");
        let dates = |pattern: Pattern, first: Date, count: u32| -> Vec<String> {
            let start = format!("{first}T12:00:00Z");
            let end = format!("{first}T13:00:00Z");
            let fields = series(&start, &end, "UTC", pattern, (first, None, Some(count)));
            expand(&fields, t(window.0), t(window.1))
                .unwrap()
                .into_iter()
                .map(|o| shown(o.start)[..10].to_string())
                .collect()
        };
        assert_eq!(
            dates(Pattern::Daily { interval: 2 }, date(2026, 1, 30), 3),
            ["2026-01-30", "2026-02-01", "2026-02-03"]
        );
        // Every other week on Monday and Thursday, weeks from Monday; the
        // series starts on a Thursday.
        assert_eq!(
            dates(
                weekly(&[Weekday::Thursday, Weekday::Monday], 2, Weekday::Monday),
                date(2026, 1, 1),
                5
            ),
            [
                "2026-01-01",
                "2026-01-12",
                "2026-01-15",
                "2026-01-26",
                "2026-01-29"
            ]
        );
        // The 31st falls on the last day of shorter months.
        assert_eq!(
            dates(
                Pattern::AbsoluteMonthly {
                    interval: 1,
                    day_of_month: 31
                },
                date(2026, 1, 31),
                4
            ),
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
        );
        assert_eq!(
            dates(
                Pattern::RelativeMonthly {
                    interval: 2,
                    day: Weekday::Friday,
                    index: WeekIndex::Last
                },
                date(2026, 1, 1),
                3
            ),
            ["2026-01-30", "2026-03-27", "2026-05-29"]
        );
        assert_eq!(
            dates(
                Pattern::RelativeMonthly {
                    interval: 1,
                    day: Weekday::Weekday,
                    index: WeekIndex::Second
                },
                date(2026, 8, 1),
                2
            ),
            ["2026-08-04", "2026-09-02"]
        );
        assert_eq!(
            dates(
                Pattern::RelativeMonthly {
                    interval: 1,
                    day: Weekday::WeekendDay,
                    index: WeekIndex::First
                },
                date(2026, 3, 1),
                2
            ),
            ["2026-03-01", "2026-04-04"]
        );
        assert_eq!(
            dates(
                Pattern::AbsoluteYearly {
                    month: 2,
                    day_of_month: 29
                },
                date(2026, 1, 1),
                2
            ),
            ["2026-02-28", "2027-02-28"]
        );
        // Thanksgiving: the fourth Thursday of November.
        assert_eq!(
            dates(
                Pattern::RelativeYearly {
                    month: 11,
                    day: Weekday::Thursday,
                    index: WeekIndex::Fourth
                },
                date(2026, 1, 1),
                2
            ),
            ["2026-11-26", "2027-11-25"]
        );
    }

    #[test]
    fn ranges_count_deleted_occurrences_and_end_dates_are_inclusive() {
        let mut fields = series(
            "2026-05-04T07:00:00Z",
            "2026-05-04T08:00:00Z",
            BERLIN,
            Pattern::Daily { interval: 1 },
            (date(2026, 5, 4), None, Some(3)),
        );
        if let Some(r) = fields.recurrence.as_mut() {
            r.deleted.push(t("2026-05-05T07:00:00Z"));
        }
        assert_eq!(
            starts(&fields, "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z"),
            ["2026-05-04T07:00:00Z", "2026-05-06T07:00:00Z"]
        );
        if let Some(r) = fields.recurrence.as_mut() {
            r.range.count = None;
            r.range.end = Some(date(2026, 5, 7));
        }
        assert_eq!(
            starts(&fields, "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z"),
            [
                "2026-05-04T07:00:00Z",
                "2026-05-06T07:00:00Z",
                "2026-05-07T07:00:00Z"
            ]
        );
    }

    #[test]
    fn modified_occurrences_show_at_their_own_time_with_their_own_subject() {
        let mut fields = series(
            "2026-05-04T07:00:00Z",
            "2026-05-04T08:00:00Z",
            BERLIN,
            weekly(&[Weekday::Monday], 1, Weekday::Sunday),
            (date(2026, 5, 4), None, None),
        );
        if let Some(r) = fields.recurrence.as_mut() {
            // The May 11 occurrence moves to Wednesday afternoon; the one of
            // June 1 moves into the window from outside it.
            r.modified.push(ModifiedOccurrence {
                original_start: t("2026-05-11T07:00:00Z"),
                start: t("2026-05-13T13:00:00Z"),
                end: t("2026-05-13T14:00:00Z"),
                subject: "Stand-up (moved)".into(),
            });
            r.modified.push(ModifiedOccurrence {
                original_start: t("2026-06-01T07:00:00Z"),
                start: t("2026-05-20T07:00:00Z"),
                end: t("2026-05-20T08:00:00Z"),
                subject: "Early".into(),
            });
            r.deleted.push(t("2026-05-18T07:00:00Z"));
        }
        let all = expand(
            &fields,
            t("2026-05-01T00:00:00Z"),
            t("2026-05-26T00:00:00Z"),
        )
        .unwrap();
        let seen: Vec<(String, &str, bool)> = all
            .iter()
            .map(|o| (shown(o.start), o.subject.as_str(), o.modified))
            .collect();
        assert_eq!(
            seen,
            [
                ("2026-05-04T07:00:00Z".to_string(), "Stand-up", false),
                ("2026-05-13T13:00:00Z".to_string(), "Stand-up (moved)", true),
                ("2026-05-20T07:00:00Z".to_string(), "Early", true),
                ("2026-05-25T07:00:00Z".to_string(), "Stand-up", false),
            ]
        );
        assert_eq!(all[1].original_start, Some(t("2026-05-11T07:00:00Z")));
    }

    #[test]
    fn all_day_occurrences_run_midnight_to_midnight_local_on_change_days() {
        let mut fields = series(
            "2026-03-27T23:00:00Z",
            "2026-03-28T23:00:00Z",
            BERLIN,
            Pattern::Daily { interval: 1 },
            (date(2026, 3, 28), None, Some(3)),
        );
        fields.all_day = true;
        let all = expand(
            &fields,
            t("2026-03-01T00:00:00Z"),
            t("2026-04-01T00:00:00Z"),
        )
        .unwrap();
        let lengths: Vec<i64> = all.iter().map(|o| (o.end - o.start) / 3600).collect();
        // March 29 has 23 hours in Berlin.
        assert_eq!(lengths, [24, 23, 24]);
        assert_eq!(shown(all[2].start), "2026-03-29T22:00:00Z");
    }

    #[test]
    fn occurrences_are_found_by_their_local_date() {
        let fields = series(
            "2026-03-02T08:00:00Z",
            "2026-03-02T09:00:00Z",
            BERLIN,
            weekly(&[Weekday::Monday], 1, Weekday::Sunday),
            (date(2026, 3, 2), None, Some(10)),
        );
        assert_eq!(
            occurrence_on(&fields, date(2026, 3, 30)).unwrap(),
            Some(t("2026-03-30T07:00:00Z"))
        );
        assert_eq!(occurrence_on(&fields, date(2026, 3, 31)).unwrap(), None);
        // The eleventh Monday is past the count.
        assert_eq!(occurrence_on(&fields, date(2026, 5, 11)).unwrap(), None);
        assert!(is_occurrence(&fields, t("2026-03-30T07:00:00Z")).unwrap());
        assert!(!is_occurrence(&fields, t("2026-03-30T08:00:00Z")).unwrap());
        assert_eq!(
            first_occurrence(&fields).unwrap(),
            Some((t("2026-03-02T08:00:00Z"), t("2026-03-02T09:00:00Z")))
        );
    }

    #[test]
    fn a_single_booking_is_its_own_occurrence_when_it_meets_the_window() {
        let fields = single("2026-05-04T07:00:00Z", "2026-05-04T08:00:00Z");
        assert_eq!(
            starts(&fields, "2026-05-04T07:30:00Z", "2026-05-05T00:00:00Z"),
            ["2026-05-04T07:00:00Z"]
        );
        assert!(starts(&fields, "2026-05-04T08:00:00Z", "2026-05-05T00:00:00Z").is_empty());
        assert!(starts(&fields, "2026-05-01T00:00:00Z", "2026-05-04T07:00:00Z").is_empty());
    }

    #[test]
    fn local_times_in_a_gap_are_refused_when_typed_and_moved_in_series() {
        let zone = Zone::lookup(BERLIN).unwrap();
        let gap = jiff::civil::date(2026, 3, 29).at(2, 30, 0, 0);
        let err = zone.instant_strict(gap).unwrap_err();
        assert!(err.to_string().contains("clocks move forward"), "{err}");
        assert_eq!(shown(zone.instant(gap).unwrap()), "2026-03-29T01:30:00Z");
        // In the October fold the earlier instant wins.
        let fold = jiff::civil::date(2026, 10, 25).at(2, 30, 0, 0);
        assert_eq!(
            shown(zone.instant_strict(fold).unwrap()),
            "2026-10-25T00:30:00Z"
        );
    }
}
