//! The calls made into the component on a tenant's behalf, and how their
//! outcome reaches the operator.
//!
//! [`check`] runs the sync test of a tenant's persons. Every call gets a fresh
//! sandboxed store ([`Runtime::new_store`]) with the tenant's HTTP policy and
//! its memory cap, and the whole call — instantiation, component code and
//! every host call it waits on (HTTP included) — runs under the wall-clock
//! deadline `--call-timeout-secs`. The epoch deadline of the store stops
//! component code that spins without calling the host; the timer here stops
//! a call that waits. Either way the person gets a red check and the next
//! person runs.
//!
//! Traps never reach the operator as raw wasmtime errors (no backtraces):
//! [`describe_trap`] names the cap that was hit and the option that raises
//! it, and the details go to the log at debug level.

use std::sync::Arc;

use crate::bindings::{SyncError, types};
use crate::log::Level;
use crate::rooms_db::{Person, PersonRow};
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
}

impl CheckReport {
    /// A red check.
    pub fn red(name: &str, message: String, fix: String) -> CheckReport {
        CheckReport {
            name: name.into(),
            ok: false,
            message,
            fix: Some(fix),
        }
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

/// Runs the sync test of every person of `tenant` (or of `only`), each in a
/// fresh sandboxed instance. A trap, a missed deadline or an unreadable
/// database row becomes a red check of that person; the others still run.
pub async fn check(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    only: Option<&str>,
) -> Result<Vec<PersonReport>, TenantError> {
    let rows = match only {
        Some(email) => match tenant.db().get_person_row(email)? {
            Some(row) => vec![row],
            None => return Ok(vec![unknown_person(tenant, email)]),
        },
        None => tenant.db().list_person_rows()?,
    };
    let mut reports = Vec::with_capacity(rows.len());
    for row in rows {
        reports.push(match row {
            PersonRow::Valid(person) => check_person(tenant, runtime, &person).await,
            PersonRow::Unreadable { email, problem } => {
                tenant
                    .log()
                    .write(Level::Error, &format!("{email}: {problem}"));
                PersonReport {
                    email: email.clone(),
                    checks: vec![CheckReport::red(
                        "person",
                        problem.to_string(),
                        format!(
                            "remove the person (`rooms-sync --tenant {} person remove {email}`) and add it again with `person add`",
                            tenant.dir().display()
                        ),
                    )],
                }
            }
        });
    }
    Ok(reports)
}

fn unknown_person(tenant: &Tenant, email: &str) -> PersonReport {
    let email = operator_text(email, 320);
    PersonReport {
        checks: vec![CheckReport::red(
            "person",
            format!("{email} is not a person of this tenant"),
            format!(
                "add it with `rooms-sync --tenant {} person add {email} --mode O365` (or O365Pull), using the mailbox's primary SMTP address",
                tenant.dir().display()
            ),
        )],
        email,
    }
}

/// What ended a call that did not return normally.
enum Stopped {
    /// The wall-clock deadline passed while the call waited.
    Deadline,
    /// The component trapped or a host call failed.
    Trap(wasmtime::Error),
}

async fn check_person(tenant: &Arc<Tenant>, runtime: &Runtime, person: &Person) -> PersonReport {
    let policy = Arc::new(tenant.http_policy(person, runtime.limits().http));
    let state = TenantState::new(tenant.clone(), policy, runtime.store_limits());
    let mut store = runtime.new_store(state);
    let deadline = runtime.limits().call_deadline;
    let call = async {
        let plugin = runtime.instantiate(&mut store).await?;
        plugin
            .rooms_exchange_sync_sync()
            .call_check_person(&mut store, &person.email)
            .await
    };
    let outcome = match tokio::time::timeout(deadline, call).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(trap)) => Err(Stopped::Trap(trap)),
        Err(_elapsed) => Err(Stopped::Deadline),
    };
    let checks = match outcome {
        Ok(Ok(checks)) => checks
            .into_iter()
            .map(|c| CheckReport {
                name: operator_text(&c.name, 64),
                ok: c.ok,
                message: operator_text(&c.message, MESSAGE_CAP),
                fix: c.fix.map(|f| operator_text(&f, MESSAGE_CAP)),
            })
            .collect(),
        Ok(Err(error)) => vec![error_check(&error)],
        Err(stopped) => {
            let memory_refused = store.data().limits.refused_growth();
            let (message, fix) = describe_stop(&stopped, memory_refused, runtime);
            if let Stopped::Trap(trap) = &stopped {
                tenant.log().write(
                    Level::Debug,
                    &format!("{}: component stopped: {trap:?}", person.email),
                );
            }
            tenant
                .log()
                .write(Level::Error, &format!("{}: {message}", person.email));
            vec![CheckReport::red("component", message, fix)]
        }
    };
    PersonReport {
        email: person.email.clone(),
        checks,
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
        operator_text(&message, MESSAGE_CAP),
        operator_text(&fix, MESSAGE_CAP),
    )
}

/// The operator's view of a call that was stopped: which cap was hit and the
/// option that raises it. Never a backtrace.
fn describe_stop(
    stopped: &Stopped,
    memory_refused: Option<usize>,
    runtime: &Runtime,
) -> (String, String) {
    let limits = runtime.limits();
    let deadline = || {
        (
            format!(
                "the sync component was stopped after its deadline of {} s",
                limits.call_deadline.as_secs_f64()
            ),
            "raise the deadline with --call-timeout-secs if Exchange is slow to answer; the HTTP timeouts (--connect-timeout-secs, --response-timeout-secs) bound each request".into(),
        )
    };
    let trap = match stopped {
        Stopped::Deadline => return deadline(),
        Stopped::Trap(trap) => trap,
    };
    if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return deadline();
    }
    if let Some(asked) = memory_refused {
        return (
            format!(
                "the sync component exceeded its memory cap of {} MiB (it asked for {} MiB)",
                limits.memory_bytes >> 20,
                asked.div_ceil(1 << 20)
            ),
            "raise the cap with --memory-limit-mib; if it keeps growing, report this as a bug"
                .into(),
        );
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
    (
        format!(
            "the sync component stopped with an internal error ({})",
            operator_text(&what, 300)
        ),
        "this is a bug in rooms-sync or a damaged component file: rebuild the component (`make guest`), run again with --log-level debug for the details, and report it if it persists".into(),
    )
}
