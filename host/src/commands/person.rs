//! `rooms-sync --tenant DIR person ...`: the persons and rooms whose
//! calendars sync.
//!
//! ```text
//! person add EMAIL --mode O365|O365Pull [--sync-url URL] [--conflict Rollback|Cancel] [--room [--sync-master]]
//! person list [--json]
//! person remove EMAIL
//! person disable EMAIL --reason TEXT
//! person enable EMAIL
//! ```
//!
//! `person list --json` prints `{"persons":[{"email", "mode", "sync_url",
//! "conflict", "sync_disabled", "room", "sync_master", "disabled_reason",
//! "disabled_at"}]}` (the reason and RFC 3339 time ROOMS stopped syncing the
//! person, or null); a row this version cannot read is `{"email", "problem"}`.
//!
//! `rooms-sync serve` disables a person whose subscription keeps failing
//! (with the reason); `person enable` turns the sync on again and clears the
//! reason and the failure counts, and `person disable` lets an operator stop
//! a person by hand.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use crate::cli::EXIT_OK;
use crate::rooms_db::{ConflictBehaviour, DEFAULT_SYNC_URL, Person, PersonRow, SyncMode};
use crate::tenant::open_database;

/// The `person` subcommands.
#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person or room.
    Add {
        /// The mailbox's primary SMTP address.
        email: String,
        /// O365 (push notifications) or O365Pull (pull subscriptions).
        #[arg(long, value_parser = parse_mode)]
        mode: SyncMode,
        /// The EWS endpoint.
        #[arg(long, value_name = "URL", default_value = DEFAULT_SYNC_URL)]
        sync_url: String,
        /// What to do on conflicts: Rollback or Cancel.
        #[arg(long, value_parser = parse_conflict, default_value = "Rollback")]
        conflict: ConflictBehaviour,
        /// The mailbox is a room (a resource mailbox).
        #[arg(long)]
        room: bool,
        /// `Ist Sync-Master` (rooms only): when the room declines a meeting,
        /// the sync also removes the room from the Exchange meeting.
        #[arg(long)]
        sync_master: bool,
    },
    /// List the persons.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a person.
    Remove {
        /// The address as added.
        email: String,
    },
    /// Stop syncing a person (`person enable` turns it on again).
    Disable {
        /// The address as added.
        email: String,
        /// Why, as `person list` and `check` will show it.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Sync a person again after ROOMS or an operator stopped it; clears the
    /// reason and the failure counts.
    Enable {
        /// The address as added.
        email: String,
    },
}

fn parse_mode(s: &str) -> Result<SyncMode, String> {
    SyncMode::parse(s)
        .ok_or_else(|| format!("`{s}` is not a sync mode; use O365 (push) or O365Pull (pull)"))
}

fn parse_conflict(s: &str) -> Result<ConflictBehaviour, String> {
    ConflictBehaviour::parse(s)
        .ok_or_else(|| format!("`{s}` is not a conflict behaviour; use Rollback or Cancel"))
}

/// One person of `person list --json`; an unreadable row has `email` and
/// `problem` only.
fn person_json(row: &PersonRow) -> serde_json::Value {
    match row {
        PersonRow::Valid(p) => serde_json::json!({
            "email": p.email,
            "mode": p.sync_mode.as_str(),
            "sync_url": p.sync_url,
            "conflict": p.conflict.as_str(),
            "sync_disabled": p.sync_disabled,
            "room": p.room,
            "sync_master": p.sync_master,
            "disabled_reason": p.disabled_reason,
            "disabled_at": p.disabled_at.map(|t| t.to_string()),
        }),
        PersonRow::Unreadable { email, problem } => serde_json::json!({
            "email": email,
            "problem": problem.to_string(),
        }),
    }
}

/// `person`, `room` or `room (master)`.
fn kind(p: &Person) -> &'static str {
    match (p.room, p.sync_master) {
        (false, _) => "person",
        (true, false) => "room",
        (true, true) => "room (master)",
    }
}

/// Runs a `person` subcommand on the tenant directory `tenant`.
pub fn run(tenant: &Path, cmd: &PersonCommand, out: &mut dyn Write) -> anyhow::Result<i32> {
    let db = open_database(tenant)?;
    match cmd {
        PersonCommand::Add {
            email,
            mode,
            sync_url,
            conflict,
            room,
            sync_master,
        } => {
            let mut person = Person::new(email, *mode)?.with_sync_url(sync_url)?;
            person.conflict = *conflict;
            if *room {
                person = person.as_room(*sync_master);
            } else if *sync_master {
                person.sync_master = true; // refused by add_person, with the fix
            }
            db.add_person(&person)?;
            let flags = match (person.room, person.sync_master) {
                (false, _) => "",
                (true, false) => ", room",
                (true, true) => ", room, sync master",
            };
            writeln!(
                out,
                "added {} ({}, {}, {}{flags})",
                person.email,
                person.sync_mode.as_str(),
                person.sync_url,
                person.conflict.as_str()
            )?;
        }
        PersonCommand::List { json } => {
            let rows = db.list_person_rows()?;
            if *json {
                let list: Vec<serde_json::Value> = rows.iter().map(person_json).collect();
                writeln!(out, "{}", serde_json::json!({ "persons": list }))?;
            } else if rows.is_empty() {
                writeln!(
                    out,
                    "no persons; add one with `person add EMAIL --mode O365`"
                )?;
            } else {
                let width = rows
                    .iter()
                    .map(|r| r.email().len())
                    .max()
                    .unwrap_or(5)
                    .max(5);
                writeln!(
                    out,
                    "{:width$}  {:8}  {:8}  {:8}  {:13}  SYNC-URL",
                    "EMAIL", "MODE", "CONFLICT", "SYNC", "KIND"
                )?;
                for row in &rows {
                    match row {
                        PersonRow::Valid(p) => writeln!(
                            out,
                            "{:width$}  {:8}  {:8}  {:8}  {:13}  {}",
                            p.email,
                            p.sync_mode.as_str(),
                            p.conflict.as_str(),
                            if p.sync_disabled {
                                "disabled"
                            } else {
                                "enabled"
                            },
                            kind(p),
                            p.sync_url
                        )
                        .and_then(|()| {
                            match (&p.disabled_at, &p.disabled_reason) {
                                (Some(at), Some(reason)) if p.sync_disabled => writeln!(
                                    out,
                                    "{:width$}  sync disabled since {at}: {}",
                                    "",
                                    crate::text::operator_text(reason, 2_000)
                                ),
                                _ => Ok(()),
                            }
                        })?,
                        PersonRow::Unreadable { email, problem } => {
                            writeln!(out, "{email:width$}  unreadable: {problem}")?
                        }
                    }
                }
            }
        }
        PersonCommand::Remove { email } => {
            if db.remove_person(email)? {
                writeln!(out, "removed {}", email.trim().to_ascii_lowercase())?;
            } else {
                anyhow::bail!("{email} is not a person of this tenant; see `person list`");
            }
        }
        PersonCommand::Disable { email, reason } => {
            let reason = reason.trim();
            if reason.is_empty() {
                anyhow::bail!(
                    "the reason is empty; say why the sync stops, e.g. --reason \"mailbox moved to on-premises\""
                );
            }
            if !db.disable_person(email, reason, jiff::Timestamp::now())? {
                anyhow::bail!("{email} is not a person of this tenant; see `person list`");
            }
            let email = email.trim().to_ascii_lowercase();
            writeln!(
                out,
                "the sync of {email} is disabled: {reason}; `person enable {email}` turns it on again"
            )?;
        }
        PersonCommand::Enable { email } => {
            let before = db.get_person(email)?;
            if !db.enable_person(email)? {
                anyhow::bail!("{email} is not a person of this tenant; see `person list`");
            }
            let email = email.trim().to_ascii_lowercase();
            match before {
                Some(p) if p.sync_disabled => writeln!(
                    out,
                    "the sync of {email} is enabled again; the next `run` or `serve` syncs it"
                )?,
                _ => writeln!(out, "the sync of {email} was already enabled")?,
            }
        }
    }
    Ok(EXIT_OK)
}
