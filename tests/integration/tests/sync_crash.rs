//! Crash safety of the two-way sync: the real `rooms-sync` process is killed
//! with SIGKILL at a random point of a `run`, and the next runs must bring
//! ROOMS and Exchange to the same bookings, with nothing duplicated or lost.
//!
//! One tenant syncs Alice (`alice@contoso.com`) and Room Berlin (a room, not
//! sync master). Each iteration:
//!
//! 1. makes a few random changes on both sides: in ROOMS with `booking
//!    add|update|cancel` (organiser Alice, sometimes Room Berlin as the
//!    room), in Outlook with the emulator's admin item API in Alice's
//!    calendar (create, change, delete; invitations sent, so Room Berlin
//!    answers). Every booking and item gets its own hour, so the room never
//!    declines for a clash (that path is the room tests' subject);
//! 2. starts `target/release/rooms-sync --tenant DIR run --json` as a child
//!    process and kills it with SIGKILL after a random delay between 0 and
//!    the time a whole run takes (measured once at the start: the median of
//!    five whole runs, each after one iteration's changes and each checked
//!    for convergence like the runs below);
//! 3. waits until the emulator has finished every request the killed
//!    process had sent (a restart takes longer than a request in
//!    production, so a late write landing after the next run's look-up is
//!    not what this test is about);
//! 4. runs `rooms-sync run --json` to completion and asserts that both sides
//!    agree ([`violations`]); then runs it once more and asserts that it
//!    moves nothing (every counter 0, no `CreateItem`/`UpdateItem`/
//!    `DeleteItem` in the emulator's request log, ROOMS unchanged) and that
//!    both sides still agree.
//!
//! `ROOMS_SYNC_CRASH_RUNS` sets the number of iterations (default 100),
//! `ROOMS_SYNC_CRASH_SEED` the seed of the random choices (default: from the
//! clock; it is printed first, and with every failure). The changes and the
//! delays follow from the seed; where the kill lands in the run also
//! depends on the machine's timing, so a seed reproduces the scenario, not
//! always the exact crash point. At the end the test prints where the kills
//! landed (before the first EWS request, while reading, after the first
//! write, or after the process had exited), and how many left a hot
//! journal in `rooms.db` or a booking with the create marker (read from a
//! copy of the files, so the next run finds them as the kill left them).
//! 100 iterations take about 25 s.
//!
//! Needs `make build` (the component and `target/release/rooms-sync`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rooms_sync_integration::{
    ALICE, BERLIN, EWS_WRITES, Moved, SECRET_APP, TenantDir, World, comparable, extended_property,
    ts,
};
use serde_json::{Value, json};

/// Iterations, unless `ROOMS_SYNC_CRASH_RUNS` says otherwise.
const DEFAULT_RUNS: usize = 100;
/// The first hour handed out to bookings and items; each gets the next one
/// of every third hour (so nothing overlaps in Room Berlin).
const FIRST_SLOT: &str = "2027-06-01T06:00:00Z";
/// Changes shown with a failure (the most recent).
const HISTORY_SHOWN: usize = 60;
/// Whole runs timed at the start; their median is the typical run time.
const CALIBRATION_RUNS: usize = 5;
/// Active bookings the random changes steer towards.
const TARGET_ACTIVE: usize = 10;

/// The real host binary beside the test executable's directory
/// (`target/release/deps/sync_crash-*` → `target/release/rooms-sync`).
fn host_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let release = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps");
    let binary = release.join(format!("rooms-sync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} not found: build it first (`make build`)",
        binary.display()
    );
    binary
}

/// What a child `rooms-sync run --json` ended with.
struct ChildRun {
    /// The exit code; `None` when a signal ended it.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Everything one test needs: the emulator, the tenant, the binary and its
/// arguments, the random source and what it has made so far.
struct Harness {
    world: World,
    dir: TenantDir,
    binary: PathBuf,
    args: Vec<std::ffi::OsString>,
    rng: StdRng,
    seed: u64,
    /// The next free slot.
    slot: i64,
    /// Ids of the bookings made with `booking add` (they must be tagged).
    made_in_rooms: HashSet<String>,
    /// Subjects handed out so far (a counter keeps them apart).
    counter: u64,
    /// Every change made, with the step it was made in.
    history: Vec<String>,
}

/// Where a kill landed, from the killed process's requests in the log.
#[derive(Debug, Default)]
struct Landings {
    before_ews: usize,
    while_reading: usize,
    after_a_write: usize,
    after_exit: usize,
    ews_requests: usize,
    /// Kills after which `rooms.db` had a hot rollback journal.
    hot_journal: usize,
    /// Kills after which a booking carried the create marker.
    marker_left: usize,
    /// ... and the killed process's `CreateItem` had been answered
    /// (its answer lost: the next run must find the item by its tag).
    answer_lost: usize,
}

impl Harness {
    async fn new(seed: u64) -> Harness {
        let world = World::start().await;
        let dir = world
            .sync_tenant(
                "crash",
                &[],
                &[(ALICE, &[] as &[&str]), (BERLIN, &["--room"])],
            )
            .await;
        let component = rooms_sync_host::runtime::locate_component()
            .expect("the component is built (`make guest`)");
        // The cache `TenantDir::run` uses: beside the tenant directory.
        let cache = dir
            .path
            .parent()
            .expect("a tenant directory has a parent")
            .join("cwasm-cache");
        let args = vec![
            "--tenant".into(),
            dir.path.clone().into_os_string(),
            "--cache-dir".into(),
            cache.into_os_string(),
            "--component".into(),
            component.into_os_string(),
            "run".into(),
            "--json".into(),
        ];
        Harness {
            world,
            dir,
            binary: host_binary(),
            args,
            rng: StdRng::seed_from_u64(seed),
            seed,
            slot: 0,
            made_in_rooms: HashSet::new(),
            counter: 0,
            history: Vec::new(),
        }
    }

    /// A new hour nobody else has, as RFC 3339 start and end.
    fn next_slot(&mut self) -> (String, String) {
        let first = ts(FIRST_SLOT);
        let start = first
            .checked_add(jiff::SignedDuration::from_hours(3 * self.slot))
            .expect("in range");
        let end = start
            .checked_add(jiff::SignedDuration::from_hours(1))
            .expect("in range");
        self.slot += 1;
        (start.to_string(), end.to_string())
    }

    fn subject(&mut self, what: &str, iteration: usize) -> String {
        self.counter += 1;
        format!("{what} {} (run {iteration})", self.counter)
    }

    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// `rooms-sync run --json` as a child process, to its end.
    async fn run_to_end(&self) -> ChildRun {
        let started = Instant::now();
        let output = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .expect("rooms-sync starts");
        ChildRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// `rooms-sync run` as a child process, SIGKILLed after `delay` unless
    /// it ended before; true when it was killed.
    async fn run_killed(&self, delay: Duration) -> bool {
        let mut child = self
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rooms-sync starts");
        tokio::select! {
            status = child.wait() => {
                status.expect("waiting for rooms-sync");
                false
            }
            () = tokio::time::sleep(delay) => {
                // `start_kill` sends SIGKILL.
                child.start_kill().expect("SIGKILL is sent");
                let status = child.wait().await.expect("waiting for rooms-sync");
                use std::os::unix::process::ExitStatusExt;
                // It may have exited just before the signal.
                status.signal() == Some(libc::SIGKILL)
            }
        }
    }

    /// Waits until the emulator has answered every EWS request of the
    /// tenant's app (those of a killed process included).
    async fn settle(&self) {
        let account = format!("app:{}", SECRET_APP.to_ascii_lowercase());
        let shared = self.world.emulator.shared();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut quiet = 0;
        while quiet < 3 {
            if shared.inflight(&account) == 0 {
                quiet += 1;
            } else {
                quiet = 0;
                assert!(
                    Instant::now() < deadline,
                    "the emulator still works on requests 10 s after the kill"
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// What the killed process left in `rooms.db`: (a hot journal, bookings
    /// carrying the create marker). Read from a copy of the files, so the
    /// next run finds them as the kill left them.
    fn left_behind(&self) -> (bool, usize) {
        let scratch = tempfile::tempdir().expect("a scratch folder");
        let mut hot = false;
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let name = format!("rooms.db{suffix}");
            let from = self.dir.path.join(&name);
            if let Ok(meta) = std::fs::metadata(&from) {
                hot |= suffix == "-journal" && meta.len() > 0;
                std::fs::copy(&from, scratch.path().join(&name)).expect("rooms.db is copied");
            }
        }
        let conn = rusqlite::Connection::open(scratch.path().join("rooms.db"))
            .expect("the copy of rooms.db opens");
        let markers: i64 = conn
            .query_row(
                "SELECT count(*) FROM bookings WHERE last_error = 'being created in Exchange'",
                [],
                |r| r.get(0),
            )
            .expect("the bookings are read");
        (hot, markers as usize)
    }

    /// A few random changes on each side.
    async fn change_both_sides(&mut self, iteration: usize, step: &str) {
        let rooms_changes = self.rng.random_range(1..=3);
        for _ in 0..rooms_changes {
            let done = self.change_rooms(iteration).await;
            self.history.push(format!("{step}: {done}"));
        }
        let outlook_changes = self.rng.random_range(1..=3);
        for _ in 0..outlook_changes {
            let done = self.change_outlook(iteration).await;
            self.history.push(format!("{step}: {done}"));
        }
    }

    /// Picks add, update or cancel, steering towards [`TARGET_ACTIVE`].
    fn pick(&mut self, active: usize) -> u8 {
        if active < 2 {
            return 0;
        }
        let (add, update) = if active > 2 * TARGET_ACTIVE {
            (10, 40)
        } else if active > TARGET_ACTIVE {
            (25, 45)
        } else {
            (45, 35)
        };
        let roll = self.rng.random_range(0..100);
        if roll < add {
            0
        } else if roll < add + update {
            1
        } else {
            2
        }
    }

    async fn change_rooms(&mut self, iteration: usize) -> String {
        let active: Vec<Value> = self
            .dir
            .bookings()
            .await
            .into_iter()
            .filter(|b| b["state"] == "active")
            .collect();
        match self.pick(active.len()) {
            0 => {
                let subject = self.subject("ROOMS", iteration);
                let (start, end) = self.next_slot();
                let mut args = vec![
                    "--organiser",
                    ALICE,
                    "--subject",
                    subject.as_str(),
                    "--start",
                    start.as_str(),
                    "--end",
                    end.as_str(),
                ];
                if self.rng.random_bool(0.6) {
                    args.extend_from_slice(&["--room", BERLIN]);
                }
                let id = self.dir.booking_add(&args).await;
                self.made_in_rooms.insert(id.clone());
                format!("ROOMS add {id} '{subject}' {start}")
            }
            1 => {
                let b = &active[self.rng.random_range(0..active.len())];
                let id = b["id"].as_str().expect("an id").to_owned();
                if self.rng.random_bool(0.5) {
                    let subject = self.subject("ROOMS renamed", iteration);
                    self.dir
                        .ok(&["booking", "update", &id, "--subject", &subject])
                        .await;
                    format!("ROOMS rename {id} to '{subject}'")
                } else {
                    let (start, end) = self.next_slot();
                    self.dir
                        .ok(&["booking", "update", &id, "--start", &start, "--end", &end])
                        .await;
                    format!("ROOMS move {id} to {start}")
                }
            }
            _ => {
                let b = &active[self.rng.random_range(0..active.len())];
                let id = b["id"].as_str().expect("an id").to_owned();
                self.dir.ok(&["booking", "cancel", &id]).await;
                format!("ROOMS cancel {id}")
            }
        }
    }

    async fn change_outlook(&mut self, iteration: usize) -> String {
        let items = self.world.calendar(ALICE).await;
        match self.pick(items.len()) {
            0 => {
                let subject = self.subject("Outlook", iteration);
                let (start, end) = self.next_slot();
                let mut item = json!({
                    "subject": subject, "start": start, "end": end,
                    "send_invitations": true,
                });
                if self.rng.random_bool(0.6) {
                    item["resources"] = json!([BERLIN]);
                }
                let made = self.world.outlook_create(ALICE, item).await;
                format!("Outlook create {} '{subject}' {start}", short(&made["id"]))
            }
            1 => {
                let item = &items[self.rng.random_range(0..items.len())];
                let id = item["id"].as_str().expect("an id").to_owned();
                if self.rng.random_bool(0.5) {
                    let subject = self.subject("Outlook renamed", iteration);
                    self.world
                        .outlook_patch(ALICE, &id, json!({ "subject": subject }))
                        .await;
                    format!("Outlook rename {} to '{subject}'", short(&item["id"]))
                } else {
                    let (start, end) = self.next_slot();
                    self.world
                        .outlook_patch(ALICE, &id, json!({ "start": start, "end": end }))
                        .await;
                    format!("Outlook move {} to {start}", short(&item["id"]))
                }
            }
            _ => {
                let item = &items[self.rng.random_range(0..items.len())];
                let id = item["id"].as_str().expect("an id").to_owned();
                self.world.outlook_delete(ALICE, &id).await;
                format!("Outlook delete {}", short(&item["id"]))
            }
        }
    }

    /// Both sides now.
    async fn snapshot(&self) -> Snapshot {
        Snapshot {
            bookings: self.dir.bookings().await,
            alice: self.world.calendar(ALICE).await,
            berlin: self.world.calendar(BERLIN).await,
        }
    }
}

/// Both sides at one moment.
struct Snapshot {
    bookings: Vec<Value>,
    alice: Vec<Value>,
    berlin: Vec<Value>,
}

/// The end of a long base64 item id, enough to tell items apart in output.
fn short(id: &Value) -> String {
    let id = id.as_str().unwrap_or("?");
    id[id.len().saturating_sub(12)..].to_owned()
}

fn uid(item: &Value) -> Option<&str> {
    item["calendar"]["uid"].as_str()
}

/// The link of a booking into `mailbox`.
fn link<'a>(booking: &'a Value, mailbox: &str) -> Option<&'a Value> {
    booking["links"].as_array()?.iter().find(|l| {
        l["mailbox"]
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case(mailbox))
    })
}

/// The UIDs a booking's links carry (normally one).
fn uids(booking: &Value) -> HashSet<&str> {
    let mut out: HashSet<&str> = booking["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["uid"].as_str())
        .collect();
    if let Some(u) = booking["exchange"]["uid"].as_str() {
        out.insert(u);
    }
    out
}

/// True when `item` (in Alice's calendar) belongs to `booking`: it carries
/// the booking's tag, or the booking links it, or they share the UID.
fn belongs(item: &Value, booking: &Value) -> bool {
    let id = booking["id"].as_str();
    extended_property(item, "RoomsBookingId").is_some_and(|t| Some(t) == id)
        || link(booking, ALICE).is_some_and(|l| l["item_id"] == item["id"])
        || uid(item).is_some_and(|u| uids(booking).contains(u))
}

fn same_instant(a: &Value, b: &Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) => match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        _ => false,
    }
}

/// Everything on which the two sides disagree; empty when they converged.
fn violations(s: &Snapshot, made_in_rooms: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let id_of = |b: &Value| b["id"].as_str().unwrap_or("?").to_owned();

    // No two bookings linked to one item, or sharing a UID.
    let mut by_item: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut by_uid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for b in &s.bookings {
        for l in b["links"].as_array().into_iter().flatten() {
            let key = (
                l["mailbox"].as_str().unwrap_or("").to_ascii_lowercase(),
                l["item_id"].as_str().unwrap_or("").to_owned(),
            );
            by_item.entry(key).or_default().push(id_of(b));
        }
        for u in uids(b) {
            by_uid.entry(u.to_owned()).or_default().push(id_of(b));
        }
    }
    for ((mailbox, item), ids) in &by_item {
        if ids.len() > 1 {
            out.push(format!(
                "bookings {ids:?} are all linked to item …{} in {mailbox}",
                short(&json!(item))
            ));
        }
    }
    for (u, ids) in &by_uid {
        if ids.len() > 1 {
            out.push(format!("bookings {ids:?} share the UID {u}"));
        }
    }

    // No duplicate items in Alice's calendar, by tag or by UID; none in Room
    // Berlin's by UID.
    let mut tags: HashMap<&str, usize> = HashMap::new();
    let mut alice_uids: HashMap<&str, usize> = HashMap::new();
    for item in &s.alice {
        if let Some(t) = extended_property(item, "RoomsBookingId") {
            *tags.entry(t).or_default() += 1;
        }
        if let Some(u) = uid(item) {
            *alice_uids.entry(u).or_default() += 1;
        }
    }
    for (t, n) in &tags {
        if *n > 1 {
            out.push(format!("{n} items in Alice's calendar carry the tag {t}"));
        }
    }
    for (u, n) in &alice_uids {
        if *n > 1 {
            out.push(format!("{n} items in Alice's calendar have the UID {u}"));
        }
    }
    let mut berlin_uids: HashMap<&str, usize> = HashMap::new();
    for item in s
        .berlin
        .iter()
        .filter(|i| i["calendar"]["is_cancelled"] != true)
    {
        if let Some(u) = uid(item) {
            *berlin_uids.entry(u).or_default() += 1;
        }
    }
    for (u, n) in &berlin_uids {
        if *n > 1 {
            out.push(format!(
                "{n} items in Room Berlin's calendar have the UID {u}"
            ));
        }
    }

    // Every item in Alice's calendar belongs to exactly one booking, and
    // that booking is not cancelled.
    for item in &s.alice {
        let owners: Vec<&Value> = s.bookings.iter().filter(|b| belongs(item, b)).collect();
        match owners.as_slice() {
            [] => out.push(format!(
                "item …{} '{}' in Alice's calendar has no booking",
                short(&item["id"]),
                item["subject"].as_str().unwrap_or("")
            )),
            [b] if b["state"] == "cancelled" => out.push(format!(
                "item …{} '{}' in Alice's calendar belongs to the cancelled booking {}",
                short(&item["id"]),
                item["subject"].as_str().unwrap_or(""),
                id_of(b)
            )),
            [_] => {}
            many => out.push(format!(
                "item …{} '{}' in Alice's calendar belongs to {} bookings: {:?}",
                short(&item["id"]),
                item["subject"].as_str().unwrap_or(""),
                many.len(),
                many.iter().map(|b| id_of(b)).collect::<Vec<_>>()
            )),
        }
    }

    // Every active booking homed in Alice's mailbox has exactly one item
    // there, linked, with its subject, start and end (and its tag, when it
    // was made in ROOMS); a cancelled one has none.
    for b in &s.bookings {
        let id = id_of(b);
        let home_alice = b["home"]
            .as_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(ALICE));
        let items: Vec<&Value> = s.alice.iter().filter(|i| belongs(i, b)).collect();
        match b["state"].as_str() {
            Some("active") if home_alice => {
                let [item] = items.as_slice() else {
                    out.push(format!(
                        "the active booking {id} '{}' has {} items in Alice's calendar",
                        b["subject"].as_str().unwrap_or(""),
                        items.len()
                    ));
                    continue;
                };
                match link(b, ALICE) {
                    Some(l) if l["item_id"] == item["id"] => {}
                    other => out.push(format!(
                        "the booking {id} is not linked to its item …{} (link: {other:?})",
                        short(&item["id"])
                    )),
                }
                if b["subject"] != item["subject"] {
                    out.push(format!(
                        "the booking {id} is '{}' in ROOMS but '{}' in Exchange",
                        b["subject"].as_str().unwrap_or(""),
                        item["subject"].as_str().unwrap_or("")
                    ));
                }
                for field in ["start", "end"] {
                    if !same_instant(&b[field], &item["calendar"][field]) {
                        out.push(format!(
                            "the booking {id}'s {field} is {} in ROOMS but {} in Exchange",
                            b[field], item["calendar"][field]
                        ));
                    }
                }
                if made_in_rooms.contains(&id)
                    && extended_property(item, "RoomsBookingId") != Some(id.as_str())
                {
                    out.push(format!(
                        "the item …{} of the ROOMS booking {id} does not carry its tag",
                        short(&item["id"])
                    ));
                }
            }
            Some("active") => out.push(format!(
                "the booking {id} is homed in {} (expected Alice's mailbox)",
                b["home"]
            )),
            Some("cancelled") if !items.is_empty() => out.push(format!(
                "the cancelled booking {id} still has {} items in Alice's calendar",
                items.len()
            )),
            _ => {}
        }
    }
    out
}

/// Bookings without their links' ChangeKeys (bookkeeping may move them:
/// a room's answer changes the organiser's item), sorted by id.
fn stable(bookings: &[Value]) -> Vec<Value> {
    let mut out = comparable(bookings);
    for b in &mut out {
        for l in b["links"].as_array_mut().into_iter().flatten() {
            if let Some(l) = l.as_object_mut() {
                l.remove("change_key");
            }
        }
    }
    out
}

/// Both sides, for a failure message.
fn describe(s: &Snapshot) -> String {
    let mut text = String::from("ROOMS bookings:\n");
    for b in &s.bookings {
        let links: Vec<String> = b["links"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                format!(
                    "{}:…{} uid {}",
                    l["mailbox"].as_str().unwrap_or(""),
                    short(&l["item_id"]),
                    l["uid"].as_str().unwrap_or("")
                )
            })
            .collect();
        text.push_str(&format!(
            "  {} {} home {} '{}' {} .. {} rev {}/{} pending {} attempts {} last_error {} links [{}]\n",
            b["id"].as_str().unwrap_or(""),
            b["state"].as_str().unwrap_or(""),
            b["home"].as_str().unwrap_or(""),
            b["subject"].as_str().unwrap_or(""),
            b["start"].as_str().unwrap_or(""),
            b["end"].as_str().unwrap_or(""),
            b["revision"],
            b["synced_revision"],
            b["pending"],
            b["attempts"],
            b["last_error"],
            links.join(", ")
        ));
    }
    for (name, items) in [("Alice", &s.alice), ("Room Berlin", &s.berlin)] {
        text.push_str(&format!("{name}'s calendar:\n"));
        for i in items {
            text.push_str(&format!(
                "  …{} '{}' {} .. {} tag {} uid {} cancelled {} response {}\n",
                short(&i["id"]),
                i["subject"].as_str().unwrap_or(""),
                i["calendar"]["start"].as_str().unwrap_or(""),
                i["calendar"]["end"].as_str().unwrap_or(""),
                extended_property(i, "RoomsBookingId").unwrap_or("-"),
                uid(i).unwrap_or("-"),
                i["calendar"]["is_cancelled"],
                i["calendar"]["my_response"].as_str().unwrap_or("")
            ));
        }
    }
    text
}

/// The EWS requests after `mark`, one line each.
fn requests_since(world: &World, mark: u64) -> String {
    world
        .ews_requests_since(mark, None)
        .iter()
        .map(|e| {
            format!(
                "  #{} {} {} -> {} {}\n",
                e.seq,
                e.operation.as_deref().unwrap_or("?"),
                e.mailbox.as_deref().unwrap_or(""),
                e.http_status,
                e.response_code.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// Fails the test with everything needed to follow the failure.
fn fail(
    h: &Harness,
    step: &str,
    what: &str,
    problems: &[String],
    snapshot: &Snapshot,
    runs: &[(&str, &ChildRun)],
    mark: u64,
) -> ! {
    let mut text = format!(
        "CRASH SAFETY FAILED: seed {} (ROOMS_SYNC_CRASH_SEED={}), {step}: {what}\n",
        h.seed, h.seed
    );
    for p in problems {
        text.push_str(&format!("- {p}\n"));
    }
    text.push_str(&format!(
        "the changes made (the last {} of {}):\n",
        h.history.len().min(HISTORY_SHOWN),
        h.history.len()
    ));
    for c in &h.history[h.history.len().saturating_sub(HISTORY_SHOWN)..] {
        text.push_str(&format!("  {c}\n"));
    }
    for (name, run) in runs {
        text.push_str(&format!(
            "{name}: exit {:?} after {:?}\n  stdout: {}\n  stderr: {}\n",
            run.code,
            run.elapsed,
            run.stdout.trim(),
            run.stderr.trim()
        ));
    }
    text.push_str(&describe(snapshot));
    text.push_str("EWS requests since the step began:\n");
    text.push_str(&requests_since(&h.world, mark));
    panic!("{text}");
}

/// True when the run completed for every person without a problem.
fn clean(run: &ChildRun) -> Result<Value, String> {
    let json = serde_json::from_str::<Value>(&run.stdout)
        .map_err(|e| format!("`run --json` printed no JSON: {e}"))?;
    if run.code != Some(0) {
        return Err(format!("`run` exited with {:?}", run.code));
    }
    let errors: Vec<&Value> = json["persons"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["errors"].as_array().into_iter().flatten())
        .collect();
    if !errors.is_empty() {
        return Err(format!("`run` reported problems: {errors:?}"));
    }
    Ok(json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_is_finished_by_the_next_without_duplicates_or_losses() {
    let runs: usize = std::env::var("ROOMS_SYNC_CRASH_RUNS")
        .ok()
        .map(|v| v.parse().expect("ROOMS_SYNC_CRASH_RUNS is a number"))
        .unwrap_or(DEFAULT_RUNS);
    let seed: u64 = std::env::var("ROOMS_SYNC_CRASH_SEED")
        .ok()
        .map(|v| v.parse().expect("ROOMS_SYNC_CRASH_SEED is a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("crash safety: seed {seed} (ROOMS_SYNC_CRASH_SEED={seed}), {runs} iterations");
    let test_started = Instant::now();
    let mut h = Harness::new(seed).await;
    println!("   host binary {}", h.binary.display());

    // A first run fills the component cache (the first start compiles).
    let first = h.run_to_end().await;
    if let Err(e) = clean(&first) {
        let snapshot = h.snapshot().await;
        fail(
            &h,
            "the first run",
            &e,
            &[],
            &snapshot,
            &[("first run", &first)],
            0,
        );
    }
    // Calibration: the median of a few whole runs, each after one
    // iteration's changes (and converged).
    let mut times = Vec::new();
    for k in 1..=CALIBRATION_RUNS {
        let step = format!("calibration run {k} (no kill)");
        let mark = h.world.log_mark();
        h.change_both_sides(0, &step).await;
        let calibration = h.run_to_end().await;
        if let Err(e) = clean(&calibration) {
            let snapshot = h.snapshot().await;
            fail(
                &h,
                &step,
                &e,
                &[],
                &snapshot,
                &[("calibration run", &calibration)],
                mark,
            );
        }
        let snapshot = h.snapshot().await;
        let problems = violations(&snapshot, &h.made_in_rooms);
        if !problems.is_empty() {
            fail(
                &h,
                &step,
                "the sides differ after a whole run",
                &problems,
                &snapshot,
                &[("calibration run", &calibration)],
                mark,
            );
        }
        times.push(calibration.elapsed);
    }
    times.sort();
    let typical = times[times.len() / 2];
    println!(
        "   a whole run took {typical:?} (median of {times:?}): kills land between 0 and that"
    );

    let mut landings = Landings::default();
    for iteration in 1..=runs {
        let step = format!("iteration {iteration}");
        let mark = h.world.log_mark();
        h.change_both_sides(iteration, &step).await;

        // The killed run.
        let delay = typical.mul_f64(h.rng.random::<f64>());
        let killed_at = h.world.log_mark();
        let killed = h.run_killed(delay).await;
        h.settle().await;
        let sent = h.world.ews_requests_since(killed_at, None);
        landings.ews_requests += sent.len();
        if !killed {
            landings.after_exit += 1;
        } else if sent.is_empty() {
            landings.before_ews += 1;
        } else if sent.iter().any(|e| {
            e.operation
                .as_deref()
                .is_some_and(|op| EWS_WRITES.contains(&op))
        }) {
            landings.after_a_write += 1;
        } else {
            landings.while_reading += 1;
        }
        let (hot, markers) = h.left_behind();
        landings.hot_journal += usize::from(hot);
        if markers > 0 {
            landings.marker_left += 1;
            let created = sent.iter().any(|e| {
                e.operation.as_deref() == Some("CreateItem")
                    && e.response_code.as_deref() == Some("NoError")
            });
            landings.answer_lost += usize::from(created);
        }

        // The run after the crash: everything converges.
        let recovery = h.run_to_end().await;
        let snapshot = h.snapshot().await;
        if let Err(e) = clean(&recovery) {
            fail(
                &h,
                &step,
                &format!("the run after the kill ({delay:?}) failed: {e}"),
                &[],
                &snapshot,
                &[("run after the kill", &recovery)],
                mark,
            );
        }
        let problems = violations(&snapshot, &h.made_in_rooms);
        if !problems.is_empty() {
            fail(
                &h,
                &step,
                &format!("the sides differ after the run that followed the kill at {delay:?}"),
                &problems,
                &snapshot,
                &[("run after the kill", &recovery)],
                mark,
            );
        }

        // One more run: nothing moves, nothing is written.
        let before = stable(&snapshot.bookings);
        let quiet_mark = h.world.log_mark();
        let quiet = h.run_to_end().await;
        let after = h.snapshot().await;
        let mut problems = Vec::new();
        match clean(&quiet) {
            Err(e) => problems.push(e),
            Ok(json) => {
                for person in json["persons"].as_array().into_iter().flatten() {
                    let moved = Moved::of(person);
                    if !moved.is_zero() {
                        problems.push(format!(
                            "{} moved {moved:?} in the run after a complete run",
                            person["email"]
                        ));
                    }
                }
                if !Moved::of(&json["totals"]).is_zero() {
                    problems.push(format!("the totals are not 0: {}", json["totals"]));
                }
            }
        }
        let writes = h.world.writes_since(quiet_mark);
        if !writes.is_empty() {
            problems.push(format!(
                "the run after a complete run wrote to Exchange: {:?}",
                writes
                    .iter()
                    .map(|e| format!(
                        "{} {}",
                        e.operation.as_deref().unwrap_or("?"),
                        e.mailbox.as_deref().unwrap_or("")
                    ))
                    .collect::<Vec<_>>()
            ));
        }
        if before != stable(&after.bookings) {
            problems.push("the run after a complete run changed ROOMS".into());
        }
        problems.extend(violations(&after, &h.made_in_rooms));
        if !problems.is_empty() {
            fail(
                &h,
                &step,
                "the run after a complete run was not quiet",
                &problems,
                &after,
                &[("run after the kill", &recovery), ("the next run", &quiet)],
                mark,
            );
        }
        if iteration % 10 == 0 {
            let active = after
                .bookings
                .iter()
                .filter(|b| b["state"] == "active")
                .count();
            println!(
                "   {iteration}/{runs}: {} bookings ({active} active), {} items in Alice's calendar, {:.0} s",
                after.bookings.len(),
                after.alice.len(),
                test_started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "crash safety: {runs} kills converged (seed {seed}): {} before the first EWS request, {} while \
         reading, {} after a write, {} after the process had ended; {} EWS requests sent by killed \
         processes; {} kills left a hot journal, {} a create marker ({} of them after the \
         CreateItem was answered); {:.0} s",
        landings.before_ews,
        landings.while_reading,
        landings.after_a_write,
        landings.after_exit,
        landings.ews_requests,
        landings.hot_journal,
        landings.marker_left,
        landings.answer_lost,
        test_started.elapsed().as_secs_f64()
    );
    // The test must exercise crashes in the middle of the work, not only at
    // the edges.
    assert!(
        runs < 20 || landings.while_reading + landings.after_a_write > 0,
        "no kill landed while the run was working: {landings:?}"
    );
}
