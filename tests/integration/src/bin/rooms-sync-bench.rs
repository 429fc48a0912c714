//! `make bench`: what the sandbox costs, measured in one run and printed as
//! figures and ratios. Nothing here asserts a time.
//!
//! 1. Loading the component: Cranelift compilation vs deserializing the
//!    precompiled artefact the host caches.
//! 2. A fresh instance per call with `InstancePre`: the on-demand vs the
//!    pooling allocator.
//! 3. One full `check` of one person against the emulator over loopback:
//!    cold (signs in) and warm (token from the cache), and the same EWS
//!    request made natively (raw HTTP, no sandbox) for a wasm-vs-native ratio.
//! 4. The size of the component and of its precompiled form.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use exo_emulator::RunningEmulator;
use exo_emulator::client::{form, send};
use rooms_sync_host::log::LogSink;
use rooms_sync_host::rooms_db::{Person, SyncMode};
use rooms_sync_host::runtime::{
    RunLimits, Runtime, RuntimeOptions, engine_config, locate_component,
};
use rooms_sync_host::state::TenantState;
use rooms_sync_host::calls;
use rooms_sync_host::settings::TenantInputs;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_integration::{CLIENT_SECRET, Mode, SECRET_APP, World};
use wasmtime::Engine;
use wasmtime::component::Component;

const PERSON: &str = "alice@contoso.com";

fn mean(samples: &[Duration]) -> Duration {
    samples.iter().sum::<Duration>() / samples.len().max(1) as u32
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

fn row(what: &str, value: String) {
    println!("  {what:<58} {value}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let component_path = locate_component()?;
    let wasm = std::fs::read(&component_path)?;
    println!("rooms-sync benchmarks ({})", component_path.display());

    // 1. Compile vs load the precompiled component.
    let engine = Engine::new(&engine_config(false, 64 << 20))?;
    let mut compile = Vec::new();
    for _ in 0..5 {
        compile.push(time(|| Component::new(&engine, &wasm).expect("compiles")).1);
    }
    let cwasm = engine.precompile_component(&wasm)?;
    let mut load = Vec::new();
    for _ in 0..50 {
        // SAFETY: the bytes come from `precompile_component` of this engine.
        load.push(time(|| unsafe { Component::deserialize(&engine, &cwasm) }.expect("loads")).1);
    }
    let (compile_m, load_m) = (median(&mut compile), median(&mut load));
    println!("\n1. Loading the component (median; compile n=5, load n=50)");
    row("Cranelift compile (Component::new)", fmt(compile_m));
    row(
        "deserialize precompiled .cwasm (Component::deserialize)",
        fmt(load_m),
    );
    row(
        "ratio compile / load",
        format!("{:.0}x", compile_m.as_secs_f64() / load_m.as_secs_f64()),
    );

    // A tenant of the demo world for the instance and check figures.
    let world = World::start().await;
    let dir = world.tenant("bench", Mode::Secret, &[]);
    dir.add_person(&world, PERSON).await;
    let tenant = Tenant::open(
        &dir.path,
        Arc::new(HashMap::<String, String>::new()),
        TenantInputs::default(),
        LogSink::discard(),
    )?;
    let person = Person::new(PERSON, SyncMode::O365Pull)?.with_sync_url(&world.ews_url())?;
    let cache = tempfile::tempdir()?;

    // 2. Instantiation per call with InstancePre.
    println!("\n2. A fresh Store + instance per call with InstancePre (n=1000)");
    let mut per_allocator = Vec::new();
    for pooling in [false, true] {
        let runtime = Runtime::new(&RuntimeOptions {
            component: component_path.clone(),
            cache_dir: Some(cache.path().to_path_buf()),
            pooling,
            limits: RunLimits::default(),
        })?;
        let policy = Arc::new(tenant.http_policy(&person, runtime.limits().http));
        let mut samples = Vec::with_capacity(1000);
        for _ in 0..1000 {
            let started = Instant::now();
            let state = TenantState::new(tenant.clone(), policy.clone(), runtime.store_limits());
            let mut store = runtime.new_store(state);
            runtime.instantiate(&mut store).await?;
            drop(store);
            samples.push(started.elapsed());
        }
        let (m, med) = (mean(&samples), median(&mut samples));
        let name = if pooling {
            "pooling allocator"
        } else {
            "on-demand allocator (default)"
        };
        row(
            &format!("{name}: mean / median"),
            format!("{} / {}", fmt(m), fmt(med)),
        );
        per_allocator.push(m);
    }
    row(
        "ratio default / pooling (mean)",
        format!(
            "{:.2}x",
            per_allocator[0].as_secs_f64() / per_allocator[1].as_secs_f64()
        ),
    );

    // 3. One full check against the emulator.
    println!("\n3. One full `check` of one person against the emulator (loopback HTTP)");
    let runtime = Runtime::new(&RuntimeOptions {
        component: component_path.clone(),
        cache_dir: Some(cache.path().to_path_buf()),
        pooling: false,
        limits: RunLimits::default(),
    })?;
    let (reports, cold) = {
        let started = Instant::now();
        let reports = calls::check(&tenant, &runtime, None).await?;
        (reports, started.elapsed())
    };
    assert!(
        reports.iter().all(|r| r.ok()),
        "the bench tenant must be green: {reports:?}"
    );
    let mut warm = Vec::with_capacity(200);
    for _ in 0..200 {
        let started = Instant::now();
        let reports = calls::check(&tenant, &runtime, None).await?;
        warm.push(started.elapsed());
        assert!(reports[0].ok());
    }
    let native = native_get_folder(&world.emulator, 200).await?;
    let (warm_m, warm_med) = (mean(&warm), median(&mut warm.clone()));
    let native_m = mean(&native);
    row(
        "cold: sign-in (client secret) + GetFolder, first call",
        fmt(cold),
    );
    row(
        "warm: cached token + GetFolder, mean / median (n=200)",
        format!("{} / {}", fmt(warm_m), fmt(warm_med)),
    );
    row(
        "native: the same GetFolder over raw HTTP, mean (n=200)",
        fmt(native_m),
    );
    row(
        "ratio component check / native request (warm, mean)",
        format!("{:.2}x", warm_m.as_secs_f64() / native_m.as_secs_f64()),
    );

    // 4. Sizes.
    println!("\n4. Sizes");
    row(
        "component (release-wasm .wasm)",
        format!("{} KiB", wasm.len() / 1024),
    );
    row(
        "precompiled (.cwasm)",
        format!("{} KiB", cwasm.len() / 1024),
    );
    if let Some(rss) = peak_rss_kib() {
        row(
            "peak RSS of this benchmark process",
            format!("{} MiB", rss / 1024),
        );
    }
    world.emulator.clear_request_log();
    Ok(())
}

/// The EWS request of the check, made without the sandbox: one token, then
/// `n` GetFolder requests, each on a fresh connection as wasi-http makes them.
async fn native_get_folder(emulator: &RunningEmulator, n: usize) -> anyhow::Result<Vec<Duration>> {
    let scope = format!("{}/.default", emulator.ews_resource());
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", SECRET_APP),
        ("client_secret", CLIENT_SECRET),
        ("scope", &scope),
    ]);
    let answer = send(
        "POST",
        &emulator.token_endpoint(rooms_sync_integration::TENANT_ID),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await?;
    anyhow::ensure!(
        answer.status == 200,
        "token request failed: {} {}",
        answer.status,
        answer.text()
    );
    let token: serde_json::Value = serde_json::from_slice(&answer.body)?;
    let auth = format!(
        "Bearer {}",
        token["access_token"].as_str().unwrap_or_default()
    );
    let envelope = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{PERSON}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header><soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURI FieldURI="folder:EffectiveRights"/></t:AdditionalProperties></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder></soap:Body></soap:Envelope>"#
    );
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let answer = send(
            "POST",
            &emulator.ews_url(),
            &[
                ("Content-Type", "text/xml; charset=utf-8"),
                ("Authorization", &auth),
            ],
            envelope.as_bytes(),
        )
        .await?;
        samples.push(started.elapsed());
        anyhow::ensure!(
            answer.status == 200 && answer.text().contains("NoError"),
            "GetFolder failed: {}",
            answer.status
        );
    }
    Ok(samples)
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
