//! Section 1: the sync test of one person, the same logic as a component and
//! natively, with the same HTTP client, interleaved.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rooms_sync_guest::diagnostics::{self, Check};
use rooms_sync_guest::platform::HttpRequest;
use rooms_sync_host::calls::{self, TenantRun};
use rooms_sync_host::http_policy::HttpPolicy;
use rooms_sync_host::runtime::Runtime;
use rooms_sync_host::state::TenantState;
use rooms_sync_host::tenant::Tenant;
use tokio::runtime::Handle;

use crate::native::NativePlatform;
use crate::stats::{Samples, duration, method, minus, ratio, row, section};

/// What one sample of an arm measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arm {
    /// `diagnostics::check_person` compiled natively.
    Native,
    /// The component's `check-person` on the run's reused instance.
    Reused,
    /// `calls::check(tenant, runtime, Some(email))`, as `rooms-sync check --person`.
    Cli,
    /// A store and an instance created and dropped, no call.
    Instance,
    /// The check's GetFolder request alone, through the same hooks.
    Http,
    /// The same request through hooks with a new policy object, so on a new
    /// connection (as every `calls::check` run opens one).
    HttpNewConnection,
}

const ARMS: [Arm; 6] = [
    Arm::Native,
    Arm::Reused,
    Arm::Cli,
    Arm::Instance,
    Arm::Http,
    Arm::HttpNewConnection,
];

#[derive(Default)]
struct ArmResult {
    samples: Samples,
    opened: u64,
}

/// Runs section 1 for `email` of `tenant`: `warmup` rounds, then `n` rounds;
/// a round takes one sample of every arm, in an order that rotates.
pub async fn run(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    email: &str,
    warmup: usize,
    n: usize,
) -> anyhow::Result<()> {
    let person = tenant
        .db()
        .get_person(email)?
        .ok_or_else(|| anyhow::anyhow!("{email} is not in the bench tenant"))?;
    let limits = runtime.limits().http;
    let handle = Handle::current();

    // The native side: its own policy object (as a run has one) and the
    // tenant's pool. First call: sign in and record the requests made.
    let native_policy = Arc::new(tenant.run_policy(std::slice::from_ref(&person), limits));
    let mut native = NativePlatform::new(
        tenant.clone(),
        native_policy,
        tenant.pool().clone(),
        handle.clone(),
    );
    native.recorded = Some(Vec::new());
    let (mut native, first) = native_check(native, email.to_owned()).await;
    anyhow::ensure!(first.1, "the native check must be green");
    let get_folder: HttpRequest = native
        .recorded
        .take()
        .unwrap_or_default()
        .into_iter()
        .rfind(|r| r.header("content-type").is_some_and(|v| v.contains("xml")))
        .ok_or_else(|| anyhow::anyhow!("the native check made no EWS request"))?;

    let mut run = TenantRun::new(tenant, runtime, std::slice::from_ref(&person));
    let instance_policy = Arc::new(tenant.run_policy(std::slice::from_ref(&person), limits));

    let mut results: Vec<ArmResult> = ARMS.iter().map(|_| ArmResult::default()).collect();
    let mut fresh_in_reused = 0usize;
    for round in 0..warmup + n {
        let record = round >= warmup;
        for k in 0..ARMS.len() {
            let at = (round + k) % ARMS.len();
            let opened_before = tenant.pool().stats().opened;
            let (elapsed, ok) = match ARMS[at] {
                Arm::Native => {
                    let (back, (elapsed, ok)) = native_check(native, email.to_owned()).await;
                    native = back;
                    (elapsed, ok)
                }
                Arm::Reused => {
                    let instances = run.instances_created();
                    let started = Instant::now();
                    let found = tenant.db().get_person(email)?.expect("the person exists");
                    let report = run.check_person(&found).await;
                    let elapsed = started.elapsed();
                    if run.instances_created() != instances {
                        // This call created the instance: not a reused one.
                        fresh_in_reused += 1;
                        continue;
                    }
                    (elapsed, report.ok())
                }
                Arm::Cli => {
                    let started = Instant::now();
                    let reports = calls::check(tenant, runtime, Some(email)).await?;
                    (started.elapsed(), reports.iter().all(|r| r.ok()))
                }
                Arm::Instance => {
                    let elapsed = instantiate(tenant, runtime, &instance_policy).await?;
                    (elapsed, true)
                }
                Arm::Http => {
                    let request = get_folder.clone();
                    let (back, elapsed, ok) = tokio::task::spawn_blocking(move || {
                        let started = Instant::now();
                        let answer = native.send(&request);
                        let elapsed = started.elapsed();
                        let ok = answer.is_ok_and(|a| {
                            a.status == 200 && String::from_utf8_lossy(&a.body).contains("NoError")
                        });
                        (native, elapsed, ok)
                    })
                    .await?;
                    native = back;
                    (elapsed, ok)
                }
                Arm::HttpNewConnection => {
                    let (request, tenant, person) =
                        (get_folder.clone(), tenant.clone(), person.clone());
                    let handle = handle.clone();
                    tokio::task::spawn_blocking(move || {
                        let started = Instant::now();
                        let policy = Arc::new(tenant.run_policy(&[person], limits));
                        let pool = tenant.pool().clone();
                        let mut fresh = NativePlatform::new(tenant, policy, pool, handle);
                        let answer = fresh.send(&request);
                        drop(fresh);
                        let elapsed = started.elapsed();
                        (elapsed, answer.is_ok_and(|a| a.status == 200))
                    })
                    .await?
                }
            };
            anyhow::ensure!(ok, "{:?}: the check was not green", ARMS[at]);
            if record {
                results[at].samples.push(elapsed);
                results[at].opened += tenant.pool().stats().opened - opened_before;
            }
        }
    }

    let get = |arm: Arm| &results[ARMS.iter().position(|a| *a == arm).expect("an arm")];
    let (nat, reused, cli, inst, http, http_new) = (
        get(Arm::Native),
        get(Arm::Reused),
        get(Arm::Cli),
        get(Arm::Instance),
        get(Arm::Http),
        get(Arm::HttpNewConnection),
    );
    let opened = |r: &ArmResult| {
        format!(
            "{:.2} new connections per sample",
            r.opened as f64 / r.samples.len().max(1) as f64
        )
    };

    section(&format!(
        "1. The sync test of one person ({email}, client-secret sign-in, token cached: configuration, sign-in, calendar-access, write)"
    ));
    method(&format!(
        "the same check logic on both sides: the guest crate's `diagnostics::check_person` compiled \
         natively (Platform over the tenant's settings, secrets, token cache and rooms.db, HTTP \
         through the host's PolicyHooks and the tenant's ConnectionPool) vs the component's \
         `check-person` export run by the host; against the in-process emulator over loopback \
         HTTP; {} arms taken in turn, one sample each per round, the order rotating every round; \
         {warmup} warm-up rounds, then n={n}; median / p99; times include the person's row read \
         from rooms.db. The check makes several EWS requests (ResolveNames, GetFolder, and the \
         write check's FindItem, CreateItem, UpdateItem and DeleteItem); the per-call lines \
         below subtract one GetFolder request only. `calls::check` also runs the subscription \
         check (Subscribe, GetEvents, Unsubscribe), which the two arms above do not.",
        ARMS.len()
    ));
    row(
        "native: check_person compiled natively",
        nat.samples.median_p99(),
    );
    row(
        "component: TenantRun::check_person on a reused instance",
        reused.samples.median_p99(),
    );
    row(
        "wasm / native, same check logic, same HTTP client (medians)",
        ratio(reused.samples.median(), nat.samples.median()),
    );
    row(
        "component: calls::check(--person), what `check --person` runs",
        cli.samples.median_p99(),
    );
    row(
        "calls::check / native (medians)",
        ratio(cli.samples.median(), nat.samples.median()),
    );
    row("connections, native", opened(nat));
    row("connections, reused instance", opened(reused));
    row("connections, calls::check", opened(cli));
    if fresh_in_reused > 0 {
        row(
            "reused-instance samples left out (they created the instance)",
            fresh_in_reused,
        );
    }

    println!("   per call, from the medians above (public host APIs):");
    row(
        "  store + instance created and dropped (new_store, instantiate)",
        inst.samples.median_p99(),
    );
    row(
        "  the GetFolder request alone through PolicyHooks (pooled)",
        http.samples.median_p99(),
    );
    row(
        "  the same request on a new connection (new policy object)",
        http_new.samples.median_p99(),
    );
    let nat_logic = minus(nat.samples.median(), http.samples.median());
    let wasm_logic = minus(reused.samples.median(), http.samples.median());
    row(
        "  native check beyond one GetFolder request (native - request)",
        duration(nat_logic),
    );
    row(
        "  component call beyond one GetFolder request (reused - request)",
        duration(wasm_logic),
    );
    let connect = minus(http_new.samples.median(), http.samples.median());
    row(
        "  a new connection (new - pooled request)",
        duration(connect),
    );
    row(
        "  calls::check beyond reused call + instance + new connection",
        duration(minus(
            cli.samples.median(),
            reused.samples.median() + inst.samples.median() + connect,
        )),
    );
    Ok(())
}

/// One native check on a blocking thread: (time of `check_person` and the
/// sanitizing the component edge does, green?).
async fn native_check(
    mut native: NativePlatform,
    email: String,
) -> (NativePlatform, (Duration, bool)) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let checks = diagnostics::check_person(&mut native, &email)
            .map(|cs| cs.into_iter().map(Check::sanitized).collect::<Vec<_>>());
        let elapsed = started.elapsed();
        let ok = checks.is_ok_and(|cs| cs.iter().all(|c| c.ok));
        (native, (elapsed, ok))
    })
    .await
    .expect("the native check does not panic")
}

/// A store and an instance, created and dropped.
async fn instantiate(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    policy: &Arc<HttpPolicy>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let state = TenantState::new(tenant.clone(), policy.clone(), runtime.store_limits());
    let mut store = runtime.new_store(state);
    runtime.instantiate(&mut store).await?;
    drop(store);
    Ok(started.elapsed())
}
