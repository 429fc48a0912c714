//! `rooms-sync --tenant DIR booking ...`: the ROOMS side of bookings, for
//! operators and tests. These commands change only ROOMS (`rooms.db`); the
//! next `run` writes the changes to Exchange.
//!
//! ```text
//! booking list [--person EMAIL] [--json]
//! booking occurrences --from T --to T [--person EMAIL] [--time-zone WINDOWS_ID] [--json]
//! booking add --organiser EMAIL --subject S --start T --end T [--time-zone WINDOWS_ID]
//!             [--room EMAIL]... [--attendee EMAIL]... [--optional EMAIL]... [--private]
//!             [--free-busy NAME] [--reminder MIN | --no-reminder] [--all-day]
//!             [--daily | --weekly DAYS] [--interval N] [--first-day-of-week DAY]
//!             [--count N | --until DATE] [--json]
//! booking update ID [the options of add] [--single] [--json]
//! booking cancel ID [--json]
//! booking skip ID --occurrence DATE [--json]
//! booking move ID --occurrence DATE --start T --end T [--json]
//! booking conflicts [--json]
//! booking outbox [--json]
//! booking quarantine [--json]
//! ```
//!
//! # Input
//!
//! A time `T` is RFC 3339 with an offset (`2026-03-30T09:00:00+02:00`,
//! `2026-03-30T07:00:00Z`), or a local time without offset
//! (`2026-03-30T09:00`, or a date `2026-03-30` for midnight) read in the
//! booking's time zone: `--time-zone` (a Windows id, default `UTC`; for
//! `update` and `move` the booking's own). Local times are converted with
//! that zone's rules on that date, so summer and winter times differ as
//! they should; a local time that the clocks skip is refused. `DATE` is
//! `YYYY-MM-DD`; an `--occurrence DATE` is the local date of the occurrence
//! in the series' time zone. `DAYS` are day names separated by commas
//! (`mon,thu` or `Monday,Thursday`). `--free-busy` takes an EWS name (`Free`,
//! `Tentative`, `Busy`, `OOF`, `WorkingElsewhere`, `NoData`); new bookings
//! are `Busy` with a 15-minute reminder. Rooms given with `--room` are also
//! resource attendees. `--private` and `--all-day` take an optional
//! `=false` (for `update`).
//!
//! `update` changes only what its options name: `--room`, `--attendee` and
//! `--optional` replace that list; `--start` alone keeps the length;
//! `--daily`/`--weekly` replace the pattern, `--interval`, `--count` and
//! `--until` change the series, `--single` makes it a single booking.
//! Exceptions of a series that no longer fall on its pattern are dropped.
//!
//! Bad input (an unknown time zone, an end before the start, `--count` with
//! `--until`, a bad day name, an unknown booking id) exits with 2 and a
//! message naming the cause and the fix, and changes nothing.
//!
//! # Output
//!
//! `add` prints the new booking's id (`{"id": ...}` with `--json`);
//! `update`, `cancel`, `skip` and `move` print what they did
//! (`{"id", "revision", "state", "changed"}` with `--json`). Times in JSON are
//! RFC 3339 in UTC; text output shows times in each booking's own zone.
//!
//! `list --json`: `{"bookings":[{"id", "organiser", "rooms":[..], "subject",
//! "start", "end", "time_zone", "all_day", "reminder_minutes", "private",
//! "free_busy", "attendees":[{"email","kind"}], "recurrence", "state",
//! "exchange", "home", "revision", "synced_revision", "pending", "attempts",
//! "last_error", "links":[{"mailbox","item_id","change_key","uid"}]}]}`, where
//! `kind` is `required`, `optional` or `resource`; `state` is `active`,
//! `cancelled` or `sync-disabled`; `exchange` is `{"item_id", "change_key",
//! "uid"}` of the link in the home mailbox, or null; `recurrence` is null or
//! `{"pattern":{"type", "interval", ...}, "range":{"start":"YYYY-MM-DD",
//! "end":"YYYY-MM-DD" or null, "count": n or null}, "modified":[{"original_start",
//! "subject", "start", "end"}], "deleted":["original_start", ...]}`. The
//! pattern's `type` is `daily`, `weekly` (with `days` and
//! `first_day_of_week`), `absolute-monthly` (`day_of_month`),
//! `relative-monthly` (`day`, `index`), `absolute-yearly` (`month`,
//! `day_of_month`) or `relative-yearly` (`month`, `day`, `index`); days and
//! indexes are EWS names (`Monday`, `WeekendDay`, `Last`); yearly patterns
//! have interval 1.
//!
//! `occurrences --json`: `{"occurrences":[{"booking", "subject", "start",
//! "end", "rooms", "original_start", "modified", "time_zone"}]}`, every
//! occurrence of an active or sync-disabled booking that meets the window,
//! series expanded with their exceptions, sorted by start;
//! `original_start` is null for a single booking.
//!
//! `conflicts --json`: `{"conflicts":[{"seq", "booking", "mailbox",
//! "differences":[{"field","rooms","exchange"}], "winner" (rooms, exchange or
//! none), "attempt", "at"}]}`. `outbox --json`: `{"notices":[{"seq",
//! "booking", "recipient", "kind" (conflict-rolled-back, conflict-cancelled,
//! sync-disabled, room-declined, ambiguous-rooms), "message", "at"}]}`.
//! `quarantine --json`: `{"quarantined":[{"mailbox", "item_id", "subject",
//! "reason", "at"}]}`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::cli::EXIT_OK;
use crate::occurrences::{self, Zone};
use crate::rooms_db::bookings::shown_instant;
use crate::rooms_db::{
    Attendee, AttendeeKind, Booking, BookingFields, BookingState, Date, FreeBusy, Instant, Pattern,
    Recurrence, RecurrenceRange, RoomsDb, Weekday,
};
use crate::tenant::open_database;
use crate::text::operator_text;

/// The reminder of a new booking, in minutes.
pub const DEFAULT_REMINDER_MINUTES: u32 = 15;

/// The `booking` subcommands.
#[derive(Debug, Subcommand)]
pub enum BookingCommand {
    /// List the bookings.
    List {
        /// Only the bookings this address takes part in (organiser, room,
        /// attendee or home mailbox).
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List every occurrence in a window, series expanded with their
    /// exceptions.
    Occurrences {
        /// Start of the window (RFC 3339, or a local time in --time-zone).
        #[arg(long, value_name = "T")]
        from: String,
        /// End of the window, exclusive.
        #[arg(long, value_name = "T")]
        to: String,
        /// Only the bookings this address takes part in.
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
        /// The Windows time zone of --from and --to without offset.
        #[arg(long, value_name = "WINDOWS_ID", default_value = "UTC")]
        time_zone: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a booking; prints its id.
    Add(FieldArgs),
    /// Change a booking: only the fields named.
    Update {
        /// The booking's id.
        id: String,
        #[command(flatten)]
        fields: FieldArgs,
    },
    /// Cancel a booking.
    Cancel {
        /// The booking's id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete one occurrence of a series.
    Skip {
        /// The booking's id.
        id: String,
        /// The occurrence's local date (YYYY-MM-DD) in the series' time zone.
        #[arg(long, value_name = "DATE")]
        occurrence: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move (modify) one occurrence of a series.
    Move {
        /// The booking's id.
        id: String,
        /// The occurrence's local date (YYYY-MM-DD) in the series' time zone.
        #[arg(long, value_name = "DATE")]
        occurrence: String,
        /// Its new start (RFC 3339, or a local time in the series' zone).
        #[arg(long, value_name = "T")]
        start: String,
        /// Its new end.
        #[arg(long, value_name = "T")]
        end: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the conflict records.
    Conflicts {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the notices for organisers (the outbox).
    Outbox {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the Exchange items set aside because they could not be read.
    Quarantine {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The fields of `booking add` and `booking update`.
#[derive(Debug, Args)]
pub struct FieldArgs {
    /// The organiser's address (a person of the tenant, or an outside
    /// address with a room that is one).
    #[arg(long, value_name = "EMAIL")]
    organiser: Option<String>,
    /// The subject.
    #[arg(long, value_name = "S")]
    subject: Option<String>,
    /// The start (RFC 3339, or a local time in --time-zone).
    #[arg(long, value_name = "T")]
    start: Option<String>,
    /// The end (RFC 3339, or a local time in --time-zone).
    #[arg(long, value_name = "T")]
    end: Option<String>,
    /// The Windows time-zone id the booking is made in (default UTC).
    #[arg(long, value_name = "WINDOWS_ID")]
    time_zone: Option<String>,
    /// A room to book (repeatable); also a resource attendee.
    #[arg(long = "room", value_name = "EMAIL")]
    rooms: Vec<String>,
    /// A required attendee (repeatable).
    #[arg(long = "attendee", value_name = "EMAIL")]
    attendees: Vec<String>,
    /// An optional attendee (repeatable).
    #[arg(long = "optional", value_name = "EMAIL")]
    optional: Vec<String>,
    /// Private (Sensitivity Private); `--private=false` to clear.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    private: Option<bool>,
    /// Free/busy status: Free, Tentative, Busy, OOF, WorkingElsewhere or NoData.
    #[arg(long, value_name = "NAME")]
    free_busy: Option<String>,
    /// Reminder minutes before the start (default 15).
    #[arg(long, value_name = "MIN", conflicts_with = "no_reminder")]
    reminder: Option<u32>,
    /// No reminder.
    #[arg(long)]
    no_reminder: bool,
    /// An all-day booking (give dates); `--all-day=false` to clear.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    all_day: Option<bool>,
    /// Repeat every day (or every --interval days).
    #[arg(long)]
    daily: bool,
    /// Repeat every week (or every --interval weeks) on these days, e.g. mon,thu.
    #[arg(long, value_name = "DAYS")]
    weekly: Option<String>,
    /// Days or weeks between occurrences (default 1).
    #[arg(long, value_name = "N")]
    interval: Option<u32>,
    /// The first day of the week of a weekly series (default Sunday, as in
    /// Exchange): decides which weeks an interval above 1 skips.
    #[arg(long, value_name = "DAY")]
    first_day_of_week: Option<String>,
    /// End the series after N occurrences.
    #[arg(long, value_name = "N")]
    count: Option<u32>,
    /// End the series on this date (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Make a series a single booking again (update only).
    #[arg(long)]
    single: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `booking` subcommand on the tenant directory `tenant`.
pub fn run(tenant: &Path, cmd: &BookingCommand, out: &mut dyn Write) -> anyhow::Result<i32> {
    let db = open_database(tenant)?;
    match cmd {
        BookingCommand::List { person, json } => list(&db, person.as_deref(), *json, out)?,
        BookingCommand::Occurrences {
            from,
            to,
            person,
            time_zone,
            json,
        } => {
            let zone = zone(time_zone)?;
            let from = parse_time(from, &zone, "--from")?;
            let to = parse_time(to, &zone, "--to")?;
            if to <= from {
                bail!(
                    "the window ends ({}) before it starts ({}); give a --to after --from",
                    shown_instant(to),
                    shown_instant(from)
                );
            }
            list_occurrences(&db, from, to, person.as_deref(), *json, out)?;
        }
        BookingCommand::Add(args) => {
            let fields = fields_for_add(args)?;
            let booking = db.add_booking(fields)?;
            if args.json {
                writeln!(out, "{}", json!({ "id": booking.id }))?;
            } else {
                writeln!(out, "{}", booking.id)?;
            }
        }
        BookingCommand::Update { id, fields: args } => {
            let stored = existing(&db, id)?;
            if args.organiser.is_none()
                && args.subject.is_none()
                && args.start.is_none()
                && args.end.is_none()
                && args.time_zone.is_none()
                && args.rooms.is_empty()
                && args.attendees.is_empty()
                && args.optional.is_empty()
                && args.private.is_none()
                && args.free_busy.is_none()
                && args.reminder.is_none()
                && !args.no_reminder
                && args.all_day.is_none()
                && !args.daily
                && args.weekly.is_none()
                && args.interval.is_none()
                && args.first_day_of_week.is_none()
                && args.count.is_none()
                && args.until.is_none()
                && !args.single
            {
                bail!(
                    "nothing to change: name a field to change, e.g. `booking update {id} --subject S`"
                );
            }
            let fields = fields_for_update(&stored, args)?;
            let updated = db.update_booking(&stored.id, fields)?;
            report(
                out,
                args.json,
                "updated",
                &updated,
                updated.revision != stored.revision,
            )?;
        }
        BookingCommand::Cancel { id, json } => {
            let (booking, changed) = db.cancel_booking(id)?;
            let verb = if changed {
                "cancelled"
            } else {
                "was already cancelled:"
            };
            report(out, *json, verb, &booking, changed)?;
        }
        BookingCommand::Skip {
            id,
            occurrence,
            json,
        } => {
            let stored = existing(&db, id)?;
            let original = occurrence_start(&stored, occurrence)?;
            let booking = db.skip_occurrence(&stored.id, original)?;
            report(out, *json, "skipped an occurrence of", &booking, true)?;
        }
        BookingCommand::Move {
            id,
            occurrence,
            start,
            end,
            json,
        } => {
            let stored = existing(&db, id)?;
            let original = occurrence_start(&stored, occurrence)?;
            let zone = zone(&stored.fields.time_zone)?;
            let start = parse_time(start, &zone, "--start")?;
            let end = parse_time(end, &zone, "--end")?;
            let booking = db.move_occurrence(&stored.id, original, start, end)?;
            report(out, *json, "moved an occurrence of", &booking, true)?;
        }
        BookingCommand::Conflicts { json } => conflicts(&db, *json, out)?,
        BookingCommand::Outbox { json } => outbox(&db, *json, out)?,
        BookingCommand::Quarantine { json } => quarantine(&db, *json, out)?,
    }
    Ok(EXIT_OK)
}

/// The stored booking `id`, or the error naming `booking list`.
fn existing(db: &RoomsDb, id: &str) -> anyhow::Result<Booking> {
    Ok(db
        .get_booking(id.trim())?
        .ok_or_else(|| crate::rooms_db::DbError::UnknownBooking(id.to_string()))?)
}

/// What a changing command prints.
fn report(
    out: &mut dyn Write,
    json: bool,
    verb: &str,
    booking: &Booking,
    changed: bool,
) -> anyhow::Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            json!({
                "id": booking.id,
                "revision": booking.revision,
                "state": booking.state.as_str(),
                "changed": changed,
            })
        )?;
    } else if changed {
        writeln!(
            out,
            "{verb} {} (revision {}; the next run writes it to Exchange)",
            booking.id, booking.revision
        )?;
    } else {
        writeln!(out, "{verb} {} (nothing changed)", booking.id)?;
    }
    Ok(())
}

/// The original start of the occurrence of `booking` on local date `text`.
fn occurrence_start(booking: &Booking, text: &str) -> anyhow::Result<Instant> {
    if booking.fields.recurrence.is_none() {
        bail!(
            "booking {} is a single booking, not a series; use `booking update` or `booking cancel`",
            booking.id
        );
    }
    let date = parse_date(text, "--occurrence")?;
    occurrences::occurrence_on(&booking.fields, date)?.with_context(|| {
        format!(
            "booking {} has no occurrence on {date}; see `booking occurrences --from {date} --to ...` for its dates",
            booking.id
        )
    })
}

/// A Windows time zone, or the error naming the fix.
fn zone(id: &str) -> anyhow::Result<Zone> {
    Zone::lookup(id).with_context(|| "--time-zone".to_string())
}

/// Parses a time: RFC 3339 with an offset, or a local date and time (or a
/// date, for midnight) in `zone`.
pub fn parse_time(text: &str, zone: &Zone, option: &str) -> anyhow::Result<Instant> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.as_second());
    }
    let local = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| text.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>())
        .or_else(|_| {
            text.parse::<jiff::civil::Date>()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .map_err(|_| {
            anyhow::anyhow!(
                "{option} `{}` is not a time; give RFC 3339 with an offset (2026-03-30T09:00:00+02:00) or a local time (2026-03-30T09:00) in the booking's time zone",
                operator_text(text, 80)
            )
        })?;
    zone.instant_strict(local)
        .with_context(|| option.to_string())
}

/// Parses a `YYYY-MM-DD` date.
fn parse_date(text: &str, option: &str) -> anyhow::Result<Date> {
    text.trim()
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(Date::from_civil)
        .with_context(|| {
            format!(
                "{option} `{}` is not a date; give YYYY-MM-DD, e.g. 2026-03-30",
                operator_text(text, 80)
            )
        })
}

/// Parses a day name (`mon`, `Monday`).
fn parse_day(text: &str, option: &str) -> anyhow::Result<Weekday> {
    Weekday::parse(text)
        .filter(|d| d.to_jiff().is_some())
        .with_context(|| {
            format!(
                "{option}: `{}` is not a day of the week; use Monday to Sunday or mon, tue, wed, thu, fri, sat, sun",
                operator_text(text, 40)
            )
        })
}

/// Parses comma-separated day names.
fn parse_days(text: &str) -> anyhow::Result<Vec<Weekday>> {
    let days: Vec<Weekday> = text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| parse_day(d, "--weekly"))
        .collect::<anyhow::Result<_>>()?;
    if days.is_empty() {
        bail!("--weekly needs at least one day, e.g. --weekly mon,thu");
    }
    Ok(days)
}

fn parse_free_busy(text: &str) -> anyhow::Result<FreeBusy> {
    FreeBusy::parse(text).with_context(|| {
        format!(
            "--free-busy `{}` is not a free/busy status; use Free, Tentative, Busy, OOF, WorkingElsewhere or NoData",
            operator_text(text, 40)
        )
    })
}

/// The attendees the options name, rooms not included (they are added as
/// resources by the store).
fn attendees_of(required: &[String], optional: &[String]) -> Vec<Attendee> {
    required
        .iter()
        .map(|email| Attendee {
            email: email.clone(),
            kind: AttendeeKind::Required,
        })
        .chain(optional.iter().map(|email| Attendee {
            email: email.clone(),
            kind: AttendeeKind::Optional,
        }))
        .collect()
}

/// Refuses recurrence options that do not go together.
fn check_recurrence_options(args: &FieldArgs, series_exists: bool) -> anyhow::Result<()> {
    if args.daily && args.weekly.is_some() {
        bail!("a series is either --daily or --weekly DAYS; give one of them");
    }
    if args.count.is_some() && args.until.is_some() {
        bail!(
            "a series ends either after --count N occurrences or on --until DATE; give one of them"
        );
    }
    if args.single && (args.daily || args.weekly.is_some()) {
        bail!("--single makes a single booking; leave out --daily and --weekly");
    }
    let pattern_given = args.daily || args.weekly.is_some();
    for (given, option) in [
        (args.interval.is_some(), "--interval"),
        (args.count.is_some(), "--count"),
        (args.until.is_some(), "--until"),
        (args.first_day_of_week.is_some(), "--first-day-of-week"),
    ] {
        if given && !pattern_given && (!series_exists || args.single) {
            bail!("{option} applies to a series; add --daily or --weekly DAYS");
        }
    }
    if args.interval == Some(0) {
        bail!("--interval must be 1 or more");
    }
    if args.count == Some(0) {
        bail!("--count must be 1 or more");
    }
    Ok(())
}

/// The pattern the options name, if any (`interval` defaults to `base`'s
/// or 1).
fn pattern_of(args: &FieldArgs, base: Option<&Pattern>) -> anyhow::Result<Option<Pattern>> {
    let interval = args.interval.or(base.map(Pattern::interval)).unwrap_or(1);
    let first_day_of_week = match &args.first_day_of_week {
        Some(day) => parse_day(day, "--first-day-of-week")?,
        None => match base {
            Some(Pattern::Weekly {
                first_day_of_week, ..
            }) => *first_day_of_week,
            _ => Weekday::Sunday,
        },
    };
    if args.daily {
        return Ok(Some(Pattern::Daily { interval }));
    }
    if let Some(days) = &args.weekly {
        return Ok(Some(Pattern::Weekly {
            interval,
            days: parse_days(days)?,
            first_day_of_week,
        }));
    }
    // No new pattern: the options may still change the interval or the
    // first day of the week of the existing one.
    let Some(base) = base else {
        return Ok(None);
    };
    let mut pattern = base.clone();
    if let Some(n) = args.interval {
        match &mut pattern {
            Pattern::Daily { interval }
            | Pattern::Weekly { interval, .. }
            | Pattern::AbsoluteMonthly { interval, .. }
            | Pattern::RelativeMonthly { interval, .. } => *interval = n,
            Pattern::AbsoluteYearly { .. } | Pattern::RelativeYearly { .. } => {
                bail!("a yearly series has no interval; leave out --interval")
            }
        }
    }
    if args.first_day_of_week.is_some() {
        match &mut pattern {
            Pattern::Weekly {
                first_day_of_week: day,
                ..
            } => *day = first_day_of_week,
            _ => bail!("--first-day-of-week applies to weekly series only"),
        }
    }
    Ok(Some(pattern))
}

/// The range the options give, on top of `base` (the range start is set
/// by the store from the start).
fn range_of(args: &FieldArgs, base: Option<&RecurrenceRange>) -> anyhow::Result<RecurrenceRange> {
    let mut range = base.cloned().unwrap_or(RecurrenceRange {
        start: Date {
            year: 1970,
            month: 1,
            day: 1,
        },
        end: None,
        count: None,
    });
    if let Some(count) = args.count {
        range.count = Some(count);
        range.end = None;
    }
    if let Some(until) = &args.until {
        range.end = Some(parse_date(until, "--until")?);
        range.count = None;
    }
    Ok(range)
}

/// The fields of `booking add` from its options.
fn fields_for_add(args: &FieldArgs) -> anyhow::Result<BookingFields> {
    let required = |value: &Option<String>, option: &str, example: &str| {
        value
            .clone()
            .with_context(|| format!("booking add needs {option}, e.g. {option} {example}"))
    };
    let organiser = required(&args.organiser, "--organiser", "adele@contoso.com")?;
    let subject = required(&args.subject, "--subject", "\"Planning\"")?;
    let start = required(&args.start, "--start", "2026-03-30T09:00")?;
    let end = required(&args.end, "--end", "2026-03-30T10:00")?;
    if args.single {
        bail!("--single is for `booking update`; a booking without --daily or --weekly is single");
    }
    check_recurrence_options(args, false)?;
    let zone = zone(args.time_zone.as_deref().unwrap_or("UTC"))?;
    let start = parse_time(&start, &zone, "--start")?;
    let end = parse_time(&end, &zone, "--end")?;
    let recurrence = pattern_of(args, None)?
        .map(|pattern| -> anyhow::Result<Recurrence> {
            Ok(Recurrence {
                pattern,
                range: range_of(args, None)?,
                modified: Vec::new(),
                deleted: Vec::new(),
            })
        })
        .transpose()?;
    Ok(BookingFields {
        organiser,
        rooms: args.rooms.clone(),
        subject,
        start,
        end,
        time_zone: zone.windows_id().to_string(),
        all_day: args.all_day.unwrap_or(false),
        reminder_minutes: if args.no_reminder {
            None
        } else {
            Some(args.reminder.unwrap_or(DEFAULT_REMINDER_MINUTES))
        },
        private: args.private.unwrap_or(false),
        free_busy: match &args.free_busy {
            Some(name) => parse_free_busy(name)?,
            None => FreeBusy::Busy,
        },
        attendees: attendees_of(&args.attendees, &args.optional),
        recurrence,
    })
}

/// The fields of `booking update`: the stored ones with what the options
/// name changed.
fn fields_for_update(stored: &Booking, args: &FieldArgs) -> anyhow::Result<BookingFields> {
    let old = &stored.fields;
    check_recurrence_options(args, old.recurrence.is_some())?;
    let mut fields = old.clone();
    if let Some(organiser) = &args.organiser {
        fields.organiser = organiser.clone();
    }
    if let Some(subject) = &args.subject {
        fields.subject = subject.clone();
    }
    let zone = zone(args.time_zone.as_deref().unwrap_or(&old.time_zone))?;
    fields.time_zone = zone.windows_id().to_string();
    let length = old.end - old.start;
    if let Some(start) = &args.start {
        fields.start = parse_time(start, &zone, "--start")?;
        fields.end = fields.start + length;
    }
    if let Some(end) = &args.end {
        fields.end = parse_time(end, &zone, "--end")?;
    }
    if !args.rooms.is_empty() {
        // The new rooms replace the old ones, also among the attendees.
        fields
            .attendees
            .retain(|a| !(a.kind == AttendeeKind::Resource && old.rooms.contains(&a.email)));
        fields.rooms = args.rooms.clone();
    }
    if !args.attendees.is_empty() {
        fields
            .attendees
            .retain(|a| a.kind != AttendeeKind::Required);
        fields.attendees.extend(attendees_of(&args.attendees, &[]));
    }
    if !args.optional.is_empty() {
        fields
            .attendees
            .retain(|a| a.kind != AttendeeKind::Optional);
        fields.attendees.extend(attendees_of(&[], &args.optional));
    }
    if let Some(private) = args.private {
        fields.private = private;
    }
    if let Some(name) = &args.free_busy {
        fields.free_busy = parse_free_busy(name)?;
    }
    if args.no_reminder {
        fields.reminder_minutes = None;
    } else if let Some(minutes) = args.reminder {
        fields.reminder_minutes = Some(minutes);
    }
    if let Some(all_day) = args.all_day {
        fields.all_day = all_day;
    }
    if args.single {
        fields.recurrence = None;
    } else if let Some(pattern) = pattern_of(args, old.recurrence.as_ref().map(|r| &r.pattern))? {
        let base = old.recurrence.as_ref();
        fields.recurrence = Some(Recurrence {
            pattern,
            range: range_of(args, base.map(|r| &r.range))?,
            modified: base.map(|r| r.modified.clone()).unwrap_or_default(),
            deleted: base.map(|r| r.deleted.clone()).unwrap_or_default(),
        });
    }
    Ok(fields)
}

/// An instant as local time with offset in `zone` (RFC 3339 in UTC when
/// the zone is unknown), for text output.
fn local(t: Instant, zone: Option<&Zone>) -> String {
    zone.map_or_else(|| shown_instant(t), |zone| zone.display(t))
}

/// One booking of `booking list --json`.
pub fn booking_json(b: &Booking) -> Value {
    let f = &b.fields;
    let exchange = b
        .link(&b.home)
        .map(|l| json!({ "item_id": l.item_id, "change_key": l.change_key, "uid": l.uid }));
    json!({
        "id": b.id,
        "organiser": f.organiser,
        "rooms": f.rooms,
        "subject": f.subject,
        "start": shown_instant(f.start),
        "end": shown_instant(f.end),
        "time_zone": f.time_zone,
        "all_day": f.all_day,
        "reminder_minutes": f.reminder_minutes,
        "private": f.private,
        "free_busy": f.free_busy.as_ews(),
        "attendees": f.attendees.iter().map(|a| json!({
            "email": a.email,
            "kind": a.kind.as_str(),
        })).collect::<Vec<_>>(),
        "recurrence": f.recurrence.as_ref().map(recurrence_json),
        "state": b.state.as_str(),
        "exchange": exchange,
        "home": b.home,
        "revision": b.revision,
        "synced_revision": b.synced_revision,
        "pending": b.is_pending(),
        "attempts": b.attempts,
        "last_error": b.last_error,
        "links": b.links.iter().map(|l| json!({
            "mailbox": l.mailbox,
            "item_id": l.item_id,
            "change_key": l.change_key,
            "uid": l.uid,
        })).collect::<Vec<_>>(),
    })
}

/// The `recurrence` of `booking list --json`.
pub fn recurrence_json(r: &Recurrence) -> Value {
    let mut pattern = json!({
        "type": r.pattern.type_name(),
        "interval": r.pattern.interval(),
    });
    let extra = match &r.pattern {
        Pattern::Daily { .. } => json!({}),
        Pattern::Weekly {
            days,
            first_day_of_week,
            ..
        } => json!({
            "days": days.iter().map(|d| d.as_ews()).collect::<Vec<_>>(),
            "first_day_of_week": first_day_of_week.as_ews(),
        }),
        Pattern::AbsoluteMonthly { day_of_month, .. } => json!({ "day_of_month": day_of_month }),
        Pattern::RelativeMonthly { day, index, .. } => {
            json!({ "day": day.as_ews(), "index": index.as_ews() })
        }
        Pattern::AbsoluteYearly {
            month,
            day_of_month,
        } => json!({ "month": month, "day_of_month": day_of_month }),
        Pattern::RelativeYearly { month, day, index } => {
            json!({ "month": month, "day": day.as_ews(), "index": index.as_ews() })
        }
    };
    if let (Some(pattern), Value::Object(extra)) = (pattern.as_object_mut(), extra) {
        pattern.extend(extra);
    }
    json!({
        "pattern": pattern,
        "range": {
            "start": r.range.start.to_string(),
            "end": r.range.end.map(|d| d.to_string()),
            "count": r.range.count,
        },
        "modified": r.modified.iter().map(|m| json!({
            "original_start": shown_instant(m.original_start),
            "subject": m.subject,
            "start": shown_instant(m.start),
            "end": shown_instant(m.end),
        })).collect::<Vec<_>>(),
        "deleted": r.deleted.iter().map(|t| shown_instant(*t)).collect::<Vec<_>>(),
    })
}

/// A short text of a series for the table (`weekly Mon,Thu until
/// 2026-06-30`).
fn recurrence_text(r: &Recurrence) -> String {
    let every = match r.pattern.interval() {
        1 => String::new(),
        n => format!(" every {n}"),
    };
    let what = match &r.pattern {
        Pattern::Weekly { days, .. } => format!(
            "weekly{every} {}",
            days.iter()
                .map(|d| &d.as_ews()[..3])
                .collect::<Vec<_>>()
                .join(",")
        ),
        p => format!("{}{every}", p.type_name()),
    };
    let end = match (r.range.end, r.range.count) {
        (Some(end), _) => format!(" until {end}"),
        (None, Some(count)) => format!(" x{count}"),
        (None, None) => " no end".into(),
    };
    let exceptions = match (r.modified.len(), r.deleted.len()) {
        (0, 0) => String::new(),
        (m, d) => format!(", {m} moved, {d} skipped"),
    };
    format!("{what}{end}{exceptions}")
}

fn list(db: &RoomsDb, person: Option<&str>, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let bookings = db.list_bookings(person)?;
    if json {
        let list: Vec<Value> = bookings.iter().map(booking_json).collect();
        writeln!(out, "{}", json!({ "bookings": list }))?;
        return Ok(());
    }
    if bookings.is_empty() {
        writeln!(
            out,
            "no bookings; add one with `booking add --organiser EMAIL --subject S --start T --end T`"
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:36}  {:22}  {:22}  {:13}  {:8}  SUBJECT",
        "ID", "START", "END", "STATE", "SYNC"
    )?;
    for b in &bookings {
        let zone = Zone::lookup(&b.fields.time_zone).ok();
        let sync = if b.is_pending() { "pending" } else { "synced" };
        let mut details = Vec::new();
        if !b.fields.rooms.is_empty() {
            details.push(b.fields.rooms.join(", "));
        }
        if let Some(r) = &b.fields.recurrence {
            details.push(recurrence_text(r));
        }
        if b.fields.private {
            details.push("private".into());
        }
        let details = if details.is_empty() {
            String::new()
        } else {
            format!(" ({})", details.join("; "))
        };
        writeln!(
            out,
            "{:36}  {:22}  {:22}  {:13}  {:8}  {}{}",
            operator_text(&b.id, 36),
            local(b.fields.start, zone.as_ref()),
            local(b.fields.end, zone.as_ref()),
            b.state.as_str(),
            sync,
            operator_text(&b.fields.subject, 255),
            operator_text(&details, 400),
        )?;
        if let Some(error) = &b.last_error {
            writeln!(out, "{:36}  last error: {}", "", operator_text(error, 400))?;
        }
    }
    Ok(())
}

fn list_occurrences(
    db: &RoomsDb,
    from: Instant,
    to: Instant,
    person: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut all = Vec::new();
    let mut problems = Vec::new();
    for b in db.list_bookings(person)? {
        if b.state == BookingState::Cancelled {
            continue;
        }
        match occurrences::expand(&b.fields, from, to) {
            Ok(found) => all.extend(found.into_iter().map(|o| (o, b.clone()))),
            Err(e) => problems.push(format!("booking {}: {e}", b.id)),
        }
    }
    all.sort_by(|(a, x), (b, y)| (a.start, &x.id).cmp(&(b.start, &y.id)));
    if json {
        let list: Vec<Value> = all
            .iter()
            .map(|(o, b)| {
                json!({
                    "booking": b.id,
                    "subject": o.subject,
                    "start": shown_instant(o.start),
                    "end": shown_instant(o.end),
                    "rooms": b.fields.rooms,
                    "original_start": o.original_start.map(shown_instant),
                    "modified": o.modified,
                    "time_zone": b.fields.time_zone,
                })
            })
            .collect();
        let mut doc = json!({ "occurrences": list });
        if !problems.is_empty() {
            doc["problems"] = json!(problems);
        }
        writeln!(out, "{doc}")?;
    } else if all.is_empty() && problems.is_empty() {
        writeln!(
            out,
            "no occurrences from {} to {}",
            shown_instant(from),
            shown_instant(to)
        )?;
    } else {
        for (o, b) in &all {
            let zone = Zone::lookup(&b.fields.time_zone).ok();
            writeln!(
                out,
                "{:22}  {:22}  {:36}  {}{}{}",
                local(o.start, zone.as_ref()),
                local(o.end, zone.as_ref()),
                operator_text(&b.id, 36),
                operator_text(&o.subject, 255),
                if o.modified { " (moved)" } else { "" },
                if b.fields.rooms.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", b.fields.rooms.join(", "))
                },
            )?;
        }
        for problem in &problems {
            writeln!(out, "cannot expand {}", operator_text(problem, 400))?;
        }
    }
    Ok(())
}

fn conflicts(db: &RoomsDb, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let records = db.list_conflicts()?;
    if json {
        let list: Vec<Value> = records
            .iter()
            .map(|r| {
                let c = &r.conflict;
                json!({
                    "seq": r.seq,
                    "booking": c.booking,
                    "mailbox": c.mailbox,
                    "differences": c.differences.iter().map(|d| json!({
                        "field": d.field,
                        "rooms": d.rooms,
                        "exchange": d.exchange,
                    })).collect::<Vec<_>>(),
                    "winner": c.winner.as_str(),
                    "attempt": c.attempt,
                    "at": shown_instant(c.at),
                })
            })
            .collect();
        writeln!(out, "{}", json!({ "conflicts": list }))?;
    } else if records.is_empty() {
        writeln!(out, "no conflicts")?;
    } else {
        for r in &records {
            let c = &r.conflict;
            writeln!(
                out,
                "{}  booking {} in {}: attempt {}, kept {}",
                shown_instant(c.at),
                operator_text(&c.booking, 80),
                operator_text(&c.mailbox, 320),
                c.attempt,
                c.winner.as_str()
            )?;
            for d in &c.differences {
                writeln!(
                    out,
                    "    {}: ROOMS {:?}, Exchange {:?}",
                    operator_text(&d.field, 80),
                    operator_text(&d.rooms, 200),
                    operator_text(&d.exchange, 200)
                )?;
            }
        }
    }
    Ok(())
}

fn outbox(db: &RoomsDb, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let records = db.list_notices()?;
    if json {
        let list: Vec<Value> = records
            .iter()
            .map(|r| {
                let n = &r.notice;
                json!({
                    "seq": r.seq,
                    "booking": n.booking,
                    "recipient": n.recipient,
                    "kind": n.kind.as_str(),
                    "message": n.message,
                    "at": shown_instant(n.at),
                })
            })
            .collect();
        writeln!(out, "{}", json!({ "notices": list }))?;
    } else if records.is_empty() {
        writeln!(out, "no notices")?;
    } else {
        for r in &records {
            let n = &r.notice;
            writeln!(
                out,
                "{}  to {} ({}{}): {}",
                shown_instant(n.at),
                operator_text(&n.recipient, 320),
                n.kind.as_str(),
                n.booking
                    .as_deref()
                    .map(|b| format!(", booking {}", operator_text(b, 80)))
                    .unwrap_or_default(),
                operator_text(&n.message, 2_000)
            )?;
        }
    }
    Ok(())
}

fn quarantine(db: &RoomsDb, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let records = db.list_quarantined()?;
    if json {
        let list: Vec<Value> = records
            .iter()
            .map(|r| {
                json!({
                    "mailbox": r.item.item.mailbox,
                    "item_id": r.item.item.item_id,
                    "subject": r.item.subject,
                    "reason": r.item.reason,
                    "at": shown_instant(r.at),
                })
            })
            .collect();
        writeln!(out, "{}", json!({ "quarantined": list }))?;
    } else if records.is_empty() {
        writeln!(out, "no quarantined items")?;
    } else {
        for r in &records {
            writeln!(
                out,
                "{}  {} item {}: {:?}: {}",
                shown_instant(r.at),
                operator_text(&r.item.item.mailbox, 320),
                operator_text(&r.item.item.item_id, 200),
                operator_text(&r.item.subject, 255),
                operator_text(&r.item.reason, 2_000)
            )?;
        }
    }
    Ok(())
}
