//! The two-way sync engine: one cycle for one person.
//!
//! [`run`] signs in, brings the changes of the person's Exchange calendar
//! into ROOMS ([`inbound`]), then writes the person's waiting ROOMS changes
//! to Exchange ([`outbound`]). Everything goes through
//! [`crate::platform::Platform`] (the ROOMS store, HTTP, the clock) and the
//! transport seam [`transport::Transport`], which EWS fills today
//! ([`ews_transport`]) and a Microsoft Graph module can fill beside it.
//!
//! # Layout
//!
//! - [`transport`]: the seam, in transport-neutral types.
//! - [`ews_transport`]: the seam over the EWS operations in [`crate::ews`].
//! - [`mapping`]: remote item → booking fields, rooms, fingerprints,
//!   differences.
//! - [`inbound`]: Exchange → ROOMS, page by page.
//! - [`outbound`]: ROOMS → Exchange, booking by booking.
//! - [`conflict`]: `Rollback` and `Cancel`.
//! - [`retry`]: throttling and back-off on the host's clock.
//! - [`options`]: the sync settings.
//! - [`diff`]: `rooms-sync diff`, bookings against items field by field
//!   (nothing committed); [`resolve`]: `diff --resolve`, one difference
//!   settled for the chosen side through the inbound and outbound paths.
//!
//! # Crash safety
//!
//! Every step that changes ROOMS is one `rooms.commit` transaction: an
//! inbound page together with the sync state it advances to, an outbound
//! write together with the revision it wrote. Exchange writes happen between
//! commits and are found again after a crash: a create by its tag (a marker
//! committed before it says to look), an update by its ChangeKey (a stale one
//! is checked against the item's fields before it counts as a conflict).

pub mod conflict;
pub mod diff;
pub mod ews_transport;
pub mod inbound;
pub mod mapping;
pub mod options;
pub mod outbound;
pub mod resolve;
pub mod retry;
pub mod transport;

use crate::booking::CommitError;
use crate::config::RawSettings;
use crate::error::Error;
use crate::platform::{Level, Person, Platform};
use crate::session::Target;

use mapping::Directory;
use options::Options;
use retry::Pacer;
use transport::Transport;

/// Items moved in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Created.
    pub created: u32,
    /// Updated.
    pub updated: u32,
    /// Cancelled or deleted.
    pub cancelled: u32,
}

/// A problem that stopped the person, or one booking.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Stable code: the EWS or AADSTS code (`ErrorAccessDenied`,
    /// `AADSTS7000215`), `HTTP 403`, or one of the component's
    /// (`configuration`, `certificate`, `insufficient-rights`, `protocol`,
    /// `transport`, `private-items-hidden`, `sync-disabled`).
    pub code: String,
    /// One sentence.
    pub message: String,
    /// What to change; `None` when it retries by itself.
    pub fix: Option<String>,
    /// The typed cause, when the person stopped.
    pub cause: Option<Error>,
}

/// The outcome of one cycle of one person (the WIT `sync-report`).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Exchange → ROOMS.
    pub to_rooms: Counts,
    /// ROOMS → Exchange.
    pub to_exchange: Counts,
    /// Conflicts met.
    pub conflicts: u32,
    /// Items quarantined.
    pub quarantined: u32,
    /// EWS requests sent.
    pub ews_requests: u32,
    /// Time spent waiting.
    pub backoff_ms: u64,
    /// True when the cycle ran to its end.
    pub completed: bool,
    /// Problems met.
    pub errors: Vec<Problem>,
}

/// One sync cycle of `person` (the WIT `run-person`). Never panics on bad
/// data; a problem that stops the person is in `errors`.
pub fn run(platform: &mut dyn Platform, person: &Person) -> Report {
    let mut report = Report::default();
    platform.log(Level::Info, &format!("sync of {}", person.email));
    if person.sync_disabled {
        report.errors.push(Problem {
            code: "sync-disabled".into(),
            message: format!("ROOMS has disabled the sync of {}.", person.email),
            fix: Some(
                "Re-enable the person's sync in ROOMS once the cause is fixed (see its last \
                 check)."
                    .into(),
            ),
            cause: None,
        });
        return report;
    }
    let target = match RawSettings::read(platform).and_then(|raw| Target::prepare(&raw, person)) {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(problem(&e));
            return report;
        }
    };
    let options = Options::read(platform);
    let client = target.client();
    let transport = ews_transport::EwsTransport::new(&client, &options);
    cycle(platform, person, transport, options, report)
}

/// One cycle over `transport`, after the settings were read.
pub(crate) fn cycle<T: Transport>(
    platform: &mut dyn Platform,
    person: &Person,
    transport: T,
    options: Options,
    report: Report,
) -> Report {
    let pacer = Pacer::new(options.retry_max_ms);
    let mut engine = Engine {
        platform,
        transport,
        person: person.clone(),
        mailbox: person.email.to_ascii_lowercase(),
        options,
        directory: Directory::default(),
        pacer,
        report,
        marked: false,
        confirming: false,
        created: Vec::new(),
    };
    let result = engine
        .private_items_check()
        .and_then(|()| engine.inbound())
        .and_then(|()| engine.outbound())
        .and_then(|()| engine.confirm());
    engine.report.ews_requests = engine.transport.requests();
    engine.report.backoff_ms = engine.pacer.waited_ms;
    match result {
        Ok(()) => engine.report.completed = true,
        Err(e) => {
            engine.platform.log(
                Level::Warn,
                &format!("sync of {} stopped: {}", engine.mailbox, e.message()),
            );
            engine.report.errors.push(problem(&e));
        }
    }
    let r = &engine.report;
    engine.platform.log(
        Level::Info,
        &format!(
            "sync of {}: to ROOMS {}/{}/{}, to Exchange {}/{}/{} (created/updated/cancelled), \
             {} conflicts, {} quarantined, {} requests, {} ms waited",
            engine.mailbox,
            r.to_rooms.created,
            r.to_rooms.updated,
            r.to_rooms.cancelled,
            r.to_exchange.created,
            r.to_exchange.updated,
            r.to_exchange.cancelled,
            r.conflicts,
            r.quarantined,
            r.ews_requests,
            r.backoff_ms
        ),
    );
    engine.report
}

/// The state of one cycle.
pub(crate) struct Engine<'a, T: Transport> {
    pub(crate) platform: &'a mut dyn Platform,
    pub(crate) transport: T,
    pub(crate) person: Person,
    /// The person's mailbox, lower-case.
    pub(crate) mailbox: String,
    pub(crate) options: Options,
    pub(crate) directory: Directory,
    pub(crate) pacer: Pacer,
    pub(crate) report: Report,
    /// True once the stored sync state carries the unconfirmed marker.
    pub(crate) marked: bool,
    /// True during the closing pass.
    pub(crate) confirming: bool,
    /// Items this cycle created in the person's mailbox.
    pub(crate) created: Vec<String>,
}

impl<T: Transport> Engine<'_, T> {
    /// Before the first write to Exchange: the stored sync state is marked
    /// unconfirmed (one commit), so a cycle that stops before its closing
    /// pass is followed by a full resync.
    pub(crate) fn mark_unconfirmed(&mut self) -> Result<(), Error> {
        if self.marked {
            return Ok(());
        }
        self.marked = true;
        let Some(state) = self.platform.sync_state(&self.mailbox) else {
            return Ok(());
        };
        if state.starts_with(inbound::UNCONFIRMED) {
            return Ok(());
        }
        let mut page = crate::booking::Page::new(&self.mailbox);
        page.sync_state = Some(format!("{}{state}", inbound::UNCONFIRMED));
        self.platform.commit(&page).map_err(|e| store_error(&e))
    }

    /// The closing pass after writes: reads this cycle's own changes back,
    /// so the committed state lies after them and a later deletion of an
    /// item created here is reported.
    fn confirm(&mut self) -> Result<(), Error> {
        if !self.marked {
            return Ok(());
        }
        self.confirming = true;
        self.inbound()
    }

    /// A delegate without `CanViewPrivateItems` does not see private items
    /// at all (Exchange leaves them out of the sync): the run goes on, and
    /// the report says what is missing instead of passing the gap off as
    /// a calendar without private meetings.
    fn private_items_check(&mut self) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        if let Some(fix) = self.call(true, |t, p| t.private_items_hidden(p, &mailbox))? {
            self.platform.log(
                Level::Warn,
                &format!(
                    "{mailbox}: the service user cannot see private items; they are not synced"
                ),
            );
            self.report.errors.push(Problem {
                code: "private-items-hidden".into(),
                message: format!(
                    "The service user does not see private items in the calendar of {mailbox}, \
                     so private meetings are not synced (neither imported nor checked)."
                ),
                fix: Some(fix),
                cause: None,
            });
        }
        Ok(())
    }

    /// Runs one transport operation for the person's mailbox under the
    /// pacer (waits and retries).
    pub(crate) fn call<R>(
        &mut self,
        retry_transport: bool,
        mut op: impl FnMut(&mut T, &mut dyn Platform) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let Engine {
            platform,
            transport,
            pacer,
            mailbox,
            ..
        } = self;
        pacer.run(&mut **platform, mailbox, retry_transport, |p| {
            op(transport, p)
        })
    }
}

/// True for errors after which nothing more can be done for the person in
/// this cycle (sign-in, access, policy, throttling past the bound, the
/// network, the store).
pub(crate) fn stops_person(e: &Error) -> bool {
    !matches!(e, Error::Protocol { .. })
}

/// The report entry for an error that stopped the person.
pub fn problem(e: &Error) -> Problem {
    Problem {
        code: code_of(e),
        message: e.message(),
        fix: Some(e.fix()),
        cause: Some(e.clone()),
    }
}

/// The report entry for a booking that could not be written.
pub(crate) fn problem_for_booking(id: &str, e: &Error) -> Problem {
    Problem {
        code: code_of(e),
        message: format!("booking {id}: {}", e.message()),
        fix: Some(e.fix()),
        cause: None,
    }
}

/// The stable code of an error: the EWS or AADSTS code where there is one.
fn code_of(e: &Error) -> String {
    match e {
        Error::Configuration(_) => "configuration".into(),
        Error::UnknownPerson(_) => "unknown-person".into(),
        Error::Certificate(_) => "certificate".into(),
        Error::SignIn(f) => f
            .aadsts
            .first()
            .map(|c| format!("AADSTS{c}"))
            .unwrap_or_else(|| f.error.clone()),
        Error::AccessDenied { failure, .. } | Error::MailboxNotFound(failure) => {
            failure.response_code.clone()
        }
        Error::InsufficientRights { .. } => "insufficient-rights".into(),
        Error::EwsBlocked { .. } => "HTTP 403".into(),
        Error::Throttled { response_code, .. } => response_code.clone(),
        Error::Protocol { response_code, .. } => {
            response_code.clone().unwrap_or_else(|| "protocol".into())
        }
        Error::Transport(_) => "transport".into(),
    }
}

/// A store failure as an error that stops the person.
pub(crate) fn store_error(e: &CommitError) -> Error {
    let detail = match e {
        CommitError::Stale(ids) => format!(
            "ROOMS kept changing {} bookings while their Exchange changes were applied",
            ids.len()
        ),
        CommitError::Invalid(m) => format!("the ROOMS store refused a page as inconsistent: {m}"),
        CommitError::Store(m) => format!("the ROOMS store failed: {m}"),
    };
    Error::Transport(crate::platform::TransportError {
        kind: crate::platform::TransportKind::Other,
        detail,
    })
}
