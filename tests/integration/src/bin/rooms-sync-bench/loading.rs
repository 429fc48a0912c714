//! Section 2: what the host does at start to get the component into memory,
//! with a warm cache and without one.

use std::path::Path;
use std::time::{Duration, Instant};

use rooms_sync_host::component_cache::{ComponentCache, Lookup};
use rooms_sync_host::runtime::{
    ComponentLoad, RunLimits, Runtime, RuntimeOptions, cache_file_name, engine_config,
};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::stats::{Samples, duration, method, minus, ratio, row, section};

/// The HMAC in front of every cache entry.
const DIGEST_BYTES: usize = 32;

/// Runs section 2: `rounds` rounds of one compile and `loads` warm loads
/// (the slow compile would otherwise take most of the time).
pub fn run(component: &Path, cache: &Path, rounds: usize, loads: usize) -> anyhow::Result<()> {
    let options = |cache_dir: Option<&Path>| RuntimeOptions {
        component: component.to_path_buf(),
        cache_dir: cache_dir.map(Path::to_path_buf),
        pooling: false,
        limits: RunLimits::default(),
    };
    // Fill the cache (untimed), and warm the file system cache.
    drop(Runtime::new(&options(Some(cache)))?);
    // The verified artefact, to time its deserialization alone.
    let artefact = {
        let engine = Engine::new(&engine_config(false, 64 << 20))?;
        let name = cache_file_name(&engine, &std::fs::read(component)?);
        let bytes = std::fs::read(cache.join(name))?;
        bytes[DIGEST_BYTES..].to_vec()
    };

    let mut compiled = Samples::default();
    let mut warm = Samples::default();
    let (mut engine_new, mut read, mut hash, mut open, mut lookup, mut deserialize) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    // One warm-up round of each kind.
    for round in 0..=rounds {
        let record = round > 0;
        let (runtime, elapsed) = timed(|| Runtime::new(&options(None)));
        let runtime = runtime?;
        anyhow::ensure!(matches!(
            runtime.component_load(),
            ComponentLoad::Compiled(_)
        ));
        drop(runtime);
        if record {
            compiled.push(elapsed);
        }
        for _ in 0..loads {
            let (runtime, elapsed) = timed(|| Runtime::new(&options(Some(cache))));
            let runtime = runtime?;
            anyhow::ensure!(
                matches!(runtime.component_load(), ComponentLoad::Cached(_)),
                "the warm cache was not used: {:?}",
                runtime.cache_notes()
            );
            drop(runtime);
            // The same steps one by one, on a fresh engine.
            let (engine, t_engine) = timed(|| Engine::new(&engine_config(false, 64 << 20)));
            let engine = engine?;
            let (wasm, t_read) = timed(|| std::fs::read(component));
            let wasm = wasm?;
            let (name, t_hash) = timed(|| cache_file_name(&engine, &wasm));
            let (opened, t_open) = timed(|| ComponentCache::open(cache));
            let opened = opened?;
            let (found, t_lookup) = timed(|| opened.lookup(&engine, &name));
            anyhow::ensure!(
                matches!(found, Lookup::Hit(_)),
                "the cache entry was not a hit"
            );
            drop(found);
            // SAFETY: the bytes of the entry `lookup` just verified, written
            // by `Runtime::new` of this process from `precompile_component`.
            let (alone, t_deserialize) =
                timed(|| unsafe { Component::deserialize(&engine, &artefact) });
            drop(alone?);
            if record {
                warm.push(elapsed);
                engine_new.push(t_engine);
                read.push(t_read);
                hash.push(t_hash);
                open.push(t_open);
                lookup.push(t_lookup);
                deserialize.push(t_deserialize);
            }
        }
    }

    section("2. Loading the component at host start (Runtime::new)");
    method(&format!(
        "Runtime::new as the rooms-sync binary calls it: new engine, read the .wasm, sha256 it, \
         open and check the cache directory and key, read the entry, verify its HMAC, deserialize, \
         link, InstancePre, start the epoch thread; warm = a verified entry in the cache (its file \
         in the page cache), compile = no cache directory (Cranelift, parallel); one warm-up round, then {rounds} \
         x (1 compile + {loads} warm loads); medians (p99 in brackets)."
    ));
    row(
        "warm cache: Runtime::new",
        format!(
            "{}  (p99 {}, n={})",
            duration(warm.median()),
            duration(warm.p99()),
            warm.len()
        ),
    );
    row(
        "no cache: Runtime::new (compiles)",
        format!(
            "{}  (p99 {}, n={})",
            duration(compiled.median()),
            duration(compiled.p99()),
            compiled.len()
        ),
    );
    row(
        "compile / warm load (medians)",
        ratio(compiled.median(), warm.median()),
    );
    println!("   the warm load step by step (medians):");
    row("  Engine::new", duration(engine_new.median()));
    row("  read the .wasm", duration(read.median()));
    row(
        "  sha256 of the .wasm (cache_file_name)",
        duration(hash.median()),
    );
    row(
        "  ComponentCache::open (directory, owner, mode, key)",
        duration(open.median()),
    );
    row(
        "  lookup: read the entry, verify its HMAC, deserialize",
        duration(lookup.median()),
    );
    row(
        "    of which Component::deserialize of the verified bytes",
        duration(deserialize.median()),
    );
    let steps =
        engine_new.median() + read.median() + hash.median() + open.median() + lookup.median();
    row(
        "  the rest: linker, InstancePre, epoch thread (difference)",
        duration(minus(warm.median(), steps)),
    );
    Ok(())
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}
