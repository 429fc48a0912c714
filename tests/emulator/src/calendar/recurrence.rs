//! Recurrence patterns and ranges of calendar series, and their expansion into occurrences.
//!
//! The model follows the EWS schema (`RecurrenceType` in types.xsd): one pattern
//! (`DailyRecurrence`, `WeeklyRecurrence`, `AbsoluteMonthlyRecurrence`,
//! `RelativeMonthlyRecurrence`, `AbsoluteYearlyRecurrence`, `RelativeYearlyRecurrence`) and one
//! range (`NoEndRecurrence`, `EndDateRecurrence`, `NumberedRecurrence`).
//!
//! Expansion works on civil dates: the pattern yields the dates of the series, and the series'
//! own time zone turns "date + local start time" into an instant ([`Series::occurrence_at`]).
//! A 09:00 `W. Europe Standard Time` meeting therefore stays at 09:00 local time across DST
//! changes (08:00Z in winter, 07:00Z in summer).
//!
//! Outlook/Exchange semantics the emulator reproduces (from [MS-OXOCAL] and Outlook behaviour):
//! - an absolute monthly/yearly day that a month lacks (the 31st, February 29) falls on the
//!   last day of that month;
//! - `Interval` counts from the month (or week) of the range's start date;
//! - a weekly series' weeks begin on `FirstDayOfWeek` (default Sunday);
//! - a numbered range counts only dates that match the pattern on or after the start date, and
//!   deleted occurrences still count (deleting one does not extend the series);
//! - occurrences before the range start date never exist, even if the pattern would match.

use jiff::civil::{Date, Time, Weekday};
use jiff::{SignedDuration, Timestamp};

use super::timezone::WindowsZone;

/// Hard ceiling of generated dates per expansion (protects the emulator from hostile series).
const MAX_GENERATED_DATES: usize = 200_000;

/// The last date Exchange accepts for a recurrence (`ErrorRecurrenceEndDateTooBig`: after 9/1/4500).
pub fn latest_recurrence_date() -> Date {
    jiff::civil::date(4500, 9, 1)
}

/// `DayOfWeekIndex`: which matching day of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOfWeekIndex {
    /// The first.
    First,
    /// The second.
    Second,
    /// The third.
    Third,
    /// The fourth.
    Fourth,
    /// The last one of the month.
    Last,
}

impl DayOfWeekIndex {
    /// Parses the schema value (`First` .. `Last`).
    pub fn parse(text: &str) -> Option<DayOfWeekIndex> {
        Some(match text {
            "First" => DayOfWeekIndex::First,
            "Second" => DayOfWeekIndex::Second,
            "Third" => DayOfWeekIndex::Third,
            "Fourth" => DayOfWeekIndex::Fourth,
            "Last" => DayOfWeekIndex::Last,
            _ => return None,
        })
    }

    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            DayOfWeekIndex::First => "First",
            DayOfWeekIndex::Second => "Second",
            DayOfWeekIndex::Third => "Third",
            DayOfWeekIndex::Fourth => "Fourth",
            DayOfWeekIndex::Last => "Last",
        }
    }

    fn nth(self) -> Option<usize> {
        match self {
            DayOfWeekIndex::First => Some(0),
            DayOfWeekIndex::Second => Some(1),
            DayOfWeekIndex::Third => Some(2),
            DayOfWeekIndex::Fourth => Some(3),
            DayOfWeekIndex::Last => None,
        }
    }
}

/// `DayOfWeekType`: a weekday, or one of the classes `Day`, `Weekday`, `WeekendDay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOfWeek {
    /// One named weekday.
    Named(Weekday),
    /// Any day.
    Day,
    /// Monday to Friday.
    Weekday,
    /// Saturday or Sunday.
    WeekendDay,
}

impl DayOfWeek {
    /// Parses the schema value (`Sunday` .. `Saturday`, `Day`, `Weekday`, `WeekendDay`).
    pub fn parse(text: &str) -> Option<DayOfWeek> {
        Some(match text {
            "Day" => DayOfWeek::Day,
            "Weekday" => DayOfWeek::Weekday,
            "WeekendDay" => DayOfWeek::WeekendDay,
            other => DayOfWeek::Named(parse_weekday(other)?),
        })
    }

    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            DayOfWeek::Named(day) => weekday_name(day),
            DayOfWeek::Day => "Day",
            DayOfWeek::Weekday => "Weekday",
            DayOfWeek::WeekendDay => "WeekendDay",
        }
    }

    fn matches(self, date: Date) -> bool {
        let day = date.weekday();
        match self {
            DayOfWeek::Named(named) => day == named,
            DayOfWeek::Day => true,
            DayOfWeek::Weekday => !matches!(day, Weekday::Saturday | Weekday::Sunday),
            DayOfWeek::WeekendDay => matches!(day, Weekday::Saturday | Weekday::Sunday),
        }
    }
}

/// Parses an English weekday name as used by EWS (`Monday`).
pub fn parse_weekday(text: &str) -> Option<Weekday> {
    Some(match text {
        "Sunday" => Weekday::Sunday,
        "Monday" => Weekday::Monday,
        "Tuesday" => Weekday::Tuesday,
        "Wednesday" => Weekday::Wednesday,
        "Thursday" => Weekday::Thursday,
        "Friday" => Weekday::Friday,
        "Saturday" => Weekday::Saturday,
        _ => return None,
    })
}

/// The EWS name of a weekday.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Sunday => "Sunday",
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
    }
}

/// The EWS name of a month (1 = `January`).
pub fn month_name(month: i8) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES[usize::try_from(month.clamp(1, 12) - 1).unwrap_or(0)]
}

/// Parses an EWS month name (`January` = 1).
pub fn parse_month(text: &str) -> Option<i8> {
    (1..=12).find(|&m| month_name(m) == text)
}

/// A recurrence pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Every `interval` days.
    Daily {
        /// Days between occurrences (1..=999).
        interval: u32,
    },
    /// On the given weekdays of every `interval`-th week.
    Weekly {
        /// Weeks between active weeks (1..=99).
        interval: u32,
        /// Days of the week (never empty).
        days: Vec<Weekday>,
        /// First day of a week, which decides which weeks are "every n-th".
        first_day_of_week: Weekday,
    },
    /// On a day of the month, every `interval` months.
    AbsoluteMonthly {
        /// Months between occurrences (1..=99).
        interval: u32,
        /// Day of the month (1..=31); a shorter month uses its last day.
        day_of_month: i8,
    },
    /// On the n-th (or last) matching day, every `interval` months.
    RelativeMonthly {
        /// Months between occurrences (1..=99).
        interval: u32,
        /// Which days count.
        day: DayOfWeek,
        /// Which of them.
        index: DayOfWeekIndex,
    },
    /// Every year on a month and day.
    AbsoluteYearly {
        /// Month (1..=12).
        month: i8,
        /// Day (1..=31); a shorter month uses its last day (February 29 → 28).
        day_of_month: i8,
    },
    /// Every year on the n-th (or last) matching day of a month.
    RelativeYearly {
        /// Month (1..=12).
        month: i8,
        /// Which days count.
        day: DayOfWeek,
        /// Which of them.
        index: DayOfWeekIndex,
    },
}

/// A recurrence range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// From `start`, forever.
    NoEnd {
        /// First date.
        start: Date,
    },
    /// From `start` to `end`, both inclusive.
    EndDate {
        /// First date.
        start: Date,
        /// Last date.
        end: Date,
    },
    /// From `start`, `count` occurrences.
    Numbered {
        /// First date.
        start: Date,
        /// Number of occurrences (1..=999).
        count: u32,
    },
}

impl Range {
    /// The range's start date.
    pub fn start(&self) -> Date {
        match *self {
            Range::NoEnd { start }
            | Range::EndDate { start, .. }
            | Range::Numbered { start, .. } => start,
        }
    }
}

/// A complete recurrence (`t:Recurrence`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    /// The pattern.
    pub pattern: Pattern,
    /// The range.
    pub range: Range,
}

/// Why a recurrence is refused; each maps to the EWS response code Exchange uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    /// A number is outside its allowed range (`ErrorCalendarOutOfRange`).
    #[error("{field} {value} is out of range; allowed is {min}..={max}")]
    OutOfRange {
        /// The schema element.
        field: &'static str,
        /// The value sent.
        value: i64,
        /// Lowest allowed.
        min: i64,
        /// Highest allowed.
        max: i64,
    },
    /// `Day`, `Weekday` or `WeekendDay` in a weekly pattern (`ErrorCalendarInvalidDayForWeeklyRecurrence`).
    #[error(
        "a weekly recurrence takes named days only (Monday .. Sunday), not Day, Weekday or WeekendDay"
    )]
    InvalidDayForWeekly,
    /// An empty `DaysOfWeek` (`ErrorCalendarInvalidPropertyValue`).
    #[error("DaysOfWeek must name at least one day")]
    NoDays,
    /// End date before start date (`ErrorCalendarInvalidRecurrence`).
    #[error("the recurrence EndDate {end} is before its StartDate {start}")]
    EndBeforeStart {
        /// Range start.
        start: Date,
        /// Range end.
        end: Date,
    },
    /// End date after 4500-09-01 (`ErrorRecurrenceEndDateTooBig`).
    #[error("the recurrence ends after 4500-09-01, the last date Exchange accepts")]
    EndDateTooBig,
    /// The series has no occurrence at all (`ErrorRecurrenceHasNoOccurrence`).
    #[error("the recurrence has no occurrence in its range")]
    NoOccurrence,
}

impl RecurrenceError {
    /// The EWS `ResponseCode` for this error.
    pub fn response_code(&self) -> &'static str {
        match self {
            RecurrenceError::OutOfRange { .. } => "ErrorCalendarOutOfRange",
            RecurrenceError::InvalidDayForWeekly => "ErrorCalendarInvalidDayForWeeklyRecurrence",
            RecurrenceError::NoDays => "ErrorCalendarInvalidPropertyValue",
            RecurrenceError::EndBeforeStart { .. } => "ErrorCalendarInvalidRecurrence",
            RecurrenceError::EndDateTooBig => "ErrorRecurrenceEndDateTooBig",
            RecurrenceError::NoOccurrence => "ErrorRecurrenceHasNoOccurrence",
        }
    }
}

fn check_range(field: &'static str, value: i64, min: i64, max: i64) -> Result<(), RecurrenceError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(RecurrenceError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

impl Recurrence {
    /// Checks the limits Exchange enforces and that the series has at least one occurrence.
    pub fn validate(&self) -> Result<(), RecurrenceError> {
        match &self.pattern {
            Pattern::Daily { interval } => check_range("Interval", i64::from(*interval), 1, 999)?,
            Pattern::Weekly { interval, days, .. } => {
                check_range("Interval", i64::from(*interval), 1, 99)?;
                if days.is_empty() {
                    return Err(RecurrenceError::NoDays);
                }
            }
            Pattern::AbsoluteMonthly {
                interval,
                day_of_month,
            } => {
                check_range("Interval", i64::from(*interval), 1, 99)?;
                check_range("DayOfMonth", i64::from(*day_of_month), 1, 31)?;
            }
            Pattern::RelativeMonthly { interval, .. } => {
                check_range("Interval", i64::from(*interval), 1, 99)?
            }
            Pattern::AbsoluteYearly {
                month,
                day_of_month,
            } => {
                check_range("Month", i64::from(*month), 1, 12)?;
                check_range("DayOfMonth", i64::from(*day_of_month), 1, 31)?;
            }
            Pattern::RelativeYearly { month, .. } => {
                check_range("Month", i64::from(*month), 1, 12)?
            }
        }
        match self.range {
            Range::EndDate { start, end } => {
                if end < start {
                    return Err(RecurrenceError::EndBeforeStart { start, end });
                }
                if end > latest_recurrence_date() {
                    return Err(RecurrenceError::EndDateTooBig);
                }
            }
            Range::Numbered { count, .. } => {
                check_range("NumberOfOccurrences", i64::from(count), 1, 999)?
            }
            Range::NoEnd { .. } => {}
        }
        if self.range.start() > latest_recurrence_date() {
            return Err(RecurrenceError::EndDateTooBig);
        }
        if self.dates().next().is_none() {
            return Err(RecurrenceError::NoOccurrence);
        }
        Ok(())
    }

    /// The dates of the series in order, honouring the range (1-based index, date).
    pub fn dates(&self) -> impl Iterator<Item = (u32, Date)> + '_ {
        let start = self.range.start();
        let (end, count) = match self.range {
            Range::NoEnd { .. } => (latest_recurrence_date(), u32::MAX),
            Range::EndDate { end, .. } => (end.min(latest_recurrence_date()), u32::MAX),
            Range::Numbered { count, .. } => (latest_recurrence_date(), count),
        };
        PatternDates::new(&self.pattern, start)
            .take_while(move |&date| date <= end)
            .take(MAX_GENERATED_DATES)
            .zip(1u32..)
            .map(|(date, index)| (index, date))
            .take_while(move |&(index, _)| index <= count)
    }

    /// The date of the last occurrence, if the series ends.
    pub fn last_date(&self) -> Option<Date> {
        match self.range {
            Range::NoEnd { .. } => None,
            _ => self.dates().last().map(|(_, date)| date),
        }
    }
}

/// Iterator over the dates a pattern produces on or after a start date (no range end).
struct PatternDates<'a> {
    pattern: &'a Pattern,
    start: Date,
    /// Period counter (days, weeks, months or years since the start period).
    period: i64,
    /// Dates of the current period not yet returned (weekly only), in order.
    pending: Vec<Date>,
    /// Periods examined without a match (guards against patterns that never match).
    barren: u32,
    done: bool,
}

impl<'a> PatternDates<'a> {
    fn new(pattern: &'a Pattern, start: Date) -> Self {
        PatternDates {
            pattern,
            start,
            period: 0,
            pending: Vec::new(),
            barren: 0,
            done: false,
        }
    }

    /// Candidate dates for the current period (may be before `start`; filtered by the caller).
    fn period_dates(&self) -> Option<Vec<Date>> {
        let start = self.start;
        match self.pattern {
            Pattern::Daily { interval } => {
                let step = self.period.checked_mul(i64::from(*interval))?;
                Some(vec![add_days(start, step)?])
            }
            Pattern::Weekly {
                interval,
                days,
                first_day_of_week,
            } => {
                let week_start =
                    add_days(start, -i64::from(start.weekday().since(*first_day_of_week)))?;
                let base = add_days(
                    week_start,
                    self.period.checked_mul(7 * i64::from(*interval))?,
                )?;
                let mut dates: Vec<Date> = days
                    .iter()
                    .filter_map(|day| add_days(base, i64::from(day.since(*first_day_of_week))))
                    .collect();
                dates.sort();
                dates.dedup();
                Some(dates)
            }
            Pattern::AbsoluteMonthly {
                interval,
                day_of_month,
            } => {
                let first = add_months(
                    start.first_of_month(),
                    self.period.checked_mul(i64::from(*interval))?,
                )?;
                Some(vec![clamp_day(first, *day_of_month)])
            }
            Pattern::RelativeMonthly {
                interval,
                day,
                index,
            } => {
                let first = add_months(
                    start.first_of_month(),
                    self.period.checked_mul(i64::from(*interval))?,
                )?;
                Some(relative_day(first, *day, *index).into_iter().collect())
            }
            Pattern::AbsoluteYearly {
                month,
                day_of_month,
            } => {
                let year = i64::from(start.year()).checked_add(self.period)?;
                let first = Date::new(i16::try_from(year).ok()?, *month, 1).ok()?;
                Some(vec![clamp_day(first, *day_of_month)])
            }
            Pattern::RelativeYearly { month, day, index } => {
                let year = i64::from(start.year()).checked_add(self.period)?;
                let first = Date::new(i16::try_from(year).ok()?, *month, 1).ok()?;
                Some(relative_day(first, *day, *index).into_iter().collect())
            }
        }
    }
}

impl Iterator for PatternDates<'_> {
    type Item = Date;

    fn next(&mut self) -> Option<Date> {
        loop {
            if let Some(date) = self.pending.first().copied() {
                self.pending.remove(0);
                return Some(date);
            }
            if self.done {
                return None;
            }
            let Some(candidates) = self.period_dates() else {
                self.done = true;
                return None;
            };
            self.period += 1;
            let mut found: Vec<Date> = candidates
                .into_iter()
                .filter(|&d| d >= self.start)
                .collect();
            if found.is_empty() {
                self.barren += 1;
                // A pattern that matches nothing for 400 periods (e.g. yearly on a day that
                // never comes) never will.
                if self.barren > 400 {
                    self.done = true;
                }
                continue;
            }
            self.barren = 0;
            found.reverse();
            let first = found.pop();
            found.reverse();
            self.pending = found;
            return first;
        }
    }
}

fn add_days(date: Date, days: i64) -> Option<Date> {
    date.checked_add(SignedDuration::from_hours(days.checked_mul(24)?))
        .ok()
}

fn add_months(first_of_month: Date, months: i64) -> Option<Date> {
    let total = i64::from(first_of_month.year())
        .checked_mul(12)?
        .checked_add(i64::from(first_of_month.month() - 1))?
        .checked_add(months)?;
    let year = i16::try_from(total.div_euclid(12)).ok()?;
    let month = i8::try_from(total.rem_euclid(12) + 1).ok()?;
    Date::new(year, month, 1).ok()
}

/// The given day of the month, or the month's last day when it is shorter.
fn clamp_day(first_of_month: Date, day: i8) -> Date {
    let day = day.clamp(1, first_of_month.days_in_month());
    Date::new(first_of_month.year(), first_of_month.month(), day).unwrap_or(first_of_month)
}

/// The n-th (or last) day of the month matching `day`.
fn relative_day(first_of_month: Date, day: DayOfWeek, index: DayOfWeekIndex) -> Option<Date> {
    let days_in_month = first_of_month.days_in_month();
    let mut matching = (0..days_in_month)
        .filter_map(|offset| add_days(first_of_month, i64::from(offset)))
        .filter(|&d| day.matches(d));
    match index.nth() {
        Some(n) => matching.nth(n),
        None => matching.next_back(),
    }
}

/// A recurring series placed in time: recurrence + time zone + local start time + duration.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// The recurrence.
    pub recurrence: &'a Recurrence,
    /// The series' time zone (the master's `StartTimeZone`).
    pub zone: &'a WindowsZone,
    /// Local start time of every occurrence.
    pub local_start: Time,
    /// Duration of every occurrence.
    pub duration: SignedDuration,
}

/// One generated occurrence (before exceptions are applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// 1-based index in the series (`InstanceIndex`).
    pub index: u32,
    /// The original start (`OriginalStart`, `RecurrenceId`).
    pub original_start: Timestamp,
    /// Start of this occurrence as generated.
    pub start: Timestamp,
    /// End of this occurrence as generated.
    pub end: Timestamp,
}

impl<'a> Series<'a> {
    /// Builds a series from a master's start/end instants and its time zone.
    pub fn from_master(
        recurrence: &'a Recurrence,
        zone: &'a WindowsZone,
        start: Timestamp,
        end: Timestamp,
    ) -> Self {
        Series {
            recurrence,
            zone,
            local_start: zone.to_local(start).time(),
            duration: end.duration_since(start),
        }
    }

    /// The occurrence on a given date.
    pub fn occurrence_at(&self, index: u32, date: Date) -> Occurrence {
        let start = self.zone.to_instant(date.to_datetime(self.local_start));
        let end = start.checked_add(self.duration).unwrap_or(Timestamp::MAX);
        Occurrence {
            index,
            original_start: start,
            start,
            end,
        }
    }

    /// All occurrences, in order.
    pub fn occurrences(&self) -> impl Iterator<Item = Occurrence> + '_ {
        self.recurrence
            .dates()
            .map(|(index, date)| self.occurrence_at(index, date))
    }

    /// Occurrences that overlap `[from, to)` (an occurrence ending exactly at `from` is
    /// included, as Exchange's CalendarView does), in order.
    pub fn occurrences_overlapping(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Iterator<Item = Occurrence> + '_ {
        // Skip dates that end before the window quickly, then stop after the window.
        let first_relevant = self
            .zone
            .to_local(from.checked_sub(self.duration).unwrap_or(Timestamp::MIN))
            .date()
            .yesterday()
            .unwrap_or(Date::MIN);
        self.recurrence
            .dates()
            .skip_while(move |&(_, date)| date < first_relevant)
            .map(|(index, date)| self.occurrence_at(index, date))
            .take_while(move |occ| occ.start < to)
            .filter(move |occ| occ.end >= from)
    }

    /// The occurrence whose original start is `original_start`, if the series has one.
    pub fn find(&self, original_start: Timestamp) -> Option<Occurrence> {
        let date = self.zone.to_local(original_start).date();
        self.recurrence
            .dates()
            .take_while(|&(_, d)| d <= date)
            .map(|(index, d)| self.occurrence_at(index, d))
            .find(|occ| occ.original_start == original_start)
    }

    /// The occurrence with a 1-based `InstanceIndex`.
    pub fn nth(&self, index: u32) -> Option<Occurrence> {
        if index == 0 {
            return None;
        }
        self.recurrence
            .dates()
            .find(|&(i, _)| i == index)
            .map(|(i, d)| self.occurrence_at(i, d))
    }

    /// The first occurrence.
    pub fn first(&self) -> Option<Occurrence> {
        self.occurrences().next()
    }

    /// The last occurrence, if the series ends.
    pub fn last(&self) -> Option<Occurrence> {
        match self.recurrence.range {
            Range::NoEnd { .. } => None,
            _ => self.occurrences().last(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::timezone::TimeZoneContextKind;
    use jiff::civil::date;

    fn dates_of(recurrence: &Recurrence) -> Vec<String> {
        recurrence.dates().map(|(_, d)| d.to_string()).collect()
    }

    fn zone(id: &str) -> WindowsZone {
        WindowsZone::lookup(id, TimeZoneContextKind::CalendarItem).unwrap()
    }

    #[test]
    fn daily_every_third_day_with_end_date() {
        let r = Recurrence {
            pattern: Pattern::Daily { interval: 3 },
            range: Range::EndDate {
                start: date(2026, 1, 30),
                end: date(2026, 2, 8),
            },
        };
        assert_eq!(
            dates_of(&r),
            ["2026-01-30", "2026-02-02", "2026-02-05", "2026-02-08"]
        );
    }

    #[test]
    fn weekly_every_second_week_respects_first_day_of_week() {
        // 2026-01-07 is a Wednesday. Weeks start on Monday: week 0 is Jan 5..11.
        let r = Recurrence {
            pattern: Pattern::Weekly {
                interval: 2,
                days: vec![Weekday::Monday, Weekday::Thursday],
                first_day_of_week: Weekday::Monday,
            },
            range: Range::Numbered {
                start: date(2026, 1, 7),
                count: 4,
            },
        };
        // Monday Jan 5 is before the start and does not exist; Thursday Jan 8 is the first.
        assert_eq!(
            dates_of(&r),
            ["2026-01-08", "2026-01-19", "2026-01-22", "2026-02-02"]
        );
    }

    #[test]
    fn weekly_week_boundaries_depend_on_first_day_of_week() {
        // Start Sunday 2026-01-04, every 2 weeks on Sunday and Monday.
        let pattern = |first| Pattern::Weekly {
            interval: 2,
            days: vec![Weekday::Sunday, Weekday::Monday],
            first_day_of_week: first,
        };
        let range = Range::Numbered {
            start: date(2026, 1, 4),
            count: 4,
        };
        let sunday_weeks = Recurrence {
            pattern: pattern(Weekday::Sunday),
            range,
        };
        // Weeks Sun..Sat: Jan 4-5 active, Jan 18-19 active.
        assert_eq!(
            dates_of(&sunday_weeks),
            ["2026-01-04", "2026-01-05", "2026-01-18", "2026-01-19"]
        );
        let monday_weeks = Recurrence {
            pattern: pattern(Weekday::Monday),
            range,
        };
        // Weeks Mon..Sun: week of Dec 29..Jan 4 is active (only Sun Jan 4 on/after start),
        // next active week is Jan 12..18.
        assert_eq!(
            dates_of(&monday_weeks),
            ["2026-01-04", "2026-01-12", "2026-01-18", "2026-01-26"]
        );
    }

    #[test]
    fn absolute_monthly_on_the_31st_falls_on_the_last_day_of_short_months() {
        let r = Recurrence {
            pattern: Pattern::AbsoluteMonthly {
                interval: 1,
                day_of_month: 31,
            },
            range: Range::Numbered {
                start: date(2026, 1, 1),
                count: 5,
            },
        };
        assert_eq!(
            dates_of(&r),
            [
                "2026-01-31",
                "2026-02-28",
                "2026-03-31",
                "2026-04-30",
                "2026-05-31"
            ]
        );
    }

    #[test]
    fn absolute_monthly_interval_counts_from_the_start_month() {
        let r = Recurrence {
            pattern: Pattern::AbsoluteMonthly {
                interval: 3,
                day_of_month: 15,
            },
            range: Range::Numbered {
                start: date(2026, 1, 20),
                count: 3,
            },
        };
        // January 15 is before the start date, so the first is April.
        assert_eq!(dates_of(&r), ["2026-04-15", "2026-07-15", "2026-10-15"]);
    }

    #[test]
    fn relative_monthly_last_friday_and_last_weekday() {
        let last_friday = Recurrence {
            pattern: Pattern::RelativeMonthly {
                interval: 1,
                day: DayOfWeek::Named(Weekday::Friday),
                index: DayOfWeekIndex::Last,
            },
            range: Range::Numbered {
                start: date(2026, 1, 1),
                count: 3,
            },
        };
        assert_eq!(
            dates_of(&last_friday),
            ["2026-01-30", "2026-02-27", "2026-03-27"]
        );
        let last_weekday = Recurrence {
            pattern: Pattern::RelativeMonthly {
                interval: 1,
                day: DayOfWeek::Weekday,
                index: DayOfWeekIndex::Last,
            },
            range: Range::Numbered {
                start: date(2026, 5, 1),
                count: 2,
            },
        };
        // May 31 2026 is a Sunday, so the last weekday is Friday May 29; June 30 is a Tuesday.
        assert_eq!(dates_of(&last_weekday), ["2026-05-29", "2026-06-30"]);
    }

    #[test]
    fn relative_monthly_day_weekend_day_and_second_tuesday() {
        let third_day = Recurrence {
            pattern: Pattern::RelativeMonthly {
                interval: 2,
                day: DayOfWeek::Day,
                index: DayOfWeekIndex::Third,
            },
            range: Range::Numbered {
                start: date(2026, 1, 1),
                count: 2,
            },
        };
        assert_eq!(dates_of(&third_day), ["2026-01-03", "2026-03-03"]);
        let first_weekend_day = Recurrence {
            pattern: Pattern::RelativeMonthly {
                interval: 1,
                day: DayOfWeek::WeekendDay,
                index: DayOfWeekIndex::First,
            },
            range: Range::Numbered {
                start: date(2026, 2, 1),
                count: 2,
            },
        };
        // Feb 1 2026 is a Sunday; March 1 2026 is a Sunday too.
        assert_eq!(dates_of(&first_weekend_day), ["2026-02-01", "2026-03-01"]);
        let second_tuesday = Recurrence {
            pattern: Pattern::RelativeMonthly {
                interval: 1,
                day: DayOfWeek::Named(Weekday::Tuesday),
                index: DayOfWeekIndex::Second,
            },
            range: Range::Numbered {
                start: date(2026, 1, 14),
                count: 2,
            },
        };
        // Second Tuesday of January is the 13th, before the start: first is February 10.
        assert_eq!(dates_of(&second_tuesday), ["2026-02-10", "2026-03-10"]);
    }

    #[test]
    fn absolute_yearly_february_29_falls_on_the_28th_in_common_years() {
        let r = Recurrence {
            pattern: Pattern::AbsoluteYearly {
                month: 2,
                day_of_month: 29,
            },
            range: Range::Numbered {
                start: date(2028, 1, 1),
                count: 5,
            },
        };
        assert_eq!(
            dates_of(&r),
            [
                "2028-02-29",
                "2029-02-28",
                "2030-02-28",
                "2031-02-28",
                "2032-02-29"
            ]
        );
    }

    #[test]
    fn relative_yearly_last_monday_of_may() {
        let r = Recurrence {
            pattern: Pattern::RelativeYearly {
                month: 5,
                day: DayOfWeek::Named(Weekday::Monday),
                index: DayOfWeekIndex::Last,
            },
            range: Range::EndDate {
                start: date(2026, 6, 1),
                end: date(2028, 12, 31),
            },
        };
        assert_eq!(dates_of(&r), ["2027-05-31", "2028-05-29"]);
    }

    #[test]
    fn numbered_range_counts_only_real_occurrences() {
        // Monthly on the 31st from March 15: the first real occurrence is March 31.
        let r = Recurrence {
            pattern: Pattern::AbsoluteMonthly {
                interval: 1,
                day_of_month: 31,
            },
            range: Range::Numbered {
                start: date(2026, 3, 15),
                count: 2,
            },
        };
        assert_eq!(dates_of(&r), ["2026-03-31", "2026-04-30"]);
        assert_eq!(r.last_date(), Some(date(2026, 4, 30)));
    }

    #[test]
    fn no_end_series_is_unbounded_but_lazy() {
        let r = Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            range: Range::NoEnd {
                start: date(2020, 1, 1),
            },
        };
        assert_eq!(
            r.dates().nth(365).map(|(i, d)| (i, d.to_string())),
            Some((366, "2020-12-31".into()))
        );
        assert_eq!(r.last_date(), None);
    }

    #[test]
    fn weekly_meeting_keeps_local_time_across_dst() {
        let berlin = zone("W. Europe Standard Time");
        let r = Recurrence {
            pattern: Pattern::Weekly {
                interval: 1,
                days: vec![Weekday::Monday],
                first_day_of_week: Weekday::Sunday,
            },
            range: Range::NoEnd {
                start: date(2026, 3, 16),
            },
        };
        let start = berlin.to_instant(date(2026, 3, 16).at(9, 0, 0, 0));
        let end = berlin.to_instant(date(2026, 3, 16).at(10, 0, 0, 0));
        let series = Series::from_master(&r, &berlin, start, end);
        let starts: Vec<String> = series
            .occurrences()
            .take(3)
            .map(|o| o.start.to_string())
            .collect();
        // DST starts in the EU on 2026-03-29.
        assert_eq!(
            starts,
            [
                "2026-03-16T08:00:00Z",
                "2026-03-23T08:00:00Z",
                "2026-03-30T07:00:00Z"
            ]
        );
        let ends: Vec<String> = series
            .occurrences()
            .take(3)
            .map(|o| o.end.to_string())
            .collect();
        assert_eq!(
            ends,
            [
                "2026-03-16T09:00:00Z",
                "2026-03-23T09:00:00Z",
                "2026-03-30T08:00:00Z"
            ]
        );
        // And back in autumn (2026-10-25).
        let october: Vec<String> = series
            .occurrences_overlapping(
                "2026-10-18T00:00:00Z".parse().unwrap(),
                "2026-10-28T00:00:00Z".parse().unwrap(),
            )
            .map(|o| o.start.to_string())
            .collect();
        assert_eq!(october, ["2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z"]);
    }

    #[test]
    fn daily_series_across_the_us_spring_gap() {
        let pacific = zone("Pacific Standard Time");
        let r = Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            range: Range::Numbered {
                start: date(2026, 3, 7),
                count: 3,
            },
        };
        // 02:30 local does not exist on March 8: it becomes 03:30 PDT.
        let start = pacific.to_instant(date(2026, 3, 7).at(2, 30, 0, 0));
        let end = pacific.to_instant(date(2026, 3, 7).at(3, 0, 0, 0));
        let series = Series::from_master(&r, &pacific, start, end);
        let starts: Vec<String> = series.occurrences().map(|o| o.start.to_string()).collect();
        assert_eq!(
            starts,
            [
                "2026-03-07T10:30:00Z",
                "2026-03-08T10:30:00Z",
                "2026-03-09T09:30:00Z"
            ]
        );
    }

    #[test]
    fn overlap_includes_an_occurrence_ending_exactly_at_the_window_start() {
        let utc = WindowsZone::utc();
        let r = Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            range: Range::NoEnd {
                start: date(2026, 1, 1),
            },
        };
        let start: Timestamp = "2026-01-01T09:00:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-01T10:00:00Z".parse().unwrap();
        let series = Series::from_master(&r, &utc, start, end);
        let found: Vec<String> = series
            .occurrences_overlapping(
                "2026-01-03T10:00:00Z".parse().unwrap(),
                "2026-01-04T09:00:00Z".parse().unwrap(),
            )
            .map(|o| o.start.to_string())
            .collect();
        // Jan 3 ends exactly at the window start (included); Jan 4 starts exactly at the
        // window end (excluded).
        assert_eq!(found, ["2026-01-03T09:00:00Z"]);
    }

    #[test]
    fn find_and_nth_locate_occurrences() {
        let utc = WindowsZone::utc();
        let r = Recurrence {
            pattern: Pattern::Weekly {
                interval: 1,
                days: vec![Weekday::Tuesday],
                first_day_of_week: Weekday::Sunday,
            },
            range: Range::Numbered {
                start: date(2026, 1, 1),
                count: 3,
            },
        };
        let start: Timestamp = "2026-01-06T12:00:00Z".parse().unwrap();
        let series = Series::from_master(&r, &utc, start, "2026-01-06T13:00:00Z".parse().unwrap());
        let second = series.nth(2).unwrap();
        assert_eq!(second.start.to_string(), "2026-01-13T12:00:00Z");
        assert_eq!(series.find(second.original_start).unwrap().index, 2);
        assert!(series.nth(4).is_none());
        assert!(
            series
                .find("2026-01-13T12:30:00Z".parse().unwrap())
                .is_none()
        );
        assert_eq!(
            series.last().unwrap().start.to_string(),
            "2026-01-20T12:00:00Z"
        );
    }

    #[test]
    fn validation_rejects_what_exchange_rejects() {
        let bad_interval = Recurrence {
            pattern: Pattern::Daily { interval: 0 },
            range: Range::NoEnd {
                start: date(2026, 1, 1),
            },
        };
        assert_eq!(
            bad_interval.validate().unwrap_err().response_code(),
            "ErrorCalendarOutOfRange"
        );
        let no_days = Recurrence {
            pattern: Pattern::Weekly {
                interval: 1,
                days: vec![],
                first_day_of_week: Weekday::Sunday,
            },
            range: Range::NoEnd {
                start: date(2026, 1, 1),
            },
        };
        assert_eq!(no_days.validate().unwrap_err(), RecurrenceError::NoDays);
        let backwards = Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            range: Range::EndDate {
                start: date(2026, 1, 2),
                end: date(2026, 1, 1),
            },
        };
        assert_eq!(
            backwards.validate().unwrap_err().response_code(),
            "ErrorCalendarInvalidRecurrence"
        );
        let empty = Recurrence {
            pattern: Pattern::AbsoluteYearly {
                month: 6,
                day_of_month: 1,
            },
            range: Range::EndDate {
                start: date(2026, 6, 2),
                end: date(2027, 5, 31),
            },
        };
        assert_eq!(
            empty.validate().unwrap_err().response_code(),
            "ErrorRecurrenceHasNoOccurrence"
        );
        let too_late = Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            range: Range::EndDate {
                start: date(2026, 1, 1),
                end: date(4600, 1, 1),
            },
        };
        assert_eq!(
            too_late.validate().unwrap_err().response_code(),
            "ErrorRecurrenceEndDateTooBig"
        );
        let too_many = Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            range: Range::Numbered {
                start: date(2026, 1, 1),
                count: 1000,
            },
        };
        assert!(matches!(
            too_many.validate(),
            Err(RecurrenceError::OutOfRange {
                field: "NumberOfOccurrences",
                ..
            })
        ));
    }

    #[test]
    fn names_round_trip() {
        for m in 1..=12 {
            assert_eq!(parse_month(month_name(m)), Some(m));
        }
        for text in ["Sunday", "Monday", "Day", "Weekday", "WeekendDay"] {
            assert_eq!(DayOfWeek::parse(text).unwrap().as_str(), text);
        }
        for text in ["First", "Second", "Third", "Fourth", "Last"] {
            assert_eq!(DayOfWeekIndex::parse(text).unwrap().as_str(), text);
        }
        assert!(DayOfWeek::parse("Funday").is_none());
    }
}
