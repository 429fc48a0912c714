//! Section 3: the real `rooms-sync` binary, from process start to exit, and
//! its peak resident set size.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::stats::{Samples, method, row, section};

/// `rooms-sync` next to this executable (both are in `target/release/`).
pub fn host_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no directory", exe.display()))?;
    let path = dir.join(format!("rooms-sync{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        path.is_file(),
        "{} not found: build it first (`make build`)",
        path.display()
    );
    Ok(path)
}

/// The argument that makes this executable a probe (see [`probe`]).
pub const PROBE_FLAG: &str = "--probe";

/// What one run of the binary cost, as the probe saw it.
struct Exit {
    elapsed: Duration,
    max_rss_kib: u64,
    status: i32,
    /// The probe's own peak RSS: the floor under `max_rss_kib`.
    probe_rss_kib: u64,
}

/// Runs `program args` through a probe: this executable started again with
/// [`PROBE_FLAG`]. Linux keeps, across `exec`, the peak RSS of the memory the
/// child was started from (the parent's, with `posix_spawn`'s shared memory),
/// so a child of the large bench process would report the bench's peak; a
/// child of the small probe reports its own (or the probe's, if larger: the
/// probe's peak is returned too, to show it is not).
fn run_probed(program: &Path, args: &[&OsStr]) -> anyhow::Result<Exit> {
    let output = Command::new(std::env::current_exe()?)
        .arg(PROBE_FLAG)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<i64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [nanos, rss, status, probe_rss] = fields[..] else {
        anyhow::bail!("the probe answered {text:?} ({})", output.status);
    };
    Ok(Exit {
        elapsed: Duration::from_nanos(nanos as u64),
        max_rss_kib: rss as u64,
        status: status as i32,
        probe_rss_kib: probe_rss as u64,
    })
}

/// The probe: runs `args[0] args[1..]` with stdio closed, reaps it with
/// `wait4`, and prints `nanoseconds peak-rss-kib exit-status own-peak-kib`.
pub fn probe(args: &[String]) -> ! {
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: rooms-sync-bench {PROBE_FLAG} PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    let rest: Vec<&OsStr> = rest.iter().map(OsStr::new).collect();
    match wait_for(Path::new(program), &rest) {
        Ok((elapsed, rss, status)) => {
            println!("{} {rss} {status} {}", elapsed.as_nanos(), own_peak_kib());
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("probe: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Spawns `program args`, reaps it with `wait4`: wall time from before the
/// spawn to after the reaping, the child's `ru_maxrss` (KiB), its exit code.
fn wait_for(program: &Path, args: &[&OsStr]) -> anyhow::Result<(Duration, u64, i32)> {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that `wait4` fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: valid pointers to `status` and `usage` for the call; the
        // pid is our child, reaped here (std's `Child` is dropped unwaited).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let elapsed = started.elapsed();
    drop(child);
    anyhow::ensure!(
        reaped == pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in KiB.
    Ok((elapsed, usage.ru_maxrss as u64, code))
}

/// This process's peak RSS (VmHWM) in KiB.
fn own_peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs section 3: `warmup` then `n` runs of
/// `rooms-sync --tenant DIR --cache-dir CACHE --component WASM check --person EMAIL`.
pub fn run(
    binary: &Path,
    tenant_dir: &Path,
    cache: &Path,
    component: &Path,
    email: &str,
    warmup: usize,
    n: usize,
) -> anyhow::Result<()> {
    let args: Vec<&OsStr> = vec![
        "--tenant".as_ref(),
        tenant_dir.as_os_str(),
        "--cache-dir".as_ref(),
        cache.as_os_str(),
        "--component".as_ref(),
        component.as_os_str(),
        "check".as_ref(),
        "--person".as_ref(),
        email.as_ref(),
    ];
    let version_args: [&OsStr; 1] = ["--version".as_ref()];
    let mut wall = Samples::with_capacity(n);
    let mut version = Samples::with_capacity(n);
    let (mut rss, mut version_rss) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut probe_floor = 0;
    // A check and a bare start (`--version`) in turn, the order swapped
    // every run.
    for i in 0..warmup + n {
        for k in 0..2 {
            let check = (i + k) % 2 == 0;
            let exit = run_probed(binary, if check { &args } else { &version_args })?;
            anyhow::ensure!(
                exit.status == 0,
                "`rooms-sync {}` exited with {} (expected 0, all green)",
                if check { "check --person" } else { "--version" },
                exit.status
            );
            probe_floor = probe_floor.max(exit.probe_rss_kib);
            if i < warmup {
                continue;
            }
            if check {
                wall.push(exit.elapsed);
                rss.push(exit.max_rss_kib);
            } else {
                version.push(exit.elapsed);
                version_rss.push(exit.max_rss_kib);
            }
        }
    }
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let median_max = |v: &mut Vec<u64>| {
        v.sort_unstable();
        format!(
            "{} / {}",
            mib(v[v.len() / 2]),
            mib(v.last().copied().unwrap_or_default())
        )
    };

    section("3. The rooms-sync process, start to exit, for one person");
    method(&format!(
        "spawn target/release/rooms-sync `--tenant DIR check --person {email}` against the \
         in-process emulator (exit code 0 required), warm component cache, a fresh process each \
         time (so it signs in: the token cache lives in memory), in turn with a bare \
         `rooms-sync --version`; wall time from spawn to wait4; peak RSS is the child's ru_maxrss \
         from wait4, taken by a small probe process (a child of the bench itself would report the \
         bench's peak; the probe's own peak, at most {}, is a floor under the figures); {warmup} \
         warm-up runs, then n={n}; median / p99.",
        mib(probe_floor)
    ));
    row("process start to exit, check --person", wall.median_p99());
    row("process start to exit, --version", version.median_p99());
    row(
        "peak RSS, check --person: median / max",
        median_max(&mut rss),
    );
    row(
        "peak RSS, --version: median / max",
        median_max(&mut version_rss),
    );
    Ok(())
}
