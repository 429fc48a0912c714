//! The process-wide part of the host: one engine, one compiled component, one
//! `PluginPre`, built once and shared by every tenant.
//!
//! Compiling the component with Cranelift costs hundreds of milliseconds, so
//! [`Runtime::new`] keeps a cache of precompiled artefacts
//! (`<cache>/<sha256 of wasm>-<engine hash>.cwasm`, verified before use: see
//! [`crate::component_cache`]) and deserializes them instead. Each call then gets a fresh `Store` ([`Runtime::new_store`])
//! with a memory cap (a `ResourceLimiter`) and a deadline (epoch
//! interruption, ticked by a background thread every [`EPOCH_TICK`]). A trap
//! ends that call only; the runtime stays usable.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use crate::bindings::{Plugin, PluginPre, rooms, wasi};
use crate::component_cache::{ComponentCache, Lookup};
use crate::http_policy::HttpLimits;
use crate::state::{CallLimiter, TenantState};

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The largest component file the host reads.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// The file name cargo gives the component.
pub const COMPONENT_FILE: &str = "rooms_sync_guest.wasm";

/// Limits of every call into a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Largest linear memory of an instance, in bytes.
    pub memory_bytes: usize,
    /// Longest a call may run (wall time, enforced by epochs while the
    /// component runs; HTTP waits are bounded by [`HttpLimits`]).
    pub call_deadline: Duration,
    /// Outgoing HTTP limits.
    pub http: HttpLimits,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            memory_bytes: 64 << 20,
            call_deadline: Duration::from_secs(120),
            http: HttpLimits::default(),
        }
    }
}

/// How to build a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// The component (`rooms_sync_guest.wasm`).
    pub component: PathBuf,
    /// Where precompiled artefacts are kept; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Use the pooling instance allocator (faster instantiation, reserves
    /// address space up front).
    pub pooling: bool,
    /// Limits of every call.
    pub limits: RunLimits,
}

impl RuntimeOptions {
    /// Options with the default limits, the default cache directory and the
    /// on-demand allocator.
    pub fn new(component: impl Into<PathBuf>) -> RuntimeOptions {
        RuntimeOptions {
            component: component.into(),
            cache_dir: default_cache_dir(),
            pooling: false,
            limits: RunLimits::default(),
        }
    }
}

/// How the component got into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentLoad {
    /// Compiled with Cranelift (and stored in the cache if there is one).
    Compiled(Duration),
    /// Deserialized from the precompiled cache.
    Cached(Duration),
}

/// The engine, the linked component and the epoch ticker.
pub struct Runtime {
    engine: Engine,
    pre: PluginPre<TenantState>,
    limits: RunLimits,
    load: ComponentLoad,
    cache_notes: Vec<String>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Loads the component (from the cache when possible) and links every
    /// import. Fails with the path and the fix when the file is missing.
    pub fn new(options: &RuntimeOptions) -> anyhow::Result<Runtime> {
        let engine = Engine::new(&engine_config(options.pooling, options.limits.memory_bytes))?;
        let wasm = crate::files::read_regular(&options.component, MAX_COMPONENT_BYTES).with_context(|| {
            format!(
                "cannot read the sync component {}; build it with `make guest` or pass --component PATH",
                options.component.display()
            )
        })?;
        let (component, load, cache_notes) =
            load_component(&engine, &wasm, options.cache_dir.as_deref())?;
        let linker = linker(&engine)?;
        let pre = PluginPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Runtime {
            _ticker: EpochTicker::start(engine.clone()),
            engine,
            pre,
            limits: options.limits,
            load,
            cache_notes,
        })
    }

    /// How the component was loaded, and how long it took.
    pub fn component_load(&self) -> ComponentLoad {
        self.load
    }

    /// What happened with the component cache that the operator should
    /// know (an entry rejected, a cache not trusted); empty when all was well.
    pub fn cache_notes(&self) -> &[String] {
        &self.cache_notes
    }

    /// The limits applied to each call.
    pub fn limits(&self) -> &RunLimits {
        &self.limits
    }

    /// The only place a `Store` is born: memory cap and deadline set.
    pub fn new_store(&self, state: TenantState) -> Store<TenantState> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        self.arm_deadline(&mut store);
        store
    }

    /// Sets the epoch deadline of `store` to the call deadline from now:
    /// done for every call on a reused instance.
    pub fn arm_deadline(&self, store: &mut Store<TenantState>) {
        let ticks = (self.limits.call_deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
    }

    /// Store limits for a new [`TenantState`].
    pub fn store_limits(&self) -> CallLimiter {
        CallLimiter::new(self.limits.memory_bytes).with_call_deadline(self.limits.call_deadline)
    }

    /// A new instance in `store`.
    pub async fn instantiate(&self, store: &mut Store<TenantState>) -> wasmtime::Result<Plugin> {
        self.pre.instantiate_async(store).await
    }
}

/// The engine configuration: Cranelift, epoch interruption, optionally the
/// pooling allocator sized for `memory_bytes` per instance.
pub fn engine_config(pooling: bool, memory_bytes: usize) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(256)
            .total_memories(64)
            .total_tables(256)
            .max_memory_size(memory_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Links WASI (cli, clocks, random, io; no files or sockets are granted by
/// the context), `wasi:http`, and our own imports.
fn linker(engine: &Engine) -> anyhow::Result<Linker<TenantState>> {
    let mut linker = Linker::<TenantState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasi::config::store::add_to_linker::<_, HasSelf<TenantState>>(&mut linker, |s| s)?;
    rooms::exchange_sync::types::add_to_linker::<_, HasSelf<TenantState>>(&mut linker, |s| s)?;
    rooms::exchange_sync::secrets::add_to_linker::<_, HasSelf<TenantState>>(&mut linker, |s| s)?;
    rooms::exchange_sync::token_cache::add_to_linker::<_, HasSelf<TenantState>>(
        &mut linker,
        |s| s,
    )?;
    rooms::exchange_sync::calendar::add_to_linker::<_, HasSelf<TenantState>>(&mut linker, |s| s)?;
    rooms::exchange_sync::rooms::add_to_linker::<_, HasSelf<TenantState>>(&mut linker, |s| s)?;
    rooms::exchange_sync::pacing::add_to_linker::<_, HasSelf<TenantState>>(&mut linker, |s| s)?;
    rooms::exchange_sync::log::add_to_linker::<_, HasSelf<TenantState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// Compiles `wasm`, or deserializes it from `cache_dir` when a verified
/// artefact exists (see [`crate::component_cache`] for what is checked). A
/// rejected or missing artefact is compiled and stored; a cache that cannot
/// be trusted is not used. Each such event is returned as a note for the log.
pub fn load_component(
    engine: &Engine,
    wasm: &[u8],
    cache_dir: Option<&Path>,
) -> anyhow::Result<(Component, ComponentLoad, Vec<String>)> {
    let started = Instant::now();
    let mut notes = Vec::new();
    let cache = match cache_dir.map(ComponentCache::open) {
        None => None,
        Some(Ok(cache)) => Some(cache),
        Some(Err(e)) => {
            notes.push(format!(
                "the component cache is not used, the component is compiled in memory: {e:#}"
            ));
            None
        }
    };
    let Some(cache) = cache else {
        let component = Component::new(engine, wasm)?;
        return Ok((component, ComponentLoad::Compiled(started.elapsed()), notes));
    };
    let name = cache_file_name(engine, wasm);
    match cache.lookup(engine, &name) {
        Lookup::Hit(component) => {
            return Ok((component, ComponentLoad::Cached(started.elapsed()), notes));
        }
        Lookup::Miss => {}
        Lookup::Rejected(why) => notes.push(format!(
            "ignored a precompiled component that failed verification, compiling instead: {why}"
        )),
    }
    let bytes = engine.precompile_component(wasm)?;
    if let Err(e) = cache.store(&name, &bytes) {
        notes.push(format!("the compiled component was not cached: {e:#}"));
    }
    // SAFETY: these bytes come from `precompile_component` of this engine,
    // in this process's memory.
    let component = unsafe { Component::deserialize(engine, &bytes)? };
    Ok((component, ComponentLoad::Compiled(started.elapsed()), notes))
}

/// `<sha256 of the wasm>-<engine compatibility hash>.cwasm`.
pub fn cache_file_name(engine: &Engine, wasm: &[u8]) -> String {
    let digest = Sha256::digest(wasm);
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.cwasm", hasher.finish())
}

/// `$ROOMS_SYNC_CACHE_DIR`, else `$XDG_CACHE_HOME/rooms-sync`, else
/// `~/.cache/rooms-sync`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ROOMS_SYNC_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("rooms-sync"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("rooms-sync"))
}

/// Finds the component when none was given: `$ROOMS_SYNC_COMPONENT`, then
/// beside the executable, then the workspace's build output
/// (`target/wasm32-wasip2/release-wasm/`).
pub fn locate_component() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ROOMS_SYNC_COMPONENT") {
        return Ok(PathBuf::from(path));
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join(COMPONENT_FILE));
        // target/<profile>/rooms-sync -> target/wasm32-wasip2/release-wasm/
        if let Some(target) = dir.parent() {
            candidates.push(
                target
                    .join("wasm32-wasip2/release-wasm")
                    .join(COMPONENT_FILE),
            );
        }
        // target/<profile>/deps/<test> -> target/wasm32-wasip2/release-wasm/
        if let Some(target) = dir.parent().and_then(Path::parent) {
            candidates.push(
                target
                    .join("wasm32-wasip2/release-wasm")
                    .join(COMPONENT_FILE),
            );
        }
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/wasm32-wasip2/release-wasm")
            .join(COMPONENT_FILE),
    );
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    bail!(
        "the sync component {COMPONENT_FILE} was not found (looked in: {}); build it with `make guest`, or pass --component PATH or set ROOMS_SYNC_COMPONENT",
        looked.join(", ")
    )
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until
/// dropped; dropping wakes it at once, so a process does not wait a tick
/// at exit.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rooms-sync-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
