//! The calls made into the component on a tenant's behalf, and how their
//! outcome reaches the operator.
//!
//! [`check`] runs the sync test of a tenant's persons, and [`run`] one
//! two-way sync cycle of each, both in up to `SyncMaxConcurrentMailboxes`
//! [`TenantRun`]s at once. A [`TenantRun`] is
//! one sandboxed store and component instance ([`Runtime::new_store`]) with
//! the run's HTTP policy, the tenant's connection pool and the memory cap,
//! reused for persons one after the other and replaced every
//! [`RECYCLE_AFTER_CALLS`] calls (linear memory only grows) and after any
//! call that did not return normally. Tenants never share an instance. The
//! whole of each call — instantiation, component code and every host call
//! it waits on (HTTP included) — runs under the wall-clock deadline
//! `--call-timeout-secs`, re-armed for every call. The epoch deadline of the
//! store stops component code that spins without calling the host; the
//! timer here stops a call that waits. Either way the person gets a red
//! check (or, for `run`, a [`RunReport`] with one error), the instance is
//! dropped, and the next person runs on a fresh one. A failed instantiation
//! is handled the same way.
//!
//! Traps never reach the operator as raw wasmtime errors (no backtraces):
//! `describe_stop` names the cap that was hit and the option that raises
//! it, and the details go to the log at debug level.
//!
//! The service's calls (`subscribe`, `get-events`, `unsubscribe`,
//! `handle-webhook`) are [`TenantRun`] methods too, in [`notifications`].
//!
//! # A sync cycle ([`run`], [`TenantRun::run_person`])
//!
//! Every text of the component's `sync-report` passes through
//! [`operator_text`], and at most [`MAX_PROBLEMS`] problems per person are
//! passed on. A person whose cycle did not complete, or that met any
//! problem, has failed ([`RunReport::ok`]). Besides the component's own
//! codes (`ErrorAccessDenied`, `AADSTS7000215`, `HTTP 403`,
//! `configuration`, `conflict`, `store`, ...), the host reports these
//! [`RunProblem::code`]s:
//!
//! | code | meaning |
//! |---|---|
//! | `deadline` | the call passed `--call-timeout-secs` and was stopped |
//! | `memory-limit` | the instance reached `--memory-limit-mib` |
//! | `component-error` | the component trapped or could not be instantiated |
//! | `incomplete` | the component said the cycle did not complete, without a problem |
//! | `more-problems` | more than [`MAX_PROBLEMS`] problems; the rest are in the log |
//! | `person-unreadable` | the person's row in `rooms.db` cannot be read |
//! | `sync-disabled` | ROOMS disabled the person's sync: skipped, not run |
//!
//! A sync-disabled person is not called at all: its report has
//! `skipped: true`, zero counters, `completed: false` and the one problem
//! `sync-disabled`, so it counts as failed. ROOMS disables a person after
//! repeated errors; a run that exited 0 while a calendar is no longer synced
//! would hide that. The operator finds the cause with `check` and enables
//! the person again (or removes it).
//!
//! `backoff_ms` is the host's own count of the waits it granted through
//! `pacing.wait` during the call (see [`crate::capabilities::pacing`]), not
//! the component's figure: the host is the one that waited, and the count
//! survives a call that was stopped.

pub mod diff;
pub mod notifications;
pub mod subscription_check;

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use wasmtime::Store;

use crate::bindings::exports::rooms::exchange_sync::sync::{
    DirectionCounts, SyncProblem, SyncReport,
};
use crate::bindings::{Plugin, SyncError, types};
use crate::capabilities::rooms::to_wit;
use crate::http_policy::HttpPolicy;
use crate::log::{Level, LogSink};
use crate::rooms_db::{DbError, Person, PersonRow};
use crate::runtime::Runtime;
use crate::state::TenantState;
use crate::tenant::{Tenant, TenantError};
use crate::text::operator_text;

/// The outcome of one check of one person, as the CLI shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    /// `sign-in`, `calendar-access`, ...
    pub name: String,
    /// Green or red.
    pub ok: bool,
    /// What was found.
    pub message: String,
    /// What to change; none when green.
    pub fix: Option<String>,
    /// The stable code of a red check's cause, the same codes as `run
    /// --json` errors ([`cause_code`]; the host's own: `deadline`,
    /// `memory-limit`, `component-error`, `sync-disabled`,
    /// `person-unreadable`, `unknown-person`); none when green or not run.
    pub code: Option<String>,
}

impl CheckReport {
    /// A red check whose cause has the stable `code`.
    pub fn red(name: &str, code: &str, message: String, fix: String) -> CheckReport {
        CheckReport {
            name: name.into(),
            ok: false,
            message,
            fix: Some(fix),
            code: Some(code.into()),
        }
    }
}

/// The stable code of a typed cause, as the component names the errors of
/// `run --json`: the EWS response code, the first AADSTS code (or the OAuth
/// error) of a sign-in, `HTTP 403` for a tenant policy block, or the kind
/// (`configuration`, `certificate`, `insufficient-rights`, `protocol`,
/// `transport`, `unknown-person`). Made safe; never empty.
pub fn cause_code(cause: &SyncError) -> String {
    let code = match cause {
        SyncError::Configuration(_) => "configuration".into(),
        SyncError::UnknownPerson(_) => "unknown-person".into(),
        SyncError::Certificate(_) => "certificate".into(),
        SyncError::SignIn(failure) => failure
            .aadsts
            .first()
            .map(|c| format!("AADSTS{c}"))
            .unwrap_or_else(|| failure.error.clone()),
        SyncError::AccessDenied(failure) | SyncError::MailboxNotFound(failure) => {
            failure.response_code.clone()
        }
        SyncError::InsufficientRights(_) => "insufficient-rights".into(),
        SyncError::EwsBlocked(_) => "HTTP 403".into(),
        SyncError::Throttled(throttled) => throttled.response_code.clone(),
        SyncError::Protocol(_) => "protocol".into(),
        SyncError::Transport(_) => "transport".into(),
    };
    let code = operator_text(&code, CODE_CAP);
    if code.is_empty() {
        "error".into()
    } else {
        code
    }
}

/// All checks of one person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonReport {
    /// The person's address.
    pub email: String,
    /// The checks, in order.
    pub checks: Vec<CheckReport>,
}

impl PersonReport {
    /// True when every check is green.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Calls on one instance before it is replaced by a fresh one.
pub const RECYCLE_AFTER_CALLS: usize = 100;

/// Runs the sync test of every person of `tenant` (or of `only`), as
/// [`check_each`] does, without progress.
pub async fn check(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    only: Option<&str>,
) -> Result<Vec<PersonReport>, TenantError> {
    check_each(
        tenant,
        runtime,
        only,
        &subscription_check::SubscriptionOptions::default(),
        &mut |_| {},
    )
    .await
}

/// A person's sync test is done: the `done`-th of `total` to finish (from
/// 1; persons finish in any order when they run concurrently).
#[derive(Debug, Clone, Copy)]
pub struct CheckProgress<'r> {
    /// How many persons have finished, this one included.
    pub done: usize,
    /// Persons in the test.
    pub total: usize,
    /// The person's checks.
    pub report: &'r PersonReport,
}

/// Runs the sync test of every person of `tenant` (or of `only`) in up to
/// `SyncMaxConcurrentMailboxes` [`TenantRun`]s at once, as [`run`] runs
/// cycles (after the first person, whose sign-in the others reuse), telling
/// `progress` as each person finishes; the reports keep the persons' order. A trap, a missed deadline or an unreadable database row
/// becomes a red check of that person; the others still run. A sync-disabled
/// person is tested too, and gets a red `sync-enabled` check. An unknown
/// `only` is one red `person` check (code `unknown-person`), not an error.
/// The fifth check, `subscription`, follows the component's four when they
/// are green ([`subscription_check`], with `subscription`'s options).
pub async fn check_each(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    only: Option<&str>,
    subscription: &subscription_check::SubscriptionOptions,
    progress: &mut dyn FnMut(CheckProgress<'_>),
) -> Result<Vec<PersonReport>, TenantError> {
    let rows = match only {
        Some(email) => match tenant.db().get_person_row(email)? {
            Some(row) => vec![row],
            None => return Ok(vec![unknown_person(tenant, email)]),
        },
        None => tenant.db().list_person_rows()?,
    };
    let persons: Vec<Person> = rows
        .iter()
        .filter_map(|row| match row {
            PersonRow::Valid(p) => Some(p.clone()),
            PersonRow::Unreadable { .. } => None,
        })
        .collect();
    let total = rows.len();
    // As in `run`: each worker on its own instance, taking the next person
    // from one queue; at most `SyncMaxConcurrentMailboxes` requests at once.
    let workers =
        (tenant.settings().timing().sync_max_concurrent_mailboxes as usize).clamp(1, total.max(1));
    let queue = RefCell::new(rows.into_iter().enumerate());
    let results: RefCell<Vec<Option<PersonReport>>> =
        RefCell::new((0..total).map(|_| None).collect());
    let done = RefCell::new(0usize);
    let progress = RefCell::new(progress);
    // The first worker tests one person before the others start: its
    // sign-in fills the tenant's token cache, which the others then reuse
    // instead of all signing in at the same moment.
    let (warmed, warm) = tokio::sync::watch::channel(false);
    let worker = |first: bool| {
        let mut warm = warm.clone();
        let (queue, results, done, progress, persons, warmed) =
            (&queue, &results, &done, &progress, &persons, &warmed);
        async move {
            if !first {
                // An error means the first worker is gone: go on.
                let _ = warm.wait_for(|warm| *warm).await;
            }
            let mut run = TenantRun::new(tenant, runtime, persons);
            loop {
                let next = queue.borrow_mut().next();
                let Some((index, row)) = next else {
                    break;
                };
                let report = match row {
                    PersonRow::Valid(person) => {
                        let mut report = run.check_person(&person).await;
                        // The component's checks end with `write`; a host
                        // error (a trap, the deadline) is one check alone.
                        if report.checks.last().is_some_and(|c| c.name == "write") {
                            let red = report.checks.iter().find(|c| !c.ok).map(|c| c.name.clone());
                            report.checks.push(match red {
                                None => run.check_subscription(&person, subscription).await,
                                Some(failed) => subscription_check::not_run(&failed),
                            });
                        }
                        if person.sync_disabled {
                            report.checks.push(sync_enabled_check(tenant, &person));
                        }
                        report
                    }
                    PersonRow::Unreadable { email, problem } => {
                        tenant
                            .log()
                            .write(Level::Error, &format!("{email}: {problem}"));
                        PersonReport {
                            email: email.clone(),
                            checks: vec![CheckReport::red(
                                "person",
                                "person-unreadable",
                                problem.to_string(),
                                format!(
                                    "remove the person (`rooms-sync --tenant {} person remove {email}`) and add it again with `person add`",
                                    tenant.dir().display()
                                ),
                            )],
                        }
                    }
                };
                let finished = {
                    let mut done = done.borrow_mut();
                    *done += 1;
                    *done
                };
                (progress.borrow_mut())(CheckProgress {
                    done: finished,
                    total,
                    report: &report,
                });
                results.borrow_mut()[index] = Some(report);
                warmed.send_replace(true);
            }
            warmed.send_replace(true);
        }
    };
    futures_util::future::join_all((0..workers).map(|i| worker(i == 0))).await;
    Ok(results.into_inner().into_iter().flatten().collect())
}

/// The red check `sync-enabled` of a person ROOMS stopped syncing: when and
/// why, and the command that turns the sync on again.
fn sync_enabled_check(tenant: &Tenant, person: &Person) -> CheckReport {
    let message = match (&person.disabled_at, &person.disabled_reason) {
        (Some(at), Some(reason)) => format!(
            "ROOMS stopped syncing this person on {at}: {}",
            operator_text(reason, MESSAGE_CAP)
        ),
        _ => "ROOMS stopped syncing this person".to_string(),
    };
    CheckReport::red(
        "sync-enabled",
        "sync-disabled",
        message,
        format!(
            "Fix the cause, then run `rooms-sync --tenant {} person enable {}`",
            tenant.dir().display(),
            person.email
        ),
    )
}

fn unknown_person(tenant: &Tenant, email: &str) -> PersonReport {
    let email = operator_text(email, 320);
    PersonReport {
        checks: vec![CheckReport::red(
            "person",
            "unknown-person",
            format!("{email} is not a person of this tenant"),
            format!(
                "add it with `rooms-sync --tenant {} person add {email} --mode O365` (or O365Pull), using the mailbox's primary SMTP address",
                tenant.dir().display()
            ),
        )],
        email,
    }
}

/// Items moved in one direction, by one person's cycle or by a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Bookings (ROOMS) or items (Exchange) created.
    pub created: u64,
    /// Bookings or items updated (series exceptions included).
    pub updated: u64,
    /// Bookings or items cancelled or deleted.
    pub cancelled: u64,
}

impl Counts {
    fn from_wit(counts: &DirectionCounts) -> Counts {
        Counts {
            created: counts.created.into(),
            updated: counts.updated.into(),
            cancelled: counts.cancelled.into(),
        }
    }

    fn add(&mut self, other: &Counts) {
        self.created = self.created.saturating_add(other.created);
        self.updated = self.updated.saturating_add(other.updated);
        self.cancelled = self.cancelled.saturating_add(other.cancelled);
    }
}

/// A problem of one person's cycle, as the operator sees it: the
/// `{"code","message","fix"}` of `run --json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunProblem {
    /// A stable code: the component's (`ErrorAccessDenied`,
    /// `AADSTS7000215`, `HTTP 403`, `configuration`, `conflict`, `store`,
    /// ...) or the host's (see the [module documentation](self)).
    pub code: String,
    /// What happened, one sentence.
    pub message: String,
    /// What to change; none when nothing needs doing (the next run retries).
    pub fix: Option<String>,
}

/// The outcome of one sync cycle of one person, as `run` shows it. Serialises
/// as one element of `persons` in `run --json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunReport {
    /// The person's address.
    pub email: String,
    /// Changes brought from Exchange into ROOMS.
    pub to_rooms: Counts,
    /// Changes written from ROOMS to Exchange.
    pub to_exchange: Counts,
    /// Conflicts found and resolved (or escalated).
    pub conflicts: u64,
    /// Exchange items set aside because they could not be read or mapped.
    pub quarantined: u64,
    /// EWS requests sent (retries included).
    pub ews_requests: u64,
    /// Milliseconds the host let the component wait on throttling and
    /// back-off during the call.
    pub backoff_ms: u64,
    /// True when the cycle ran to its end; what was committed before a stop
    /// stays committed.
    pub completed: bool,
    /// True when the person was not run at all (sync disabled).
    pub skipped: bool,
    /// The problems met; empty for a clean cycle.
    pub errors: Vec<RunProblem>,
}

/// The most problems passed on per person; further ones are logged at info
/// level and summed up in one `more-problems` entry.
pub const MAX_PROBLEMS: usize = 100;

/// The longest problem code passed on from the component.
const CODE_CAP: usize = 100;

impl RunReport {
    /// True when the person's cycle completed without any problem.
    pub fn ok(&self) -> bool {
        self.completed && self.errors.is_empty()
    }

    /// A person whose cycle did not run or did not return: zero counters,
    /// not completed, one problem.
    pub fn failed(email: &str, problem: RunProblem) -> RunReport {
        RunReport {
            email: email.to_string(),
            to_rooms: Counts::default(),
            to_exchange: Counts::default(),
            conflicts: 0,
            quarantined: 0,
            ews_requests: 0,
            backoff_ms: 0,
            completed: false,
            skipped: false,
            errors: vec![problem],
        }
    }

    /// A person whose sync ROOMS has disabled: skipped, not completed, with
    /// the problem `sync-disabled` saying how to find the cause.
    pub fn sync_disabled(tenant_dir: &Path, email: &str) -> RunReport {
        RunReport {
            skipped: true,
            ..RunReport::failed(
                email,
                RunProblem {
                    code: "sync-disabled".into(),
                    message: format!("sync is disabled for {email} in ROOMS; skipped"),
                    fix: Some(format!(
                        "find the cause with `rooms-sync --tenant {} check --person {email}`, fix it, and enable the sync of {email} in ROOMS again",
                        tenant_dir.display()
                    )),
                },
            )
        }
    }

    /// The component's `sync-report` of `email`, every text made safe
    /// ([`operator_text`]), at most [`MAX_PROBLEMS`] problems (the others
    /// go to `log`), and a problem `incomplete` when the cycle stopped
    /// without one.
    fn from_component(
        email: &str,
        report: SyncReport,
        log: &LogSink,
        tenant_dir: &Path,
    ) -> RunReport {
        let total = report.errors.len();
        let mut errors: Vec<RunProblem> = Vec::with_capacity(total.min(MAX_PROBLEMS + 1));
        for (i, problem) in report.errors.into_iter().enumerate() {
            let problem = problem_from_wit(problem);
            if i < MAX_PROBLEMS {
                errors.push(problem);
            } else {
                log.write(
                    Level::Info,
                    &format!("{email}: {}: {}", problem.code, problem.message),
                );
            }
        }
        if total > MAX_PROBLEMS {
            errors.push(RunProblem {
                code: "more-problems".into(),
                message: format!(
                    "{} more problems are not shown here",
                    total - MAX_PROBLEMS
                ),
                fix: Some(format!(
                    "run `rooms-sync --log-level info --tenant {} run --person {email}` to see them in the log",
                    tenant_dir.display()
                )),
            });
        }
        if !report.completed && errors.is_empty() {
            errors.push(RunProblem {
                code: "incomplete".into(),
                message: "the sync component stopped before the end of the cycle without naming a problem".into(),
                fix: Some("run again with --log-level debug for the details, and report it if it persists".into()),
            });
        }
        RunReport {
            email: email.to_string(),
            to_rooms: Counts::from_wit(&report.to_rooms),
            to_exchange: Counts::from_wit(&report.to_exchange),
            conflicts: report.conflicts.into(),
            quarantined: report.quarantined.into(),
            ews_requests: report.ews_requests.into(),
            backoff_ms: report.backoff_ms,
            completed: report.completed,
            skipped: false,
            errors,
        }
    }
}

/// A problem of the component's report, every text made safe. The typed
/// cause is not passed on: its message and fix already say it.
fn problem_from_wit(problem: SyncProblem) -> RunProblem {
    let code = operator_text(&problem.code, CODE_CAP);
    RunProblem {
        code: if code.is_empty() {
            "error".into()
        } else {
            code
        },
        message: operator_text(&problem.message, MESSAGE_CAP),
        fix: problem.fix.map(|f| operator_text(&f, MESSAGE_CAP)),
    }
}

/// The sums over all persons of a run: `totals` in `run --json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunTotals {
    /// Changes brought from Exchange into ROOMS.
    pub to_rooms: Counts,
    /// Changes written from ROOMS to Exchange.
    pub to_exchange: Counts,
    /// Conflicts.
    pub conflicts: u64,
    /// Items quarantined.
    pub quarantined: u64,
    /// EWS requests sent.
    pub ews_requests: u64,
    /// Milliseconds waited on throttling and back-off.
    pub backoff_ms: u64,
    /// Persons in the run, skipped ones included.
    pub persons: u64,
    /// Persons that did not complete or met a problem (skipped ones
    /// included: see [`RunReport::ok`]).
    pub persons_failed: u64,
    /// Persons not run because their sync is disabled.
    pub persons_skipped: u64,
}

impl RunTotals {
    /// The totals of `reports`; sums saturate.
    pub fn of(reports: &[RunReport]) -> RunTotals {
        let mut totals = RunTotals::default();
        for r in reports {
            totals.to_rooms.add(&r.to_rooms);
            totals.to_exchange.add(&r.to_exchange);
            totals.conflicts = totals.conflicts.saturating_add(r.conflicts);
            totals.quarantined = totals.quarantined.saturating_add(r.quarantined);
            totals.ews_requests = totals.ews_requests.saturating_add(r.ews_requests);
            totals.backoff_ms = totals.backoff_ms.saturating_add(r.backoff_ms);
            totals.persons += 1;
            totals.persons_failed += u64::from(!r.ok());
            totals.persons_skipped += u64::from(r.skipped);
        }
        totals
    }
}

/// Why [`run`] did not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--person` names no person of the tenant.
    #[error(
        "{email} is not a person of this tenant; see `rooms-sync --tenant {tenant} person list` (a person is known by the mailbox's primary SMTP address)"
    )]
    UnknownPerson {
        /// The address asked for, made safe.
        email: String,
        /// The tenant directory.
        tenant: String,
    },
    /// The tenant's database cannot be read.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Where a [`run`] is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'r> {
    /// The component is about to run the person at `index` (from 0) of
    /// `total` persons. Not sent for skipped or unreadable persons.
    Starting {
        /// Position of the person in the run, from 0.
        index: usize,
        /// Persons in the run.
        total: usize,
        /// The person's address.
        email: &'r str,
    },
    /// The person at `index` is done: run, skipped or unreadable.
    Finished {
        /// Position of the person in the run, from 0.
        index: usize,
        /// Persons in the run.
        total: usize,
        /// The person's outcome.
        report: &'r RunReport,
    },
}

/// Runs one two-way sync cycle of every person of `tenant` (or of `only`)
/// in one [`TenantRun`], one person after the other, telling `progress`
/// before and after each. A trap, a missed deadline or an unreadable
/// database row becomes a failed report of that person; the others still
/// run. Sync-disabled persons are skipped ([`RunReport::sync_disabled`]).
/// Fails only when `only` is not a person of the tenant, or the persons
/// cannot be listed.
pub async fn run(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    only: Option<&str>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<RunReport>, RunError> {
    let rows = match only {
        Some(email) => match tenant.db().get_person_row(email)? {
            Some(row) => vec![row],
            None => {
                return Err(RunError::UnknownPerson {
                    email: operator_text(email, 320),
                    tenant: tenant.dir().display().to_string(),
                });
            }
        },
        None => tenant.db().list_person_rows()?,
    };
    // The HTTP policy allows the Sync-URLs of the persons that run.
    let persons: Vec<Person> = rows
        .iter()
        .filter_map(|row| match row {
            PersonRow::Valid(p) if !p.sync_disabled => Some(p.clone()),
            _ => None,
        })
        .collect();
    let total = rows.len();
    // Persons sync concurrently, each worker on its own component instance,
    // up to `SyncMaxConcurrentMailboxes` (well below the 27 connections
    // Exchange Online allows per account). Workers interleave while they
    // wait on HTTP or a back-off; the results keep the persons' order.
    let workers =
        (tenant.settings().timing().sync_max_concurrent_mailboxes as usize).clamp(1, total.max(1));
    // The persons in order, taken one at a time by whichever worker is free.
    let queue = RefCell::new(rows.into_iter().enumerate());
    let results: RefCell<Vec<Option<RunReport>>> = RefCell::new((0..total).map(|_| None).collect());
    let progress = RefCell::new(progress);
    let worker = || async {
        let mut run = TenantRun::new(tenant, runtime, &persons);
        loop {
            let next = queue.borrow_mut().next();
            let Some((index, row)) = next else {
                break;
            };
            let report = match row {
                PersonRow::Valid(person) => {
                    if !person.sync_disabled {
                        (progress.borrow_mut())(Progress::Starting {
                            index,
                            total,
                            email: &person.email,
                        });
                    }
                    run.run_person(&person).await
                }
                PersonRow::Unreadable { email, problem } => {
                    tenant
                        .log()
                        .write(Level::Error, &format!("{email}: {problem}"));
                    RunReport::failed(
                        &email,
                        RunProblem {
                            code: "person-unreadable".into(),
                            message: problem.to_string(),
                            fix: Some(format!(
                                "remove the person (`rooms-sync --tenant {} person remove {email}`) and add it again with `person add`",
                                tenant.dir().display()
                            )),
                        },
                    )
                }
            };
            (progress.borrow_mut())(Progress::Finished {
                index,
                total,
                report: &report,
            });
            results.borrow_mut()[index] = Some(report);
        }
    };
    futures_util::future::join_all((0..workers).map(|_| worker())).await;
    let reports: Vec<RunReport> = results.into_inner().into_iter().flatten().collect();
    Ok(reports)
}

/// What ended a call that did not return normally.
enum Stopped {
    /// The wall-clock deadline passed while the call waited.
    Deadline,
    /// The component trapped, a host call failed or instantiation failed.
    Trap(wasmtime::Error),
}

/// A call that did not return normally, as the operator sees it.
struct StopReport {
    /// `deadline`, `memory-limit` or `component-error`.
    code: &'static str,
    /// What happened, with the cap that was hit.
    message: String,
    /// The option that raises the cap, or what to do.
    fix: String,
}

/// The result of one call on the run's instance.
struct CallOutcome<T> {
    /// What the export returned, or why it did not return.
    result: Result<T, StopReport>,
    /// Milliseconds of waiting the host granted through `pacing.wait` during
    /// the call (also when it was stopped).
    waited_ms: u64,
}

/// The calls of one run for one tenant: one store and instance, reused.
pub struct TenantRun<'a> {
    tenant: Arc<Tenant>,
    runtime: &'a Runtime,
    policy: Arc<HttpPolicy>,
    recycle_after: usize,
    store: Option<Store<TenantState>>,
    plugin: Option<Plugin>,
    calls_on_instance: usize,
    instances: usize,
    on_instantiate: Option<InstantiationObserver>,
}

/// Told how long each instantiation of a [`TenantRun`] took (the service's
/// `rooms_sync_instantiation_seconds`).
pub type InstantiationObserver = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

impl<'a> TenantRun<'a> {
    /// A run for `persons` of `tenant`: the HTTP policy allows the
    /// authority and their Sync-URLs. No instance exists until the first
    /// call.
    pub fn new(tenant: &Arc<Tenant>, runtime: &'a Runtime, persons: &[Person]) -> TenantRun<'a> {
        TenantRun {
            policy: Arc::new(tenant.run_policy(persons, runtime.limits().http)),
            tenant: tenant.clone(),
            runtime,
            recycle_after: RECYCLE_AFTER_CALLS,
            store: None,
            plugin: None,
            calls_on_instance: 0,
            instances: 0,
            on_instantiate: None,
        }
    }

    /// Tells `observer` how long every instantiation of this run takes.
    pub fn observe_instantiation(mut self, observer: InstantiationObserver) -> Self {
        self.on_instantiate = Some(observer);
        self
    }

    /// Replaces the instance after `calls` calls instead of
    /// [`RECYCLE_AFTER_CALLS`] (at least one).
    pub fn recycle_after(mut self, calls: usize) -> Self {
        self.recycle_after = calls.max(1);
        self
    }

    /// How many instances this run has created so far.
    pub fn instances_created(&self) -> usize {
        self.instances
    }

    /// The sync test of `person`, on the run's instance.
    pub async fn check_person(&mut self, person: &Person) -> PersonReport {
        let record = to_wit(person.clone());
        let deadline = self.runtime.limits().call_deadline;
        let outcome = self
            .call(
                &person.email,
                &[&person.email],
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_sync()
                        .call_check_person(store, &record)
                        .await
                },
            )
            .await;
        let checks = match outcome.result {
            Ok(Ok(checks)) => checks
                .into_iter()
                .map(|c| CheckReport {
                    name: operator_text(&c.name, 64),
                    ok: c.ok,
                    message: operator_text(&c.message, MESSAGE_CAP),
                    fix: c.fix.map(|f| operator_text(&f, MESSAGE_CAP)),
                    code: if c.ok {
                        None
                    } else {
                        c.cause.as_ref().map(cause_code)
                    },
                })
                .collect(),
            Ok(Err(error)) => vec![error_check(&error)],
            Err(stop) => vec![CheckReport::red(
                "component",
                stop.code,
                stop.message,
                stop.fix,
            )],
        };
        PersonReport {
            email: person.email.clone(),
            checks,
        }
    }

    /// One two-way sync cycle of `person` (the component's `run-person`), on
    /// the run's instance. A trap, a missed deadline or a failed
    /// instantiation becomes a report with one problem (`deadline`,
    /// `memory-limit` or `component-error`) and `completed: false`; the
    /// instance is replaced for the next person. A sync-disabled person is
    /// not passed to the component: see [`RunReport::sync_disabled`].
    pub async fn run_person(&mut self, person: &Person) -> RunReport {
        if person.sync_disabled {
            return RunReport::sync_disabled(self.tenant.dir(), &person.email);
        }
        let record = to_wit(person.clone());
        let deadline = self.runtime.limits().call_deadline;
        let outcome = self
            .call(
                &person.email,
                &[&person.email],
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_sync()
                        .call_run_person(store, &record)
                        .await
                },
            )
            .await;
        let mut report = match outcome.result {
            Ok(sync_report) => RunReport::from_component(
                &person.email,
                sync_report,
                self.tenant.log(),
                self.tenant.dir(),
            ),
            Err(stop) => RunReport::failed(
                &person.email,
                RunProblem {
                    code: stop.code.into(),
                    message: stop.message,
                    fix: Some(stop.fix),
                },
            ),
        };
        if report.backoff_ms != outcome.waited_ms && report.completed {
            self.tenant.log().write(
                Level::Debug,
                &format!(
                    "{}: the component counted {} ms of back-off, the host granted {} ms",
                    person.email, report.backoff_ms, outcome.waited_ms
                ),
            );
        }
        report.backoff_ms = outcome.waited_ms;
        report
    }

    /// Calls `export` on the run's instance under `deadline` (the call
    /// deadline, or a shorter batch timeout): creates the store (first call,
    /// or after [`RECYCLE_AFTER_CALLS`] calls) and the instance (first call
    /// on a store), and drops both when the call does not return normally,
    /// logging why under `label` (with the person, when the call is about one;
    /// the component's lines carry the `persons` as [`TenantState::set_log_persons`] says).
    async fn call<T>(
        &mut self,
        label: &str,
        persons: &[&str],
        deadline: std::time::Duration,
        export: impl AsyncFnOnce(&Plugin, &mut Store<TenantState>) -> wasmtime::Result<T>,
    ) -> CallOutcome<T> {
        let runtime = self.runtime;
        if self.store.is_none() || self.calls_on_instance >= self.recycle_after {
            let state = TenantState::new(
                self.tenant.clone(),
                self.policy.clone(),
                runtime.store_limits(),
            );
            self.store = Some(runtime.new_store(state));
            self.plugin = None;
            self.calls_on_instance = 0;
        }
        let store = self.store.as_mut().expect("a store was just made");
        store.data_mut().begin_call();
        store.data_mut().set_log_persons(persons);
        runtime.arm_deadline(store);
        let plugin = &mut self.plugin;
        let instances = &mut self.instances;
        let on_instantiate = self.on_instantiate.as_ref();
        let call = async {
            if plugin.is_none() {
                let started = std::time::Instant::now();
                *plugin = Some(runtime.instantiate(store).await?);
                *instances += 1;
                if let Some(observe) = on_instantiate {
                    observe(started.elapsed());
                }
            }
            let plugin = plugin.as_ref().expect("instantiated above");
            export(plugin, &mut *store).await
        };
        let outcome = match tokio::time::timeout(deadline, call).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(trap)) => Err(Stopped::Trap(trap)),
            Err(_elapsed) => Err(Stopped::Deadline),
        };
        match outcome {
            Ok(result) => {
                self.calls_on_instance += 1;
                let waited_ms = self
                    .store
                    .as_ref()
                    .map_or(0, |store| store.data().pacing().waited_ms);
                CallOutcome {
                    result: Ok(result),
                    waited_ms,
                }
            }
            Err(stopped) => {
                // A call that did not return leaves its instance in an
                // unknown state: the next person gets a fresh one.
                let (memory_refused, waited_ms) = match self.store.take() {
                    Some(store) => (
                        store.data().limits.refused_growth(),
                        store.data().pacing().waited_ms,
                    ),
                    None => (None, 0),
                };
                self.plugin = None;
                let stop = describe_stop(&stopped, memory_refused, runtime, deadline);
                let log = match persons {
                    [email] => self.tenant.log().with_field("person", email),
                    _ => self.tenant.log().clone(),
                };
                if let Stopped::Trap(trap) = &stopped {
                    log.write(
                        Level::Debug,
                        &format!("{label}: component stopped: {trap:?}"),
                    );
                }
                log.write(Level::Error, &format!("{label}: {}", stop.message));
                CallOutcome {
                    result: Err(stop),
                    waited_ms,
                }
            }
        }
    }
}

/// The longest message or fix the host passes on from the component. The
/// component caps its own text; this is the host's backstop, because the
/// component is the sandboxed party.
const MESSAGE_CAP: usize = 8 * 1024;

/// A red check for an error the component returned instead of checks.
fn error_check(error: &SyncError) -> CheckReport {
    let (message, fix) = match error {
        SyncError::UnknownPerson(email) => (
            format!("the component does not know {email}"),
            "add the person with `rooms-sync person add`".to_string(),
        ),
        SyncError::Configuration(types::ConfigProblem { key, problem }) => (
            format!("setting {key}: {problem}"),
            format!("correct {key} in RoomsAppSettings.config"),
        ),
        other => (
            format!("the sync test could not start: {other:?}"),
            "see the log for details".to_string(),
        ),
    };
    CheckReport::red(
        "sync-test",
        &cause_code(error),
        operator_text(&message, MESSAGE_CAP),
        operator_text(&fix, MESSAGE_CAP),
    )
}

/// The fix of a call stopped at its deadline.
const DEADLINE_FIX: &str = "raise the deadline with --call-timeout-secs if Exchange is slow to answer; the HTTP timeouts (--connect-timeout-secs, --response-timeout-secs) bound each request";

/// The fix of a call that trapped for another reason than memory.
const TRAP_FIX: &str = "this is a bug in rooms-sync or a damaged component file: rebuild the component (`make guest`), run again with --log-level debug for the details, and report it if it persists";

/// The operator's view of a call that was stopped: which cap was hit and the
/// option that raises it, with a stable code. Never a backtrace.
fn describe_stop(
    stopped: &Stopped,
    memory_refused: Option<usize>,
    runtime: &Runtime,
    call_deadline: std::time::Duration,
) -> StopReport {
    let limits = runtime.limits();
    let deadline = || StopReport {
        code: "deadline",
        message: format!(
            "the sync component was stopped after its deadline of {} s",
            call_deadline.as_secs_f64()
        ),
        fix: DEADLINE_FIX.into(),
    };
    let trap = match stopped {
        Stopped::Deadline => return deadline(),
        Stopped::Trap(trap) => trap,
    };
    if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return deadline();
    }
    if let Some(asked) = memory_refused {
        return StopReport {
            code: "memory-limit",
            message: format!(
                "the sync component exceeded its memory cap of {} MiB (it asked for {} MiB)",
                limits.memory_bytes >> 20,
                asked.div_ceil(1 << 20)
            ),
            fix: "raise the cap with --memory-limit-mib; if it keeps growing, report this as a bug"
                .into(),
        };
    }
    let what = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => code.to_string(),
        None => trap
            .root_cause()
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    StopReport {
        code: "component-error",
        message: format!(
            "the sync component stopped with an internal error ({})",
            operator_text(&what, 300)
        ),
        fix: TRAP_FIX.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(created: u32, updated: u32, cancelled: u32) -> DirectionCounts {
        DirectionCounts {
            created,
            updated,
            cancelled,
        }
    }

    fn problem(code: &str, message: &str, fix: Option<&str>) -> SyncProblem {
        SyncProblem {
            code: code.into(),
            message: message.into(),
            fix: fix.map(Into::into),
            cause: None,
        }
    }

    fn sync_report(completed: bool, errors: Vec<SyncProblem>) -> SyncReport {
        SyncReport {
            to_rooms: counts(3, 1, 0),
            to_exchange: counts(2, 0, 1),
            conflicts: 1,
            quarantined: 4,
            ews_requests: 14,
            backoff_ms: 250,
            completed,
            errors,
        }
    }

    fn from_component(report: SyncReport) -> (RunReport, crate::log::MemoryLog) {
        let (log, lines) = LogSink::memory();
        let report = RunReport::from_component(
            "adele@contoso.com",
            report,
            &log,
            Path::new("/tenants/contoso"),
        );
        (report, lines)
    }

    #[test]
    fn a_clean_cycle_keeps_the_components_counters() {
        let (report, _) = from_component(sync_report(true, vec![]));
        assert!(report.ok());
        assert_eq!(report.email, "adele@contoso.com");
        assert_eq!(
            (report.to_rooms, report.to_exchange),
            (
                Counts {
                    created: 3,
                    updated: 1,
                    cancelled: 0
                },
                Counts {
                    created: 2,
                    updated: 0,
                    cancelled: 1
                }
            )
        );
        assert_eq!(
            (
                report.conflicts,
                report.quarantined,
                report.ews_requests,
                report.backoff_ms
            ),
            (1, 4, 14, 250)
        );
        assert!(!report.skipped);
    }

    #[test]
    fn the_components_text_is_made_safe() {
        let hostile = "denied\x1b[2J\r\n[ OK ] forged\u{202E}";
        let (report, _) = from_component(sync_report(
            false,
            vec![problem(
                &format!("Error\x1b]0;x\x07{}", "A".repeat(500)),
                hostile,
                Some(hostile),
            )],
        ));
        assert!(!report.ok());
        let p = &report.errors[0];
        for text in [&p.code, &p.message, p.fix.as_ref().unwrap()] {
            assert!(
                !text.chars().any(|c| c.is_control() || c == '\u{202E}'),
                "{text:?}"
            );
        }
        assert!(p.code.chars().count() < CODE_CAP + 40, "{}", p.code);
        assert_eq!(p.message, "denied [2J [ OK ] forged");
    }

    #[test]
    fn an_empty_code_becomes_error() {
        let (report, _) = from_component(sync_report(true, vec![problem("", "m", None)]));
        assert_eq!(report.errors[0].code, "error");
        assert_eq!(report.errors[0].fix, None);
    }

    #[test]
    fn problems_over_the_cap_are_logged_and_summed_up() {
        let errors = (0..MAX_PROBLEMS + 5)
            .map(|i| problem("conflict", &format!("booking {i}"), None))
            .collect();
        let (report, log) = from_component(sync_report(true, errors));
        assert_eq!(report.errors.len(), MAX_PROBLEMS + 1);
        let last = report.errors.last().unwrap();
        assert_eq!(last.code, "more-problems");
        assert!(
            last.message.starts_with("5 more problems"),
            "{}",
            last.message
        );
        assert!(
            last.fix
                .as_ref()
                .unwrap()
                .contains("--person adele@contoso.com")
        );
        let log = log.text();
        assert!(
            log.contains(&format!("booking {}", MAX_PROBLEMS + 4)),
            "{log}"
        );
        assert!(!log.contains("booking 0\n"), "{log}");
    }

    #[test]
    fn a_cycle_stopped_without_a_problem_gets_one() {
        let (report, _) = from_component(sync_report(false, vec![]));
        assert!(!report.ok());
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].code, "incomplete");
        // A stopped cycle that names its problem gets no second one.
        let (report, _) = from_component(sync_report(
            false,
            vec![problem("HTTP 403", "blocked", Some("allow EWS"))],
        ));
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].code, "HTTP 403");
    }

    #[test]
    fn a_sync_disabled_person_is_skipped_and_failed() {
        let report = RunReport::sync_disabled(Path::new("contoso"), "room@contoso.com");
        assert!(report.skipped && !report.completed && !report.ok());
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].code, "sync-disabled");
        let fix = report.errors[0].fix.as_deref().unwrap();
        assert!(
            fix.contains("rooms-sync --tenant contoso check --person room@contoso.com"),
            "{fix}"
        );
        assert_eq!(report.to_rooms, Counts::default());
    }
}
