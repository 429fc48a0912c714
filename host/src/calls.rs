//! The calls made into the component on a tenant's behalf, and how their
//! outcome reaches the operator.
//!
//! [`check`] runs the sync test of a tenant's persons in one [`TenantRun`]:
//! one sandboxed store and component instance ([`Runtime::new_store`]) with
//! the run's HTTP policy, the tenant's connection pool and the memory cap,
//! reused for the tenant's persons one after the other and replaced every
//! [`RECYCLE_AFTER_CALLS`] calls (linear memory only grows) and after any
//! call that did not return normally. Tenants never share an instance. The
//! whole of each call — instantiation, component code and every host call
//! it waits on (HTTP included) — runs under the wall-clock deadline
//! `--call-timeout-secs`, re-armed for every call. The epoch deadline of the
//! store stops component code that spins without calling the host; the
//! timer here stops a call that waits. Either way the person gets a red
//! check, the instance is dropped, and the next person runs on a fresh one.
//!
//! Traps never reach the operator as raw wasmtime errors (no backtraces):
//! [`describe_trap`] names the cap that was hit and the option that raises
//! it, and the details go to the log at debug level.

use std::sync::Arc;

use wasmtime::Store;

use crate::bindings::{Plugin, SyncError, types};
use crate::capabilities::rooms::to_wit;
use crate::http_policy::HttpPolicy;
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

/// Calls on one instance before it is replaced by a fresh one.
pub const RECYCLE_AFTER_CALLS: usize = 100;

/// Runs the sync test of every person of `tenant` (or of `only`) in one
/// [`TenantRun`]. A trap, a missed deadline or an unreadable database row
/// becomes a red check of that person; the others still run.
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
    let persons: Vec<Person> = rows
        .iter()
        .filter_map(|row| match row {
            PersonRow::Valid(p) => Some(p.clone()),
            PersonRow::Unreadable { .. } => None,
        })
        .collect();
    let mut run = TenantRun::new(tenant, runtime, &persons);
    let mut reports = Vec::with_capacity(rows.len());
    for row in rows {
        reports.push(match row {
            PersonRow::Valid(person) => run.check_person(&person).await,
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
}

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
        }
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
        runtime.arm_deadline(store);
        let plugin = &mut self.plugin;
        let instances = &mut self.instances;
        let record = to_wit(person.clone());
        let call = async {
            if plugin.is_none() {
                *plugin = Some(runtime.instantiate(store).await?);
                *instances += 1;
            }
            let plugin = plugin.as_ref().expect("instantiated above");
            plugin
                .rooms_exchange_sync_sync()
                .call_check_person(&mut *store, &record)
                .await
        };
        let outcome = match tokio::time::timeout(runtime.limits().call_deadline, call).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(trap)) => Err(Stopped::Trap(trap)),
            Err(_elapsed) => Err(Stopped::Deadline),
        };
        let checks = match outcome {
            Ok(result) => {
                self.calls_on_instance += 1;
                match result {
                    Ok(checks) => checks
                        .into_iter()
                        .map(|c| CheckReport {
                            name: operator_text(&c.name, 64),
                            ok: c.ok,
                            message: operator_text(&c.message, MESSAGE_CAP),
                            fix: c.fix.map(|f| operator_text(&f, MESSAGE_CAP)),
                        })
                        .collect(),
                    Err(error) => vec![error_check(&error)],
                }
            }
            Err(stopped) => {
                // A call that did not return leaves its instance in an
                // unknown state: the next person gets a fresh one.
                let memory_refused = self
                    .store
                    .take()
                    .and_then(|store| store.data().limits.refused_growth());
                self.plugin = None;
                let (message, fix) = describe_stop(&stopped, memory_refused, runtime);
                if let Stopped::Trap(trap) = &stopped {
                    self.tenant.log().write(
                        Level::Debug,
                        &format!("{}: component stopped: {trap:?}", person.email),
                    );
                }
                self.tenant
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
