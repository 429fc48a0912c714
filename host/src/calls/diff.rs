//! The calls of `rooms-sync diff` on a [`TenantRun`]: the component's
//! `diff-person` and `resolve-difference` (`sync` export).
//!
//! Both go through the run's private call path, so the instance handling of
//! [`crate::calls`] holds (one sandboxed instance, a wall-clock deadline, a
//! trap or a missed deadline becomes a [`RunProblem`] with the host's codes
//! `deadline`, `memory-limit` or `component-error`). What the component
//! returns is sandboxed output: every text passes [`operator_text`] here,
//! and ids and ChangeKeys longer than [`MAX_ID`] or with control characters
//! are refused as a `protocol` problem rather than stored or printed.

use crate::bindings::exports::rooms::exchange_sync::sync as wit;
use crate::bindings::rooms::exchange_sync::calendar::BookingState;
use crate::rooms_db::Person;
use crate::rooms_db::bookings::shown_instant;
use crate::text::operator_text;

use super::{MESSAGE_CAP, RunProblem, TenantRun, problem_from_wit};

pub use wit::Resolution;

/// The longest booking id, ItemId, ChangeKey or UID accepted from the
/// component.
pub const MAX_ID: usize = 2048;

/// The longest field value shown (a series definition, a long attendee
/// list); longer values are cut by [`operator_text`].
pub const VALUE_CAP: usize = 4000;

/// Which side lacks what (`kind` in `diff --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A booking without an item in the calendar.
    MissingInExchange,
    /// An item without a booking.
    MissingInRooms,
    /// Both exist and fields differ.
    FieldsDiffer,
}

/// One field that differs, both values as text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldValues {
    /// The field's name as in `booking list --json` (an occurrence:
    /// `subject`, `start`, `end`, `deleted`; also `state`, `organiser`).
    pub field: String,
    /// The ROOMS value.
    pub rooms: String,
    /// The Exchange value.
    pub exchange: String,
}

/// One difference, checked and made safe (an element of `differences` in
/// `diff --json`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// Which side lacks what.
    pub kind: Kind,
    /// The booking id; none for `missing-in-rooms`.
    pub booking: Option<String>,
    /// `active`, `cancelled` or `sync-disabled`; none without a booking.
    pub state: Option<&'static str>,
    /// The booking's revision as compared.
    pub revision: Option<u64>,
    /// The item's EWS ItemId; none for `missing-in-exchange`.
    pub item_id: Option<String>,
    /// The item's ChangeKey as compared.
    pub change_key: Option<String>,
    /// The meeting UID.
    pub uid: Option<String>,
    /// The subject.
    pub subject: String,
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// End, RFC 3339 UTC.
    pub end: String,
    /// The original start (RFC 3339 UTC) of the occurrence this is about;
    /// none for the booking as a whole.
    pub occurrence: Option<String>,
    /// The fields that differ (empty unless `fields-differ`).
    pub fields: Vec<FieldValues>,
}

impl Difference {
    /// What `--resolve` and the ignore records name this difference by:
    /// the booking id, else the item's ItemId.
    pub fn target(&self) -> &str {
        self.booking
            .as_deref()
            .or(self.item_id.as_deref())
            .unwrap_or_default()
    }
}

/// A component answer that the host refuses.
fn protocol(message: String) -> RunProblem {
    RunProblem {
        code: "protocol".into(),
        message,
        fix: Some("Update the component; the log has the details.".into()),
    }
}

/// An id from the component, checked.
fn id(value: Option<String>, what: &str) -> Result<Option<String>, RunProblem> {
    match value {
        Some(v) if v.len() > MAX_ID || v.chars().any(char::is_control) || v.is_empty() => {
            Err(protocol(format!(
                "the component returned an unusable {what} in a difference"
            )))
        }
        other => Ok(other),
    }
}

fn from_wit(d: wit::SyncDifference) -> Result<Difference, RunProblem> {
    let kind = match d.kind {
        wit::DifferenceKind::MissingInExchange => Kind::MissingInExchange,
        wit::DifferenceKind::MissingInRooms => Kind::MissingInRooms,
        wit::DifferenceKind::FieldsDiffer => Kind::FieldsDiffer,
    };
    let booking = id(d.booking, "booking id")?;
    let item_id = id(d.item_id, "ItemId")?;
    if booking.is_none() && item_id.is_none() {
        return Err(protocol(
            "the component returned a difference with neither a booking nor an item".into(),
        ));
    }
    Ok(Difference {
        kind,
        booking,
        state: d.state.map(|s| match s {
            BookingState::Active => "active",
            BookingState::Cancelled => "cancelled",
            BookingState::SyncDisabled => "sync-disabled",
        }),
        revision: d.revision,
        item_id,
        change_key: id(d.change_key, "ChangeKey")?,
        uid: id(d.uid, "UID")?,
        subject: operator_text(&d.subject, MESSAGE_CAP),
        start: shown_instant(d.start),
        end: shown_instant(d.end),
        occurrence: d.occurrence.map(shown_instant),
        fields: d
            .fields
            .into_iter()
            .map(|f| FieldValues {
                field: operator_text(&f.field, 64),
                rooms: operator_text(&f.rooms, VALUE_CAP),
                exchange: operator_text(&f.exchange, VALUE_CAP),
            })
            .collect(),
    })
}

impl TenantRun<'_> {
    /// The differences of `person` in `[from, to)` (Unix seconds), as the
    /// component finds them, checked; not yet filtered by quarantine or
    /// ignore records ([`crate::commands::diff`] does that).
    pub async fn diff_person(
        &mut self,
        person: &Person,
        from: i64,
        to: i64,
    ) -> Result<Vec<Difference>, RunProblem> {
        let record = crate::capabilities::rooms::to_wit(person.clone());
        let deadline = self.runtime.limits().call_deadline;
        let outcome = self
            .call(
                &person.email,
                &[&person.email],
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_sync()
                        .call_diff_person(store, &record, from, to)
                        .await
                },
            )
            .await;
        match outcome.result {
            Ok(Ok(found)) => found.into_iter().map(from_wit).collect(),
            Ok(Err(problem)) => Err(problem_from_wit(problem)),
            Err(stop) => Err(RunProblem {
                code: stop.code.into(),
                message: stop.message,
                fix: Some(stop.fix),
            }),
        }
    }

    /// Settles the difference of `target` (a booking id, ItemId or UID) of
    /// `person` for one side.
    pub async fn resolve_difference(
        &mut self,
        person: &Person,
        target: &str,
        resolution: Resolution,
    ) -> Result<(), RunProblem> {
        let record = crate::capabilities::rooms::to_wit(person.clone());
        let deadline = self.runtime.limits().call_deadline;
        let outcome = self
            .call(
                &person.email,
                &[&person.email],
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_sync()
                        .call_resolve_difference(store, &record, target, resolution)
                        .await
                },
            )
            .await;
        match outcome.result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(problem)) => Err(problem_from_wit(problem)),
            Err(stop) => Err(RunProblem {
                code: stop.code.into(),
                message: stop.message,
                fix: Some(stop.fix),
            }),
        }
    }
}
