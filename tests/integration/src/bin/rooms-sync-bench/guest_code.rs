//! Section 7: the guest's own code, wasm vs native, without host calls.
//!
//! The guest example `parse_map` (guest/examples/parse_map.rs) reads a
//! 512-change `SyncFolderItems` page and a 100-item `GetItem` answer and maps
//! every item to booking fields, timing each iteration with `Instant` and
//! printing `parse_map_ns <n>` lines. The same source runs as a native
//! binary (`target/release/examples/parse_map`) and as a WASI command
//! component (`target/wasm32-wasip2/release-wasm/examples/parse_map.wasm`)
//! in wasmtime, with the host's engine configuration (Cranelift at opt
//! level speed, epoch interruption). The example links the guest crate, so
//! the component also carries the plugin's imports and exports; the
//! imports the command never calls are linked without effect (`wasi:http`
//! with wasmtime-wasi-http's defaults) or as traps (`rooms:exchange-sync/*`,
//! `wasi:config`).

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use rooms_sync_host::runtime::{RunLimits, engine_config};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::stats::{Samples, method, ratio, row, section};

const EXAMPLE: &str = "parse_map";

struct State {
    ctx: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// `target/` of this build (the bench runs from `target/release/`).
fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("{} has no target directory", exe.display()))
}

fn existing(path: PathBuf) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        path.is_file(),
        "{} not found: build it first (`make bench` builds the parse_map example natively and \
         for wasm32-wasip2)",
        path.display()
    );
    Ok(path)
}

/// The `parse_map_ns` lines of the example's output, checked for its
/// checksum line.
fn parse(output: &str, n: usize, what: &str) -> anyhow::Result<(Vec<Duration>, String)> {
    let samples: Vec<Duration> = output
        .lines()
        .filter_map(|l| l.strip_prefix("parse_map_ns "))
        .map(|ns| ns.trim().parse().map(Duration::from_nanos))
        .collect::<Result<_, _>>()?;
    let checksum = output
        .lines()
        .find(|l| l.starts_with("checksum "))
        .ok_or_else(|| anyhow::anyhow!("the {what} example printed no checksum"))?
        .to_owned();
    anyhow::ensure!(
        samples.len() == n,
        "the {what} example printed {} samples, not {n}",
        samples.len()
    );
    Ok((samples, checksum))
}

fn run_native(binary: &Path, warmup: usize, n: usize) -> anyhow::Result<(Vec<Duration>, String)> {
    let out = Process::new(binary)
        .arg(warmup.to_string())
        .arg(n.to_string())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "the native example failed: {}",
        out.status
    );
    parse(&String::from_utf8(out.stdout)?, n, "native")
}

struct Wasm {
    engine: Engine,
    linker: Linker<State>,
    component: Component,
}

impl Wasm {
    fn new(path: &Path) -> anyhow::Result<Wasm> {
        let engine = Engine::new(&engine_config(false, RunLimits::default().memory_bytes))?;
        let component = Component::from_file(&engine, path)?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        // The plugin's own imports (none of them uses a resource), as traps.
        // (`define_unknown_imports_as_traps` would also stub the newer
        // `wasi:io` versions the component names, apart from wasmtime-wasi's.)
        for (name, item) in component.component_type().imports(&engine) {
            let ComponentItem::ComponentInstance(instance) = item.ty else {
                continue;
            };
            if !(name.starts_with("rooms:") || name.starts_with("wasi:config/")) {
                continue;
            }
            let mut stubs = linker.instance(name)?;
            for (function, export) in instance.exports(&engine) {
                if let ComponentItem::ComponentFunc(_) = export.ty {
                    let what = format!("{name}#{function}");
                    stubs.func_new(function, move |_, _, _, _| {
                        wasmtime::bail!("{what} is not provided to the parse_map example")
                    })?;
                }
            }
        }
        Ok(Wasm {
            engine,
            linker,
            component,
        })
    }

    fn run(&self, warmup: usize, n: usize) -> anyhow::Result<(Vec<Duration>, String)> {
        let stdout = MemoryOutputPipe::new(1 << 20);
        let ctx = WasiCtx::builder()
            .args(&[EXAMPLE.to_owned(), warmup.to_string(), n.to_string()])
            .stdout(stdout.clone())
            .build();
        let mut store = Store::new(
            &self.engine,
            State {
                ctx,
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
            },
        );
        // The host's config interrupts by epoch; nothing advances it here.
        store.set_epoch_deadline(u64::MAX / 2);
        let command = Command::instantiate(&mut store, &self.component, &self.linker)?;
        command
            .wasi_cli_run()
            .call_run(&mut store)?
            .map_err(|()| anyhow::anyhow!("the wasm example exited with an error"))?;
        drop(store);
        parse(&String::from_utf8(stdout.contents().to_vec())?, n, "wasm")
    }
}

pub fn run(rounds: usize, warmup: usize, n: usize) -> anyhow::Result<()> {
    let target = target_dir()?;
    let native = existing(
        target
            .join("release/examples")
            .join(format!("{EXAMPLE}{}", std::env::consts::EXE_SUFFIX)),
    )?;
    let wasm_path = existing(
        target
            .join("wasm32-wasip2/release-wasm/examples")
            .join(format!("{EXAMPLE}.wasm")),
    )?;
    // Compiled once, outside the timing.
    let wasm = Wasm::new(&wasm_path)?;

    let mut native_samples = Samples::with_capacity(rounds * n);
    let mut wasm_samples = Samples::with_capacity(rounds * n);
    let mut checksums = (String::new(), String::new());
    for round in 0..rounds {
        // Interleaved, alternating which goes first.
        let mut one = |wasm_turn: bool| -> anyhow::Result<()> {
            if wasm_turn {
                let (s, c) = wasm.run(warmup, n)?;
                s.into_iter().for_each(|d| wasm_samples.push(d));
                checksums.1 = c;
            } else {
                let (s, c) = run_native(&native, warmup, n)?;
                s.into_iter().for_each(|d| native_samples.push(d));
                checksums.0 = c;
            }
            Ok(())
        };
        one(round % 2 == 1)?;
        one(round % 2 == 0)?;
    }
    anyhow::ensure!(
        checksums.0 == checksums.1,
        "native and wasm disagree: {} vs {}",
        checksums.0,
        checksums.1
    );

    section("7. Guest code, wasm vs native (parse and map, no host calls)");
    method(&format!(
        "guest/examples/parse_map.rs: read a 512-change SyncFolderItems page and a 100-item \
         GetItem answer (built in memory) and map each item to booking fields; one sample = one \
         iteration timed inside the program with Instant. The same source natively (release) \
         and as a WASI command component (release-wasm) in wasmtime with the host's engine \
         config; {rounds} rounds x ({warmup} warm-up + {n}) iterations each, interleaved."
    ));
    row(
        "native, per iteration (median / p99)",
        native_samples.median_p99(),
    );
    row(
        "wasm, per iteration (median / p99)",
        wasm_samples.median_p99(),
    );
    row(
        "wasm / native (medians)",
        ratio(wasm_samples.median(), native_samples.median()),
    );
    Ok(())
}
