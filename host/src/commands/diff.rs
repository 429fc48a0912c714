//! `rooms-sync --tenant DIR diff --person EMAIL [--from DATE --to DATE]
//! [--json] [--resolve TARGET use-exchange|use-rooms|ignore]`: where the
//! person's ROOMS bookings and Exchange calendar disagree (the original
//! product's "Sync-Differenzen"), and settling one difference.
//!
//! The comparison is the component's (`sync.diff-person`, see
//! [`crate::calls::diff`]): bookings homed in the person's mailbox against
//! the items of the calendar, field by field, series by definition and then
//! occurrence by occurrence. The host then leaves out items the sync
//! quarantined (`booking quarantine` lists them with the reason) and the
//! differences an operator ignored while neither side changed since (the
//! booking's revision and the item's ChangeKey as recorded, in `rooms.db`
//! [`crate::rooms_db::differences`]).
//!
//! # Window
//!
//! `--from` and `--to` are dates (`YYYY-MM-DD`, UTC), both included; the
//! default is today − 30 days to today + 365 days (`ROOMS_SYNC_TODAY` pins
//! today for tests, as for `check`). A booking or item counts when it
//! overlaps the window, a series when its range does.
//!
//! # Resolving
//!
//! `--resolve TARGET use-exchange|use-rooms` calls the component
//! (`sync.resolve-difference`): `use-exchange` applies the Exchange item to
//! the booking (imports an item with no booking; cancels a booking whose
//! item is gone), `use-rooms` writes the booking to Exchange over the item's
//! current version. `ignore` is the host's: it records the difference of
//! TARGET as `diff` sees it now, and `diff` hides it until the booking's
//! revision or the item's ChangeKey moves. TARGET is a booking id, or for an
//! item with no booking its ItemId or UID. A resolution clears an ignore
//! record of the target.
//!
//! # Output
//!
//! Text: one line per difference (`[MISSING IN EXCHANGE]`, `[MISSING IN
//! ROOMS]`, `[DIFFERS]`), the differing fields below it with both values;
//! colour only on a terminal. `--json` prints one object, documented in the
//! README ("`diff --json`"; fields are only ever added):
//!
//! ```text
//! {"person", "from", "to", "ignored",
//!  "differences":[{"kind", "booking", "state", "revision", "item_id",
//!                  "change_key", "uid", "subject", "start", "end",
//!                  "occurrence", "fields":[{"field","rooms","exchange"}]}]}
//! ```
//!
//! and for `--resolve` `{"person", "target", "resolution", "resolved"}`.
//!
//! # Exit codes
//!
//! 0 no differences (or resolved), 1 some differences, 2 bad input (an
//! unknown person or target, bad dates, `--from` after `--to`) or a
//! comparison the component could not make (the message names the cause
//! and the fix).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use jiff::civil::Date;

use crate::calls::TenantRun;
use crate::calls::diff::{Difference, Kind, Resolution};
use crate::log::LogSink;
use crate::runtime::RuntimeOptions;
use crate::settings::{EnvSource, TenantInputs};
use crate::text::operator_text;

/// Exit code: no differences, or the resolution was applied.
pub const EXIT_OK: i32 = 0;
/// Exit code: differences were found.
pub const EXIT_DIFFERENCES: i32 = 1;

/// Days before today the default window starts.
pub const DEFAULT_DAYS_BEFORE: i64 = 30;
/// Days after today the default window ends.
pub const DEFAULT_DAYS_AFTER: i64 = 365;

/// What `--resolve` does with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Apply the Exchange item to ROOMS.
    UseExchange,
    /// Write the ROOMS booking to Exchange.
    UseRooms,
    /// Hide the difference until either side changes.
    Ignore,
}

impl Choice {
    fn name(self) -> &'static str {
        match self {
            Choice::UseExchange => "use-exchange",
            Choice::UseRooms => "use-rooms",
            Choice::Ignore => "ignore",
        }
    }
}

/// What `diff` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct DiffArgs<'a> {
    /// `--person EMAIL`.
    pub person: &'a str,
    /// `--from DATE`.
    pub from: Option<&'a str>,
    /// `--to DATE`.
    pub to: Option<&'a str>,
    /// `--json`.
    pub json: bool,
    /// Colour the text (`--color`, resolved by the CLI).
    pub color: bool,
    /// `--resolve TARGET CHOICE`.
    pub resolve: Option<(&'a str, Choice)>,
}

/// The window `[from, to)` in Unix seconds from the `--from`/`--to` dates
/// (both included) around `today`.
pub fn window(from: Option<&str>, to: Option<&str>, today: Date) -> anyhow::Result<(i64, i64)> {
    let parse = |flag: &str, text: &str| -> anyhow::Result<Date> {
        text.trim().parse::<Date>().map_err(|_| {
            anyhow!("{flag} {text:?} is not a date; write it as YYYY-MM-DD (a day in UTC)")
        })
    };
    let days = |n: i64| jiff::Span::new().days(n);
    let first = match from {
        Some(text) => parse("--from", text)?,
        None => today.checked_sub(days(DEFAULT_DAYS_BEFORE))?,
    };
    let last = match to {
        Some(text) => parse("--to", text)?,
        None => today.checked_add(days(DEFAULT_DAYS_AFTER))?,
    };
    if first > last {
        bail!("--from {first} is after --to {last}; give the earlier date to --from");
    }
    let midnight = |d: Date| -> anyhow::Result<i64> {
        Ok(jiff::tz::TimeZone::UTC
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))?
            .as_second())
    };
    let start = midnight(first)?;
    let end = midnight(last.checked_add(days(1))?)?;
    Ok((start, end))
}

/// The `diff` command: returns the exit code; bad input is an `Err` (exit 2
/// in the CLI).
pub async fn run(
    tenant_dir: &Path,
    inputs: TenantInputs,
    options: &RuntimeOptions,
    env: Arc<dyn EnvSource + Send + Sync>,
    log: LogSink,
    args: DiffArgs<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let today = super::check::today(env.as_ref())?;
    let (from, to) = window(args.from, args.to, today)?;
    if let Some((target, _)) = args.resolve
        && (target.trim().is_empty() || target.chars().any(char::is_control))
    {
        bail!("--resolve needs a booking id, ItemId or UID that `diff` lists");
    }
    let (tenant, runtime) = super::run::open(tenant_dir, inputs, options, env, &log)?;
    let email = args.person.trim().to_ascii_lowercase();
    let Some(person) = tenant.db().get_person(&email)? else {
        bail!(
            "{} is not a person of this tenant; see `rooms-sync --tenant {} person list`",
            operator_text(args.person, 320),
            tenant.dir().display()
        );
    };
    let mut call = TenantRun::new(&tenant, &runtime, std::slice::from_ref(&person));
    let failed = |p: crate::calls::RunProblem| match p.fix {
        Some(fix) => anyhow!("{} ({}); {fix}", p.message, p.code),
        None => anyhow!("{} ({})", p.message, p.code),
    };
    if let Some((target, choice)) = args.resolve {
        let target = target.trim();
        match choice {
            Choice::Ignore => {
                let found = call.diff_person(&person, from, to).await.map_err(failed)?;
                let Some(d) = found.iter().find(|d| {
                    d.target() == target
                        || d.item_id.as_deref() == Some(target)
                        || d.uid.as_deref() == Some(target)
                }) else {
                    bail!(
                        "{} has no difference of {} between {} and {}; see `diff --person {}` for the ids",
                        person.email,
                        operator_text(target, 320),
                        shown(from),
                        shown(to - 1),
                        person.email
                    );
                };
                tenant.db().ignore_difference(
                    &person.email,
                    d.target(),
                    d.revision,
                    d.change_key.as_deref(),
                )?;
                resolved(out, &person.email, d.target(), choice, args.json)?;
            }
            Choice::UseExchange | Choice::UseRooms => {
                if let Some(b) = tenant.db().get_booking(target)?
                    && !b.home.eq_ignore_ascii_case(&person.email)
                {
                    bail!(
                        "booking {target} lives in the calendar of {}, not of {}; use `diff --person {}`",
                        b.home,
                        person.email,
                        b.home
                    );
                }
                let resolution = match choice {
                    Choice::UseExchange => Resolution::UseExchange,
                    _ => Resolution::UseRooms,
                };
                call.resolve_difference(&person, target, resolution)
                    .await
                    .map_err(failed)?;
                tenant.db().unignore_difference(&person.email, target)?;
                resolved(out, &person.email, target, choice, args.json)?;
            }
        }
        return Ok(EXIT_OK);
    }
    let found = call.diff_person(&person, from, to).await.map_err(failed)?;
    let quarantined = tenant.db().quarantined_item_ids(&person.email)?;
    let ignores = tenant.db().ignored_differences(&person.email)?;
    let total = found.len();
    let shown_list: Vec<Difference> = found
        .into_iter()
        .filter(|d| {
            !(d.kind == Kind::MissingInRooms
                && d.item_id.as_ref().is_some_and(|i| quarantined.contains(i)))
        })
        .filter(|d| {
            !ignores
                .iter()
                .any(|i| i.hides(d.target(), d.revision, d.change_key.as_deref()))
        })
        .collect();
    let ignored = total - shown_list.len();
    if args.json {
        let value = serde_json::json!({
            "person": person.email,
            "from": shown(from),
            "to": shown(to),
            "ignored": ignored,
            "differences": shown_list,
        });
        writeln!(out, "{}", serde_json::to_string(&value)?)?;
    } else {
        render_text(
            &shown_list,
            &Header {
                person: &person.email,
                tenant: &tenant.dir().display().to_string(),
                from,
                to,
                ignored,
            },
            args.color,
            out,
        )?;
    }
    Ok(if shown_list.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    })
}

fn shown(t: i64) -> String {
    crate::rooms_db::bookings::shown_instant(t)
}

fn resolved(
    out: &mut dyn Write,
    person: &str,
    target: &str,
    choice: Choice,
    json: bool,
) -> anyhow::Result<()> {
    let target = operator_text(target, 320);
    if json {
        let value = serde_json::json!({
            "person": person,
            "target": target,
            "resolution": choice.name(),
            "resolved": true,
        });
        writeln!(out, "{}", serde_json::to_string(&value)?)?;
    } else {
        let what = match choice {
            Choice::UseExchange => "ROOMS now holds the Exchange state",
            Choice::UseRooms => "Exchange now holds the ROOMS state",
            Choice::Ignore => "ignored until either side changes again",
        };
        writeln!(out, "{target}: {} ({what})", choice.name())?;
    }
    Ok(())
}

/// What the text output's first line says.
pub struct Header<'a> {
    /// The person.
    pub person: &'a str,
    /// The tenant directory, for the hint.
    pub tenant: &'a str,
    /// Window start.
    pub from: i64,
    /// Window end (exclusive).
    pub to: i64,
    /// Differences hidden by ignore records.
    pub ignored: usize,
}

/// The text output: a header, one line per difference with its fields.
pub fn render_text(
    list: &[Difference],
    header: &Header<'_>,
    color: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let (green, red, yellow, dim, reset) = if color {
        ("\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "", "", "")
    };
    let ignored = if header.ignored > 0 {
        format!(", {} ignored", header.ignored)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{}: {} to {}{ignored}",
        header.person,
        &shown(header.from)[..10],
        &shown(header.to - 1)[..10],
    )?;
    if list.is_empty() {
        writeln!(out, "{green}no differences{reset}")?;
        return Ok(());
    }
    for d in list {
        let (mark, paint) = match d.kind {
            Kind::MissingInExchange => ("[MISSING IN EXCHANGE]", red),
            Kind::MissingInRooms => ("[MISSING IN ROOMS]", red),
            Kind::FieldsDiffer => ("[DIFFERS]", yellow),
        };
        let who = match (&d.booking, &d.item_id) {
            (Some(b), _) => format!("booking {b}"),
            (None, Some(i)) => format!("item {i}"),
            (None, None) => String::new(),
        };
        let state = match d.state {
            Some(s) if s != "active" => format!(" ({s})"),
            _ => String::new(),
        };
        let occurrence = d
            .occurrence
            .as_deref()
            .map(|o| format!(", occurrence of {o}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{paint}{mark}{reset} {who}{state} \"{}\" {}{occurrence}",
            d.subject, d.start
        )?;
        for f in &d.fields {
            writeln!(
                out,
                "    {}: ROOMS {:?} | Exchange {:?}",
                f.field, f.rooms, f.exchange
            )?;
        }
    }
    writeln!(
        out,
        "{dim}{} differences; settle one with `rooms-sync --tenant {} diff --person {} --resolve ID use-exchange|use-rooms|ignore`{reset}",
        list.len(),
        header.tenant,
        header.person
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_window_is_30_days_back_and_365_ahead() {
        let (from, to) = window(None, None, day("2026-11-30")).unwrap();
        assert_eq!(shown(from), "2026-10-31T00:00:00Z");
        assert_eq!(shown(to), "2027-12-01T00:00:00Z");
    }

    #[test]
    fn both_dates_are_included_and_bad_ones_refused() {
        let (from, to) = window(Some("2026-12-01"), Some("2026-12-01"), day("2026-11-30")).unwrap();
        assert_eq!(to - from, 86_400);
        let e = window(Some("01.12.2026"), None, day("2026-11-30")).unwrap_err();
        assert!(
            e.to_string()
                .contains("--from \"01.12.2026\" is not a date"),
            "{e}"
        );
        let e = window(Some("2026-12-02"), Some("2026-12-01"), day("2026-11-30")).unwrap_err();
        assert!(e.to_string().contains("is after --to"), "{e}");
    }

    fn sample() -> Difference {
        Difference {
            kind: Kind::FieldsDiffer,
            booking: Some("b1".into()),
            state: Some("active"),
            revision: Some(2),
            item_id: Some("AAMk1".into()),
            change_key: Some("ck".into()),
            uid: None,
            subject: "Planning".into(),
            start: "2026-12-01T09:00:00Z".into(),
            end: "2026-12-01T10:00:00Z".into(),
            occurrence: None,
            fields: vec![crate::calls::diff::FieldValues {
                field: "subject".into(),
                rooms: "Planning".into(),
                exchange: "Planning (moved)".into(),
            }],
        }
    }

    #[test]
    fn text_shows_both_values_and_colours_only_when_asked() {
        let header = Header {
            person: "alice@contoso.com",
            tenant: "/t",
            from: 0,
            to: 86_400,
            ignored: 1,
        };
        let mut plain = Vec::new();
        render_text(&[sample()], &header, false, &mut plain).unwrap();
        let plain = String::from_utf8(plain).unwrap();
        assert!(
            plain.contains("[DIFFERS] booking b1 \"Planning\""),
            "{plain}"
        );
        assert!(
            plain.contains("subject: ROOMS \"Planning\" | Exchange \"Planning (moved)\""),
            "{plain}"
        );
        assert!(plain.contains("1 ignored"), "{plain}");
        assert!(!plain.contains('\x1b'));
        let mut coloured = Vec::new();
        render_text(&[sample()], &header, true, &mut coloured).unwrap();
        assert!(
            String::from_utf8(coloured)
                .unwrap()
                .contains("\x1b[33m[DIFFERS]\x1b[0m")
        );
    }
}
