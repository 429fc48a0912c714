//! `make bench`: what running the sync logic as a sandboxed component costs,
//! each figure measuring what its label says. Nothing here asserts a time.
//!
//! 1. The same check logic (the guest crate's `diagnostics::check_person`)
//!    compiled natively and run as the component by the host, with the same
//!    HTTP client (the host's `PolicyHooks` and the tenant's pool), warm,
//!    interleaved; plus the per-call pieces the public host API shows.
//! 2. `Runtime::new` with a warm component cache vs compiling.
//! 3. The real `rooms-sync` process for one person, start to exit, and its
//!    peak RSS.
//! 4. One `check` over 1, 100 and 1,000 persons of a tenant: cost per person.
//! 5. The sizes of the component and its precompiled form.
//! 6. The two-way sync at scale: initial pulls of 10,000 items in one
//!    mailbox and of 100 mailboxes x 100 items, and the back-sync of 1,000
//!    ROOMS bookings (time, EWS requests, peak RSS of the process).
//! 7. The guest's parse and map of a 512-change page and a 100-item
//!    `GetItem` answer, as wasm in wasmtime vs the same code natively.
//! 8. The sync service (`rooms-sync serve`) with 1,000 pull and 1,000 push
//!    mailboxes: start, one GetEvents sweep (time and host CPU), latency
//!    from an Outlook change to the ROOMS booking, notifications per second,
//!    peak RSS.
//!
//! `--quick` takes about a tenth of the samples (for development);
//! `--service-only` runs section 8 alone.
//! The README's "Benchmarks" section explains every figure.

mod check;
mod guest_code;
mod loading;
mod native;
mod process;
mod scale;
mod service;
mod stats;
mod sync;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use exo_emulator::seed::Mailbox;
use rooms_sync_host::log::LogSink;
use rooms_sync_host::rooms_db::{Person, SyncMode};
use rooms_sync_host::runtime::{
    RunLimits, Runtime, RuntimeOptions, cache_file_name, engine_config, locate_component,
};
use rooms_sync_host::settings::TenantInputs;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_integration::{Mode, World};
use wasmtime::Engine;

use crate::stats::{method, row, section};

/// The person of sections 1 and 3 (a demo mailbox).
const PERSON: &str = "alice@contoso.com";
/// Mailboxes added to the emulator for section 4.
const SCALE_MAILBOXES: usize = 1000;
/// The demo group the secret app's access policy is restricted to.
const SCOPE_GROUP: &str = "rooms-sync-scope@contoso.com";

/// How many samples each section takes.
struct Plan {
    check_warmup: usize,
    check_n: usize,
    load_rounds: usize,
    loads_per_round: usize,
    process_warmup: usize,
    process_n: usize,
    scale_rounds: usize,
    sync_warmup: usize,
    sync_n: usize,
    guest_rounds: usize,
    guest_warmup: usize,
    guest_n: usize,
    service_latency_n: usize,
    service_posts: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                check_warmup: 20,
                check_n: 100,
                load_rounds: 1,
                loads_per_round: 10,
                process_warmup: 2,
                process_n: 10,
                scale_rounds: 1,
                sync_warmup: 1,
                sync_n: 1,
                guest_rounds: 1,
                guest_warmup: 5,
                guest_n: 50,
                service_latency_n: 20,
                service_posts: 1000,
            }
        } else {
            Plan {
                check_warmup: 200,
                check_n: 2000,
                load_rounds: 5,
                loads_per_round: 20,
                process_warmup: 3,
                process_n: 100,
                scale_rounds: 10,
                sync_warmup: 1,
                sync_n: 5,
                guest_rounds: 5,
                guest_warmup: 20,
                guest_n: 200,
                service_latency_n: 100,
                service_posts: 5000,
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(process::PROBE_FLAG) {
        process::probe(&args[1..]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--service-only`: section 8 alone (the service at scale), for development.
    let service_only = args.iter().any(|a| a == "--service-only");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(bench(quick, service_only))
}

async fn bench(quick: bool, service_only: bool) -> anyhow::Result<()> {
    let plan = Plan::new(quick);
    let started = Instant::now();
    let component = locate_component()?;
    let binary = process::host_binary()?;
    let work = tempfile::tempdir()?;
    let cache = work.path().join("cwasm-cache");
    if service_only {
        return service::run(
            &binary,
            &component,
            &cache,
            plan.service_latency_n,
            plan.service_posts,
        )
        .await;
    }
    println!(
        "rooms-sync benchmarks{}",
        if quick {
            " (--quick: fewer samples)"
        } else {
            ""
        }
    );
    println!("   component  {}", component.display());
    println!("   host       {}", binary.display());

    // The demo world for sections 1 and 3.
    let world = World::start().await;
    let dir = world.tenant("bench", Mode::Secret, &[]);
    dir.add_person(&world, PERSON).await;
    let tenant = open_tenant(&dir.path)?;
    let runtime = Runtime::new(&RuntimeOptions {
        component: component.clone(),
        cache_dir: Some(cache.clone()),
        pooling: false,
        limits: RunLimits::default(),
    })?;

    // 1. The headline.
    check::run(&tenant, &runtime, PERSON, plan.check_warmup, plan.check_n).await?;

    // 2. Loading, on a blocking thread (compiling takes seconds).
    {
        let (component, cache) = (component.clone(), cache.clone());
        let (rounds, loads) = (plan.load_rounds, plan.loads_per_round);
        tokio::task::spawn_blocking(move || loading::run(&component, &cache, rounds, loads))
            .await??;
    }

    // 3. The real process.
    {
        let (binary, tenant_dir, cache, component) = (
            binary.clone(),
            dir.path.clone(),
            cache.clone(),
            component.clone(),
        );
        let (warmup, n) = (plan.process_warmup, plan.process_n);
        tokio::task::spawn_blocking(move || {
            process::run(&binary, &tenant_dir, &cache, &component, PERSON, warmup, n)
        })
        .await??;
    }
    world.emulator.clear_request_log();
    drop(world);

    // 4. Scale: an emulator with 1,000 more mailboxes, all inside the access
    // policy's scope, and tenants of 1, 100 and 1,000 of them. The
    // emulator's lookups are linear in its mailboxes, so all three tenants
    // use the same emulator, and the persons are spread evenly over its
    // list (the single person is the middle one).
    let addresses: Vec<String> = (0..SCALE_MAILBOXES)
        .map(|i| format!("bench-{i:04}@contoso.com"))
        .collect();
    let big = World::start_with(|seed| {
        for address in &addresses {
            seed.mailboxes.push(Mailbox {
                address: address.clone(),
                aliases: Vec::new(),
                upn: None,
                kind: Default::default(),
                display_name: None,
                password: None,
                mfa_required: false,
                conditional_access_blocked: false,
                password_expired: false,
                ews_enabled: None,
                has_mailbox: true,
                sid: None,
            });
        }
        let group = seed
            .groups
            .iter_mut()
            .find(|g| g.address == SCOPE_GROUP)
            .expect("the demo seed has the scope group");
        group.members.extend(addresses.iter().cloned());
    })
    .await;
    let mut tenants = Vec::new();
    for (persons, per_round) in [(1usize, 10usize), (100, 3), (1000, 1)] {
        let dir = big.tenant(&format!("scale{persons}"), Mode::Secret, &[]);
        let tenant = open_tenant(&dir.path)?;
        let step = SCALE_MAILBOXES / persons;
        for i in 0..persons {
            let address = &addresses[i * step + step / 2];
            let person = Person::new(address, SyncMode::O365Pull)?.with_sync_url(&big.ews_url())?;
            tenant.db().add_person(&person)?;
        }
        tenants.push(scale::Scaled {
            persons,
            tenant,
            per_round,
        });
    }
    scale::run(&tenants, &runtime, plan.scale_rounds).await?;
    drop(tenants);
    drop(big);

    // 5. Sizes.
    let wasm = std::fs::read(&component)?;
    let engine = Engine::new(&engine_config(false, RunLimits::default().memory_bytes))?;
    let entry = cache.join(cache_file_name(&engine, &wasm));
    let cwasm = std::fs::metadata(&entry)?.len().saturating_sub(32);
    section("5. Sizes");
    method(
        "the component as `make guest` builds it (release-wasm profile), and its precompiled form \
         as the host caches it (the cache entry without its 32-byte HMAC).",
    );
    row("component .wasm", kib(wasm.len() as u64));
    row("precompiled .cwasm", kib(cwasm));

    // 6. The two-way sync at scale.
    sync::run(
        &runtime,
        &binary,
        &component,
        &cache,
        plan.sync_warmup,
        plan.sync_n,
    )
    .await?;

    // 7. The guest's own code, wasm vs native.
    {
        let (rounds, warmup, n) = (plan.guest_rounds, plan.guest_warmup, plan.guest_n);
        tokio::task::spawn_blocking(move || guest_code::run(rounds, warmup, n)).await??;
    }

    // 8. The sync service.
    service::run(
        &binary,
        &component,
        &cache,
        plan.service_latency_n,
        plan.service_posts,
    )
    .await?;

    println!(
        "\ntotal bench time {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn open_tenant(dir: &Path) -> anyhow::Result<Arc<Tenant>> {
    Ok(Tenant::open(
        dir,
        Arc::new(HashMap::<String, String>::new()),
        TenantInputs::default(),
        LogSink::discard(),
    )?)
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes.div_ceil(1024))
}
