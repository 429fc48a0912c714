//! Section 6: the two-way sync at scale, through the host library as
//! `rooms-sync run` calls it (`calls::run`: one `TenantRun`, the real
//! component, the tenant's `rooms.db`), against the in-process emulator.
//!
//! - Initial pull: a new tenant (empty `rooms.db`, no sync state, no token)
//!   syncs one mailbox of 10,000 calendar items, or 100 mailboxes of 100
//!   items each. Every item must arrive as one new booking.
//! - Back-sync: 1,000 bookings made in ROOMS (in `rooms.db`, organiser a
//!   synced person, one room) are written to the organiser's calendar by one
//!   run. Every booking must be created in Exchange.
//!
//! The three arms are sampled in turn, one sample each per round, the order
//! rotating every round, after warm-up rounds; every sample has a tenant of
//! its own (and the back-sync an organiser and a room of its own, so no
//! calendar grows from sample to sample). EWS requests are counted in the
//! emulator's request log. Peak RSS is that of the real `rooms-sync --tenant
//! DIR run` process, one extra pull of each kind run through the probe of
//! section 3 (a child of the bench itself would report the bench's peak,
//! which holds the emulator and its 20,000 items).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use exo_emulator::seed::{Mailbox, MailboxKind};
use exo_emulator::{LogFilter, admin};
use rooms_sync_host::calls::{self, RunReport};
use rooms_sync_host::rooms_db::{
    Attendee, AttendeeKind, BookingFields, FreeBusy, Person, SyncMode,
};
use rooms_sync_host::runtime::Runtime;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_integration::{Mode, World};
use serde_json::json;

use crate::process::PROBE_FLAG;
use crate::stats::{Samples, duration, method, row, section};

/// The mailbox of the 10,000-item pull.
const BIG: &str = "bench-pull-big@contoso.com";
/// Items in it.
const BIG_ITEMS: usize = 10_000;
/// Mailboxes of the many-mailbox pull, and items in each.
const SMALL_MAILBOXES: usize = 100;
const SMALL_ITEMS: usize = 100;
/// Bookings of the back-sync.
const BACK_BOOKINGS: usize = 1000;
/// Every this-many items is a daily series of ten (the rest are single
/// meetings).
const SERIES_EVERY: usize = 50;
/// The demo group the secret app's access policy is restricted to.
const SCOPE_GROUP: &str = "rooms-sync-scope@contoso.com";
/// A required attendee of every item (a demo mailbox).
const ATTENDEE: &str = "bob@contoso.com";
/// The zone items and bookings are made in.
const ZONE: &str = "W. Europe Standard Time";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arm {
    /// One mailbox, 10,000 items.
    PullBig,
    /// 100 mailboxes, 100 items each.
    PullMany,
    /// 1,000 ROOMS bookings to one organiser's calendar.
    Back,
}

const ARMS: [Arm; 3] = [Arm::PullBig, Arm::PullMany, Arm::Back];

/// What the samples of one arm add up to.
#[derive(Default)]
struct ArmResult {
    samples: Samples,
    /// EWS requests in the log, all samples.
    requests: u64,
    /// The same per operation.
    by_operation: BTreeMap<String, u64>,
    /// EWS requests the component reported, all samples.
    reported: u64,
}

fn small_mailbox(i: usize) -> String {
    format!("bench-pull-{i:03}@contoso.com")
}

fn organiser(round: usize) -> String {
    format!("bench-back-{round:02}@contoso.com")
}

fn room(round: usize) -> String {
    format!("bench-room-{round:02}@contoso.com")
}

fn mailbox(address: &str, kind: MailboxKind) -> Mailbox {
    Mailbox {
        address: address.to_owned(),
        aliases: Vec::new(),
        upn: None,
        kind,
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

/// Where a sample's tenant directory (and so its `rooms.db`) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The bench's temporary folder, on disk (as a real tenant).
    Disk,
    /// `/dev/shm` (tmpfs: commits cost no disk flush).
    Tmpfs,
}

/// Runs section 6: `warmup` rounds of the two pulls, then `n` rounds of
/// all three arms; then one sample of each arm with `rooms.db` on tmpfs, and
/// one `rooms-sync run` process per pull kind for its peak RSS.
pub async fn run(
    runtime: &Runtime,
    binary: &Path,
    component: &Path,
    cache: &Path,
    warmup: usize,
    n: usize,
) -> anyhow::Result<()> {
    let rounds = warmup + n;
    let tmpfs = Path::new(TMPFS).is_dir();
    // The emulator: the demo seed plus the bench's mailboxes, all inside the
    // access policy's scope; one organiser and one room for every back-sync.
    let back_samples = n + usize::from(tmpfs);
    let mut added: Vec<(String, MailboxKind)> = vec![(BIG.to_owned(), MailboxKind::User)];
    added.extend((0..SMALL_MAILBOXES).map(|i| (small_mailbox(i), MailboxKind::User)));
    for r in 0..back_samples {
        added.push((organiser(r), MailboxKind::User));
        added.push((room(r), MailboxKind::Room));
    }
    let world = World::start_with(|seed| {
        for (address, kind) in &added {
            seed.mailboxes.push(mailbox(address, *kind));
        }
        let group = seed
            .groups
            .iter_mut()
            .find(|g| g.address == SCOPE_GROUP)
            .expect("the demo seed has the scope group");
        group
            .members
            .extend(added.iter().map(|(address, _)| address.clone()));
    })
    .await;

    // The Outlook side, through the admin item API's handler (what
    // `POST /admin/mailboxes/{m}/items` runs, without HTTP).
    let seeding = Instant::now();
    populate(&world, BIG, BIG_ITEMS)?;
    for i in 0..SMALL_MAILBOXES {
        populate(&world, &small_mailbox(i), SMALL_ITEMS)?;
    }
    let seeding = seeding.elapsed();
    world.emulator.clear_request_log();

    let many: Vec<String> = (0..SMALL_MAILBOXES).map(small_mailbox).collect();
    let mut bench = Bench {
        world: &world,
        runtime,
        tenants: 0,
        back_done: 0,
    };
    let mut results: Vec<ArmResult> = ARMS.iter().map(|_| ArmResult::default()).collect();
    for round in 0..rounds {
        let record = round >= warmup;
        for k in 0..ARMS.len() {
            let at = (round + k) % ARMS.len();
            // Warm-up rounds leave out the back-sync (the pulls warm the
            // same paths, and a back-sync takes seconds).
            if !record && ARMS[at] == Arm::Back {
                continue;
            }
            let sample = bench.sample(ARMS[at], &many, Place::Disk).await?;
            if record {
                results[at].add(sample);
            }
        }
    }
    // The same on tmpfs, one sample each: what the disk's flushes cost.
    let mut on_tmpfs: Vec<Option<Duration>> = vec![None; ARMS.len()];
    if tmpfs {
        for (at, arm) in ARMS.iter().enumerate() {
            on_tmpfs[at] = Some(bench.sample(*arm, &many, Place::Tmpfs).await?.elapsed);
        }
    }

    // Peak RSS of the real process, one pull of each kind.
    let big_rss = {
        let (dir, _keep) = tenant_dir(&world, "rss-big", &[BIG.to_owned()], Place::Disk)?;
        probe_run(binary, component, cache, &dir)
            .await
            .context("the 10,000-item pull by a rooms-sync process")?
    };
    let many_rss = {
        let (dir, _keep) = tenant_dir(&world, "rss-many", &many, Place::Disk)?;
        probe_run(binary, component, cache, &dir)
            .await
            .context("the 100-mailbox pull by a rooms-sync process")?
    };

    section("6. Two-way sync at scale (calls::run, what `rooms-sync run` runs)");
    method(&format!(
        "calls::run(tenant, runtime, None) in the bench process (the persons of a tenant run \
         concurrently, up to SyncMaxConcurrentMailboxes = 4 by default, each worker on its own \
         component instance; the tenant's rooms.db in the bench's temporary folder on disk; HTTP \
         through the host's pooled client) against the in-process emulator over loopback HTTP, \
         which shares the 2 cores; initial pull = a new tenant (empty rooms.db, no sync state, \
         no token: one sign-in per run is included) whose every item must arrive as one new \
         booking; items are meetings with a required attendee and a room (1 in {SERIES_EVERY} a \
         daily series of ten), seeded through the admin item API's handler in {}; back-sync = \
         {BACK_BOOKINGS} bookings added to rooms.db (organiser a synced person, one room that \
         accepts, one hour each) and written by one run (the organiser's calendar read once \
         before, untimed), each sample with its own organiser and room; {} arms in turn, one \
         sample each per round, the order rotating; {warmup} warm-up round(s) of the pulls, \
         then n={n}; median / p99; per-second and per-item figures from the median; `tmpfs` = one \
         more sample with the tenant directory in {TMPFS} (no disk flush per commit). EWS \
         requests from the emulator's request log (sign-in not included); peak RSS is ru_maxrss \
         of one `rooms-sync --tenant DIR run` process per pull kind (a new tenant), taken by the \
         probe of section 3.",
        duration(seeding),
        ARMS.len()
    ));
    let per = |r: &ArmResult| (r.samples.len().max(1)) as f64;
    let ops = |r: &ArmResult, per_unit: f64| {
        let digits = if per_unit >= 100.0 { 3 } else { 1 };
        r.by_operation
            .iter()
            .map(|(op, c)| format!("{op} {:.digits$}", *c as f64 / per(r) / per_unit))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let tmpfs_row = |at: usize, units: usize, what: &str| {
        if let Some(t) = on_tmpfs[at] {
            row(
                "  the same with rooms.db on tmpfs (one sample)",
                format!(
                    "{}  ({:.0} {what} per second)",
                    duration(t),
                    units as f64 / t.as_secs_f64().max(1e-9)
                ),
            );
        }
    };
    for (arm, label, items, rss) in [
        (
            Arm::PullBig,
            "initial pull, 1 mailbox x 10,000 items",
            BIG_ITEMS,
            &big_rss,
        ),
        (
            Arm::PullMany,
            "initial pull, 100 mailboxes x 100 items",
            SMALL_MAILBOXES * SMALL_ITEMS,
            &many_rss,
        ),
    ] {
        let at = ARMS.iter().position(|a| *a == arm).expect("an arm");
        let r = &results[at];
        let median = r.samples.median();
        row(&format!("{label}: time"), r.samples.median_p99());
        row(
            "  items per second",
            format!("{:.0}", items as f64 / median.as_secs_f64().max(1e-9)),
        );
        let thousands = items as f64 / 1000.0;
        row(
            "  EWS requests per 1,000 items (target <= 12)",
            format!(
                "{:.1}  ({})",
                r.requests as f64 / per(r) / thousands,
                ops(r, thousands)
            ),
        );
        if r.reported != r.requests {
            row(
                "  EWS requests the component counted, per 1,000 items",
                format!("{:.1}", r.reported as f64 / per(r) / thousands),
            );
        }
        row(
            "  peak RSS of the rooms-sync process (one run)",
            format!(
                "{}  (that run took {}; probe floor {})",
                mib(rss.max_rss_kib),
                duration(rss.elapsed),
                mib(rss.probe_rss_kib)
            ),
        );
        tmpfs_row(at, items, "items");
    }
    let at = ARMS.iter().position(|a| *a == Arm::Back).expect("an arm");
    let r = &results[at];
    let median = r.samples.median();
    row(
        "back-sync, 1,000 ROOMS bookings: time",
        r.samples.median_p99(),
    );
    row(
        "  bookings per second",
        format!(
            "{:.0}",
            BACK_BOOKINGS as f64 / median.as_secs_f64().max(1e-9)
        ),
    );
    row(
        "  EWS requests per booking",
        format!(
            "{:.2}  ({})",
            r.requests as f64 / per(r) / BACK_BOOKINGS as f64,
            ops(r, BACK_BOOKINGS as f64)
        ),
    );
    tmpfs_row(at, BACK_BOOKINGS, "bookings");
    Ok(())
}

/// Where tmpfs is expected.
const TMPFS: &str = "/dev/shm";

/// The state shared by the samples.
struct Bench<'a> {
    world: &'a World,
    runtime: &'a Runtime,
    /// Tenants made so far (each sample has its own).
    tenants: usize,
    /// Back-syncs done so far (each has its own organiser and room).
    back_done: usize,
}

impl Bench<'_> {
    async fn sample(&mut self, arm: Arm, many: &[String], place: Place) -> anyhow::Result<Sample> {
        self.tenants += 1;
        let name = format!("sync{}", self.tenants);
        let sample = match arm {
            Arm::PullBig => pull(
                self.world,
                self.runtime,
                &name,
                &[BIG.to_owned()],
                BIG_ITEMS,
                place,
            )
            .await
            .context("the 10,000-item pull")?,
            Arm::PullMany => pull(self.world, self.runtime, &name, many, SMALL_ITEMS, place)
                .await
                .context("the 100-mailbox pull")?,
            Arm::Back => {
                let round = self.back_done;
                self.back_done += 1;
                back(self.world, self.runtime, &name, round, place)
                    .await
                    .context("the back-sync")?
            }
        };
        self.world.emulator.clear_request_log();
        Ok(sample)
    }
}

impl ArmResult {
    fn add(&mut self, sample: Sample) {
        self.samples.push(sample.elapsed);
        self.requests += sample.requests;
        self.reported += sample.reported;
        for (op, count) in sample.by_operation {
            *self.by_operation.entry(op).or_default() += count;
        }
    }
}

/// Puts `count` meetings into `address`'s calendar as its Outlook user
/// would (a required attendee, a room; no invitations sent, so no other
/// calendar fills up): eight a day, one hour each, from 09:00 local time.
fn populate(world: &World, address: &str, count: usize) -> anyhow::Result<()> {
    let base: jiff::Timestamp = "2027-01-04T08:00:00Z".parse()?;
    let shared = world.emulator.shared();
    for i in 0..count {
        let start = base.checked_add(jiff::SignedDuration::from_hours(
            (i / 8 * 24 + i % 8) as i64,
        ))?;
        let end = start.checked_add(jiff::SignedDuration::from_hours(1))?;
        let mut item = json!({
            "subject": format!("Planning {i} of {address}"),
            "start": start.to_string(), "end": end.to_string(), "time_zone": ZONE,
            "location": "Room Berlin", "reminder_minutes": 15,
            "required_attendees": [ATTENDEE], "resources": ["room-berlin@contoso.com"],
            "send_invitations": false,
        });
        if i % SERIES_EVERY == SERIES_EVERY - 1 {
            // The UTC date is the local one: every start is 08:00 to 15:00 UTC.
            let date = start.to_string()[..10].to_owned();
            item["recurrence"] = json!({
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "start": date, "count": 10},
            });
        }
        let body = serde_json::to_vec(&item)?;
        let reply = admin::items::handle(shared, &http::Method::POST, address, &[], None, &body);
        anyhow::ensure!(
            reply.status == 201,
            "seeding {address}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    Ok(())
}

/// One measured run.
struct Sample {
    elapsed: Duration,
    requests: u64,
    by_operation: BTreeMap<String, u64>,
    reported: u64,
}

/// A new tenant directory whose persons are `mailboxes`, and the guard of
/// the tmpfs folder that holds it (if any).
fn tenant_dir(
    world: &World,
    name: &str,
    mailboxes: &[String],
    place: Place,
) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    let dir = world.tenant(name, Mode::Secret, &[]);
    let (path, guard) = match place {
        Place::Disk => (dir.path.clone(), None),
        Place::Tmpfs => {
            let guard = tempfile::Builder::new()
                .prefix("rooms-sync-bench")
                .tempdir_in(TMPFS)?;
            let path = guard.path().join(name);
            std::fs::create_dir_all(path.join("certs"))?;
            std::fs::copy(
                dir.path.join("RoomsAppSettings.config"),
                path.join("RoomsAppSettings.config"),
            )?;
            (path, Some(guard))
        }
    };
    let tenant = crate::open_tenant(&path)?;
    for address in mailboxes {
        let person = Person::new(address, SyncMode::O365Pull)?.with_sync_url(&world.ews_url())?;
        tenant.db().add_person(&person)?;
    }
    Ok((path, guard))
}

/// Runs every person of `tenant` once, timed, and reads what it sent.
async fn timed_run(
    world: &World,
    runtime: &Runtime,
    tenant: &Arc<Tenant>,
) -> anyhow::Result<(Sample, Vec<RunReport>)> {
    let mark = world.log_mark();
    let started = Instant::now();
    let reports = calls::run(tenant, runtime, None, &mut |_| {}).await?;
    let elapsed = started.elapsed();
    if let Some(bad) = reports.iter().find(|r| !r.ok()) {
        anyhow::bail!("a run of the sync bench failed: {bad:?}");
    }
    let log = world.emulator.request_log(&LogFilter {
        endpoint: Some("ews".into()),
        since: Some(mark),
        ..LogFilter::default()
    });
    let mut by_operation = BTreeMap::new();
    for e in &log {
        *by_operation
            .entry(e.operation.clone().unwrap_or_else(|| "?".into()))
            .or_default() += 1;
    }
    Ok((
        Sample {
            elapsed,
            requests: log.len() as u64,
            by_operation,
            reported: reports.iter().map(|r| r.ews_requests).sum(),
        },
        reports,
    ))
}

/// An initial pull of `mailboxes` (`items` each) by a new tenant.
async fn pull(
    world: &World,
    runtime: &Runtime,
    name: &str,
    mailboxes: &[String],
    items: usize,
    place: Place,
) -> anyhow::Result<Sample> {
    let (dir, _guard) = tenant_dir(world, name, mailboxes, place)?;
    let tenant = crate::open_tenant(&dir)?;
    let (sample, reports) = timed_run(world, runtime, &tenant).await?;
    for r in &reports {
        anyhow::ensure!(
            r.to_rooms.created == items as u64,
            "{}: {} bookings created from {items} items",
            r.email,
            r.to_rooms.created
        );
    }
    drop(tenant);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(sample)
}

/// The back-sync of round `round`: its organiser's calendar is read once,
/// then 1,000 bookings made in ROOMS are written by one timed run.
async fn back(
    world: &World,
    runtime: &Runtime,
    name: &str,
    round: usize,
    place: Place,
) -> anyhow::Result<Sample> {
    let organiser = organiser(round);
    let room = room(round);
    let (dir, _guard) = tenant_dir(world, name, std::slice::from_ref(&organiser), place)?;
    let tenant = crate::open_tenant(&dir)?;
    // The first run: nothing to read, nothing to write (untimed).
    let first = calls::run(&tenant, runtime, None, &mut |_| {}).await?;
    anyhow::ensure!(
        first.iter().all(RunReport::ok),
        "the first back-sync run failed: {first:?}"
    );
    let base: jiff::Timestamp = "2027-03-01T07:00:00Z".parse()?;
    for i in 0..BACK_BOOKINGS {
        let start = base.checked_add(jiff::SignedDuration::from_hours(
            (i / 8 * 24 + i % 8) as i64,
        ))?;
        let end = start.checked_add(jiff::SignedDuration::from_hours(1))?;
        tenant.db().add_booking(BookingFields {
            organiser: organiser.clone(),
            rooms: vec![room.clone()],
            subject: format!("ROOMS booking {i}"),
            start: start.as_second(),
            end: end.as_second(),
            time_zone: ZONE.into(),
            all_day: false,
            reminder_minutes: Some(15),
            private: false,
            free_busy: FreeBusy::Busy,
            attendees: vec![
                Attendee {
                    email: ATTENDEE.into(),
                    kind: AttendeeKind::Required,
                },
                Attendee {
                    email: room.clone(),
                    kind: AttendeeKind::Resource,
                },
            ],
            recurrence: None,
        })?;
    }
    let (sample, reports) = timed_run(world, runtime, &tenant).await?;
    let created: u64 = reports.iter().map(|r| r.to_exchange.created).sum();
    anyhow::ensure!(
        created == BACK_BOOKINGS as u64,
        "{created} of {BACK_BOOKINGS} bookings created in Exchange: {reports:?}"
    );
    drop(tenant);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(sample)
}

/// What the probe saw of one process.
struct Probed {
    elapsed: Duration,
    max_rss_kib: u64,
    probe_rss_kib: u64,
}

/// `rooms-sync --tenant DIR run` through the probe (see section 3).
async fn probe_run(
    binary: &Path,
    component: &Path,
    cache: &Path,
    tenant_dir: &Path,
) -> anyhow::Result<Probed> {
    // This executable, as the probe; through /proc/self/exe, which still
    // names it when a build has replaced the file meanwhile.
    let this = Path::new("/proc/self/exe");
    let this = if this.exists() {
        this.to_path_buf()
    } else {
        std::env::current_exe()?
    };
    let mut command = Command::new(this);
    command
        .arg(PROBE_FLAG)
        .arg(binary)
        .args([
            OsStr::new("--tenant"),
            tenant_dir.as_os_str(),
            OsStr::new("--cache-dir"),
            cache.as_os_str(),
            OsStr::new("--component"),
            component.as_os_str(),
            OsStr::new("run"),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    // The emulator answers from this process meanwhile: wait off the
    // runtime's workers.
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<i64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [nanos, rss, status, probe_rss] = fields[..] else {
        anyhow::bail!("the probe answered {text:?} ({})", output.status);
    };
    anyhow::ensure!(
        status == 0,
        "`rooms-sync run` exited with {status} (expected 0) in {}",
        tenant_dir.display()
    );
    Ok(Probed {
        elapsed: Duration::from_nanos(nanos as u64),
        max_rss_kib: rss as u64,
        probe_rss_kib: probe_rss as u64,
    })
}
