//! Section 8: the sync service (`rooms-sync serve`) with 1,000 mailboxes in
//! pull mode and 1,000 in push mode, against the in-process emulator.
//!
//! The real `rooms-sync serve` process serves two tenant directories, `pull`
//! (1,000 `O365Pull` persons, `IntervallTaskInSeconds` 1) and `push` (1,000
//! `O365` persons, `IntervallTaskInSeconds` 3600, so only a notification can
//! start a push person's sync). The emulator POSTs its push notifications to
//! the service's webhook on loopback. Measured:
//!
//! - start: from the process start until every person has its
//!   subscription and the first sync of all 2,000 persons is done;
//! - one GetEvents sweep over the 1,000 pull subscriptions: its duration
//!   (the service's own `rooms_sync_get_events_sweep_seconds`, sum over
//!   count) and the host CPU it costs (the process's user + system time
//!   over a quiet window divided by the sweeps in it; the push side is idle
//!   meanwhile);
//! - latency from an Outlook-side change (an item created through the
//!   emulator's admin API as the mailbox's user) to the ROOMS booking in
//!   `rooms.db`, polled every 5 ms, push and pull samples interleaved, a
//!   random pause between samples so that pull samples fall anywhere in the
//!   sweep interval;
//! - notifications handled per second: genuine `SendNotification` status
//!   events (heartbeats) of the push tenant's stored subscriptions, POSTed
//!   by 16 concurrent clients; each is parsed and answered by the component
//!   and its heartbeat stored in `rooms.db`;
//! - the process's peak RSS (VmHWM) at the end, then SIGTERM and its exit
//!   status.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use exo_emulator::seed::Mailbox;
use rooms_sync_host::rooms_db::{Person, RoomsDb, SyncMode};
use rooms_sync_host::tenant::open_database;
use rooms_sync_integration::service::{free_port, http, metric_in};
use rooms_sync_integration::{Mode, World};
use serde_json::json;

use crate::stats::{Samples, duration, method, row, section};

/// Mailboxes per mode.
const PER_MODE: usize = 1000;
/// The demo group the secret app's access policy is restricted to.
const SCOPE_GROUP: &str = "rooms-sync-scope@contoso.com";
/// Concurrent webhook clients of the notification throughput.
const CLIENTS: usize = 16;

fn address(mode: &str, i: usize) -> String {
    format!("svc-{mode}-{i:04}@contoso.com")
}

fn mailbox(address: String) -> Mailbox {
    Mailbox {
        address,
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
    }
}

/// The user + system CPU time of process `pid` so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): state is the
    // 3rd field, utime the 14th and stime the 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let total = ticks(11) + ticks(12);
    Duration::from_micros(total * 1_000_000 / hz)
}

/// A `VmHWM`/`VmRSS` line of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A heartbeat notification of subscription `id` at `watermark`.
fn status_event(id: &str, watermark: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><soap:Body><m:SendNotification><m:ResponseMessages><m:SendNotificationResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Notification><t:SubscriptionId>{id}</t:SubscriptionId><t:PreviousWatermark>{watermark}</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents><t:StatusEvent><t:Watermark>{watermark}</t:Watermark></t:StatusEvent></m:Notification></m:SendNotificationResponseMessage></m:ResponseMessages></m:SendNotification></soap:Body></soap:Envelope>"#
    )
}

/// The service process, killed if the bench stops early.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(addr: &str, path: &str) -> anyhow::Result<String> {
    let answer = http(addr, "GET", path, &[], b"").await?;
    Ok(answer.text())
}

/// Whether `subject` is a booking of `person` in `db`.
fn booked(db: &RoomsDb, person: &str, subject: &str) -> bool {
    db.list_bookings(Some(person))
        .map(|bookings| bookings.iter().any(|b| b.fields.subject == subject))
        .unwrap_or(false)
}

/// Runs section 8 with `latency_n` latency samples per mode and `posts`
/// webhook posts.
pub async fn run(
    binary: &Path,
    component: &Path,
    cache: &Path,
    latency_n: usize,
    posts: usize,
) -> anyhow::Result<()> {
    let pull: Vec<String> = (0..PER_MODE).map(|i| address("pull", i)).collect();
    let push: Vec<String> = (0..PER_MODE).map(|i| address("push", i)).collect();
    let world = World::start_with(|seed| {
        for a in pull.iter().chain(&push) {
            seed.mailboxes.push(mailbox(a.clone()));
        }
        let group = seed
            .groups
            .iter_mut()
            .find(|g| g.address == SCOPE_GROUP)
            .expect("the demo seed has the scope group");
        group.members.extend(pull.iter().chain(&push).cloned());
    })
    .await;
    let pull_dir = world.tenant("pull", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    let push_dir = world.tenant("push", Mode::Secret, &[("IntervallTaskInSeconds", "3600")]);
    let pull_db = open_database(&pull_dir.path)?;
    let push_db = open_database(&push_dir.path)?;
    for (db, addresses, mode) in [
        (&pull_db, &pull, SyncMode::O365Pull),
        (&push_db, &push, SyncMode::O365),
    ] {
        for a in addresses {
            db.add_person(&Person::new(a, mode)?.with_sync_url(&world.ews_url())?)?;
        }
    }
    let tenants = pull_dir
        .path
        .parent()
        .context("tenant dirs have a parent")?;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let stderr = tempfile::NamedTempFile::new()?;
    let started = Instant::now();
    let mut child = Child(
        Command::new(binary)
            .arg("--cache-dir")
            .arg(cache)
            .arg("--component")
            .arg(component)
            .args(["--log-level", "warn", "serve", "--tenants"])
            .arg(tenants)
            .args(["--listen", &addr, "--public-url", &format!("http://{addr}")])
            .args(["--webhook-rate", "1000000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen()?)
            .spawn()
            .context("starting rooms-sync serve")?,
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().context("stdout is piped")?;
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await??;
    anyhow::ensure!(
        first.starts_with("listening on"),
        "rooms-sync serve did not start: {first:?}; {}",
        std::fs::read_to_string(stderr.path()).unwrap_or_default()
    );

    // Ready: every person subscribed and its first sync done.
    let ready = loop {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the service did not get ready in 10 minutes; its log: {}",
            std::fs::read_to_string(stderr.path()).unwrap_or_default()
        );
        let health: serde_json::Value =
            serde_json::from_str(&get(&addr, "/healthz").await?).unwrap_or_default();
        let metrics = get(&addr, "/metrics").await?;
        let syncs = |t: &str| metric_in(&metrics, "rooms_sync_syncs_total", &[("tenant", t)]);
        let done = health["tenants"].as_array().is_some_and(|ts| {
            ts.len() == 2
                && ts.iter().all(|t| {
                    let subs = &t["subscriptions"];
                    subs["push"].as_u64().unwrap_or(0) + subs["pull"].as_u64().unwrap_or(0)
                        == PER_MODE as u64
                        && t["queue"].as_u64() == Some(0)
                })
        }) && syncs("pull") >= PER_MODE as f64
            && syncs("push") >= PER_MODE as f64;
        if done {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // One GetEvents sweep: duration and host CPU over a quiet window.
    let window = Duration::from_secs(if latency_n < 50 { 5 } else { 15 });
    let sweep = |m: &str, suffix: &str| {
        metric_in(
            m,
            &format!("rooms_sync_get_events_sweep_seconds_{suffix}"),
            &[("tenant", "pull")],
        )
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = get(&addr, "/metrics").await?;
    let cpu_before = cpu_time(pid);
    let mark = world.log_mark();
    tokio::time::sleep(window).await;
    let after = get(&addr, "/metrics").await?;
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let sweeps = sweep(&after, "count") - sweep(&before, "count");
    let sweep_secs = sweep(&after, "sum") - sweep(&before, "sum");
    let get_events = world.ews_requests_since(mark, Some("GetEvents")).len();

    // Latency, push and pull interleaved.
    let mut latency = [Samples::default(), Samples::default()];
    for i in 0..latency_n * 2 {
        let (which, db, person) = if i % 2 == 0 {
            (0, &push_db, &push[(i / 2 * 7) % PER_MODE])
        } else {
            (1, &pull_db, &pull[(i / 2 * 7) % PER_MODE])
        };
        let subject = format!("Latency sample {i}");
        let pause = rand::random::<u64>() % 300;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let t0 = Instant::now();
        world
            .outlook_create(
                person,
                json!({
                    "subject": subject, "start": "2027-03-01T09:00:00", "end": "2027-03-01T09:30:00",
                    "time_zone": "W. Europe Standard Time",
                }),
            )
            .await;
        loop {
            if booked(db, person, &subject) {
                latency[which].push(t0.elapsed());
                break;
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(60),
                "{subject} in {person} did not reach ROOMS in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // Notifications handled per second: genuine heartbeats.
    let bodies: Arc<Vec<String>> = Arc::new(
        push_db
            .list_subscriptions()?
            .iter()
            .map(|s| status_event(&s.id, &s.watermark))
            .collect(),
    );
    anyhow::ensure!(
        !bodies.is_empty(),
        "the push tenant stored no subscriptions"
    );
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (bodies, next, ok, addr) = (bodies.clone(), next.clone(), ok.clone(), addr.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= posts {
                    break;
                }
                let body = &bodies[i % bodies.len()];
                let answer = http(
                    &addr,
                    "POST",
                    "/api/webhooks/exchange/push",
                    &[("Content-Type", "text/xml; charset=utf-8")],
                    body.as_bytes(),
                )
                .await;
                if answer.is_ok_and(|a| a.status == 200 && a.text().contains(">OK<")) {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for client in clients {
        client.await?;
    }
    let post_time = t0.elapsed();
    let answered_ok = ok.load(Ordering::Relaxed);

    let peak = status_kib(pid, "VmHWM:");
    let rss = status_kib(pid, "VmRSS:");
    // SAFETY: kill has no memory preconditions; pid is our child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let stop = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let status = child.0.wait();
        std::mem::forget(child);
        status
    })
    .await??;

    section("8. The sync service: 1,000 pull and 1,000 push mailboxes (rooms-sync serve)");
    method(
        "one `rooms-sync serve` process serving two tenants (1,000 O365Pull persons with \
         IntervallTaskInSeconds 1; 1,000 O365 persons whose only trigger is the emulator's push \
         to the webhook on loopback), all against the in-process emulator on this machine. Latency: \
         an item created as the mailbox's Outlook user until its booking is in rooms.db (polled \
         every 5 ms), push and pull samples interleaved with random pauses. Notifications: \
         genuine heartbeat SendNotification posts of the stored push subscriptions by 16 \
         concurrent clients, each answered by the component and stored.",
    );
    row("start until all subscribed and synced", duration(ready));
    if sweeps > 0.0 {
        row(
            "GetEvents sweep of 1,000 pull subscriptions",
            format!(
                "{} mean over {sweeps:.0} sweeps, host CPU {} per sweep, {:.0} GetEvents per sweep",
                duration(Duration::from_secs_f64(sweep_secs / sweeps)),
                duration(cpu.div_f64(sweeps)),
                get_events as f64 / sweeps
            ),
        );
    } else {
        row("GetEvents sweep", "no sweep finished in the window");
    }
    row(
        "latency, push: Outlook change to ROOMS",
        latency[0].median_p99(),
    );
    row("latency, pull (1 s interval)", latency[1].median_p99());
    row(
        "notifications handled",
        format!(
            "{:.0}/s ({answered_ok} of {posts} answered OK in {})",
            answered_ok as f64 / post_time.as_secs_f64(),
            duration(post_time)
        ),
    );
    row(
        "host RSS",
        format!(
            "peak {:.1} MiB, at the end {:.1} MiB",
            peak as f64 / 1024.0,
            rss as f64 / 1024.0
        ),
    );
    row(
        "SIGTERM",
        format!("{status} after {}", duration(stop.elapsed())),
    );
    Ok(())
}
