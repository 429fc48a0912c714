//! One running tenant of the service: its tasks, its sync queue, its view of
//! the persons.
//!
//! A [`TenantService`] runs these tasks on the service's `LocalSet`, each
//! with its own component instance ([`TenantRun`]), so tenants never share
//! an instance and a flood of webhook posts cannot starve the syncs:
//!
//! - up to `SyncMaxConcurrentMailboxes` **sync workers** take mailboxes from
//!   the [`SyncQueue`] and run one incremental two-way cycle each
//!   ([`TenantRun::run_person`]);
//! - the **subscription task** ([`super::pull`]) keeps pull and push
//!   subscriptions and sweeps `GetEvents`;
//! - the **webhook worker** hands the tenant's queued webhook posts to the
//!   component (`handle-webhook`) one at a time;
//! - the **watcher** checks every [`ROOMS_CHECK`] whether another process
//!   (the CLI, the ROOMS plugin host) committed to `rooms.db`
//!   (`PRAGMA data_version`), and queues the persons with pending ROOMS
//!   changes, so a booking made in ROOMS reaches Exchange within a second or
//!   two; every [`PERSONS_REFRESH`] it re-reads the persons, so a person
//!   added while the service runs gets its first sync and its subscription.
//!
//! At start every active person is queued once (an incremental sync catches
//! whatever changed while the service was down) and its subscription is
//! made or resumed. A sync-disabled person is skipped everywhere.
//!
//! Stopping ([`TenantService::stop`]) lets every task finish the call it is
//! in (each bounded by its deadline) and store what it returned; queued work
//! is dropped, and the next start's first sync covers it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::calls::notifications::{HttpRequest, HttpResponse, WebhookEvent};
use crate::calls::{RunReport, TenantRun};
use crate::log::{Level, LogSink, PersonIndex};
use crate::rooms_db::{FailureKind, Person, PersonRow, SyncMode};
use crate::tenant::Tenant;

use super::Context;
use super::metrics::Refusal;
use super::sync_queue::{SyncQueue, Trigger};

/// How often the watcher looks for ROOMS-side changes.
pub const ROOMS_CHECK: Duration = Duration::from_millis(500);

/// How often the persons are re-read.
pub const PERSONS_REFRESH: Duration = Duration::from_secs(2);

/// Webhook posts waiting per tenant; more are answered 503.
pub const WEBHOOK_QUEUE: usize = 64;

/// One webhook post handed to a tenant.
pub(crate) struct WebhookJob {
    /// The request as the component sees it.
    pub request: HttpRequest,
    /// Where the answer goes; `None` when the component failed.
    pub reply: oneshot::Sender<Option<HttpResponse>>,
}

/// The persons of a tenant as last read, with a generation that changes
/// whenever they do (the HTTP policy of a run follows their Sync-URLs).
#[derive(Debug, Default)]
pub(crate) struct Persons {
    pub generation: u64,
    pub all: BTreeMap<String, Person>,
}

impl Persons {
    /// The person of `mailbox` when its sync is enabled.
    pub fn active(&self, mailbox: &str) -> Option<&Person> {
        self.all.get(mailbox).filter(|p| !p.sync_disabled)
    }

    /// Every person whose sync is enabled.
    pub fn active_list(&self) -> Vec<Person> {
        self.all
            .values()
            .filter(|p| !p.sync_disabled)
            .cloned()
            .collect()
    }
}

/// Counts shown by `/healthz`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Status {
    pub persons: usize,
    pub push: usize,
    pub pull: usize,
}

/// A running tenant.
pub(crate) struct TenantService {
    pub name: String,
    pub tenant: Arc<Tenant>,
    pub ctx: Rc<Context>,
    pub callback: Option<String>,
    pub queue: RefCell<SyncQueue>,
    pub wake_workers: Notify,
    pub wake_poller: Notify,
    pub persons: RefCell<Persons>,
    /// The persons' addresses for the tenant's log lines.
    person_index: PersonIndex,
    pub status: Cell<Status>,
    /// The error about push persons without a callback URL was logged.
    no_callback_logged: Cell<bool>,
    /// Pull mailboxes whose subscription was lost: subscribed again at once.
    pub force_resubscribe: RefCell<BTreeSet<String>>,
    /// Mailboxes whose `Subscribe` failed: not tried again before then.
    pub subscribe_retry: RefCell<BTreeMap<String, Instant>>,
    webhook_tx: mpsc::Sender<WebhookJob>,
    webhook_rx: RefCell<Option<mpsc::Receiver<WebhookJob>>>,
    stop: watch::Sender<bool>,
    finished: watch::Sender<bool>,
}

impl TenantService {
    /// Starts the tasks of `tenant` (named `name`). When `previous` is
    /// given (the same directory before its settings changed), nothing runs
    /// until it has stopped.
    pub fn start(
        name: String,
        tenant: Arc<Tenant>,
        ctx: Rc<Context>,
        person_index: PersonIndex,
        previous: Option<Rc<TenantService>>,
    ) -> Rc<TenantService> {
        let timing = *tenant.settings().timing();
        let callback = super::push::callback_url(
            tenant.settings().push_notification_endpoint_url(),
            ctx.public_url.as_deref(),
            &name,
        );
        let (webhook_tx, webhook_rx) = mpsc::channel(WEBHOOK_QUEUE);
        let service = Rc::new(TenantService {
            queue: RefCell::new(SyncQueue::new(Duration::from_secs(
                u64::from(timing.intervall_task_seconds) * 10,
            ))),
            name,
            tenant,
            ctx,
            callback,
            wake_workers: Notify::new(),
            wake_poller: Notify::new(),
            persons: RefCell::new(Persons::default()),
            person_index,
            status: Cell::new(Status::default()),
            no_callback_logged: Cell::new(false),
            force_resubscribe: RefCell::new(BTreeSet::new()),
            subscribe_retry: RefCell::new(BTreeMap::new()),
            webhook_tx,
            webhook_rx: RefCell::new(Some(webhook_rx)),
            stop: watch::Sender::new(false),
            finished: watch::Sender::new(false),
        });
        service.ctx.metrics.tenant_started(&service.name);
        tokio::task::spawn_local(service.clone().supervise(previous));
        service
    }

    /// The tenant's log.
    pub fn log(&self) -> &LogSink {
        self.tenant.log()
    }

    /// The tenant's log with `person` on every line.
    pub fn person_log(&self, person: &str) -> LogSink {
        self.tenant.log().with_field("person", person)
    }

    /// Asks every task to stop after the call it is in.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// True once [`Self::stop`] was called.
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// A receiver that turns true when the tenant is asked to stop.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Waits until every task has ended.
    pub async fn stopped(&self) {
        let mut finished = self.finished.subscribe();
        let _ = finished.wait_for(|done| *done).await;
    }

    /// Hands a webhook post to the tenant's webhook worker; `Err` with the
    /// job when the queue is full or the tenant is stopping.
    pub fn offer_webhook(&self, job: WebhookJob) -> Result<(), Refusal> {
        if self.stopping() {
            return Err(Refusal::QueueFull);
        }
        self.webhook_tx
            .try_send(job)
            .map_err(|_| Refusal::QueueFull)
    }

    /// Mailboxes waiting for a sync.
    pub fn queue_depth(&self) -> usize {
        self.queue.borrow().depth()
    }

    /// Queues a sync of `mailbox` and wakes a worker.
    pub fn enqueue(&self, mailbox: &str, trigger: Trigger) {
        let woke = self
            .queue
            .borrow_mut()
            .push(mailbox, trigger, Instant::now());
        if woke {
            self.wake_workers.notify_one();
        }
        self.publish_queue_depth();
    }

    fn publish_queue_depth(&self) {
        self.ctx
            .metrics
            .set_queue_depth(&self.name, self.queue.borrow().depth());
    }

    /// A fresh run for the current persons (their Sync-URLs make its HTTP
    /// policy), reporting its instantiations to the metrics.
    pub fn new_run(&self) -> (u64, TenantRun<'static>) {
        let persons = self.persons.borrow();
        let list = persons.active_list();
        let metrics = self.ctx.metrics.clone();
        let run = TenantRun::new(&self.tenant, self.ctx.runtime, &list)
            .observe_instantiation(Arc::new(move |took| metrics.instantiated(took)));
        (persons.generation, run)
    }

    /// The run kept in `slot`, replaced when the persons changed.
    pub fn current_run<'s>(
        &self,
        slot: &'s mut Option<(u64, TenantRun<'static>)>,
    ) -> &'s mut TenantRun<'static> {
        let generation = self.persons.borrow().generation;
        if slot.as_ref().is_none_or(|(g, _)| *g != generation) {
            *slot = Some(self.new_run());
        }
        &mut slot.as_mut().expect("set above").1
    }

    async fn supervise(self: Rc<Self>, previous: Option<Rc<TenantService>>) {
        if let Some(previous) = previous {
            previous.stopped().await;
        }
        if !self.stopping() {
            self.refresh_persons(true);
            let status = self.status.get();
            let log = self.log();
            log.write(
                Level::Info,
                &format!(
                    "started: {} persons, {} push and {} pull subscriptions stored",
                    status.persons, status.push, status.pull
                ),
            );
        }
        let workers = self
            .tenant
            .settings()
            .timing()
            .sync_max_concurrent_mailboxes
            .max(1);
        let mut tasks = vec![
            tokio::task::spawn_local(self.clone().watcher()),
            tokio::task::spawn_local(super::pull::subscriptions(self.clone())),
        ];
        if let Some(rx) = self.webhook_rx.borrow_mut().take() {
            tasks.push(tokio::task::spawn_local(self.clone().webhook_worker(rx)));
        }
        for _ in 0..workers {
            tasks.push(tokio::task::spawn_local(self.clone().sync_worker()));
        }
        for task in tasks {
            if let Err(e) = task.await {
                self.log().write(
                    Level::Error,
                    &format!("a task of the tenant ended badly: {e}"),
                );
            }
        }
        self.finished.send_replace(true);
    }

    /// Re-reads the persons and the subscription counts. New active persons
    /// are queued for their first sync (all of them at `start`); persons
    /// removed or disabled leave the queue; the subscription task is woken
    /// when anything changed.
    pub fn refresh_persons(&self, start: bool) {
        let rows = match self.tenant.db().list_person_rows() {
            Ok(rows) => rows,
            Err(e) => {
                self.log()
                    .write(Level::Error, &format!("cannot read the persons: {e}"));
                return;
            }
        };
        let all: BTreeMap<String, Person> = rows
            .into_iter()
            .filter_map(|row| match row {
                PersonRow::Valid(p) => Some((p.email.clone(), p)),
                PersonRow::Unreadable { .. } => None,
            })
            .collect();
        let changed = {
            let mut persons = self.persons.borrow_mut();
            if persons.all != all || start {
                let newly_active: Vec<String> = all
                    .values()
                    .filter(|p| !p.sync_disabled)
                    .filter(|p| start || persons.active(&p.email).is_none())
                    .map(|p| p.email.clone())
                    .collect();
                let gone: Vec<String> = persons
                    .all
                    .values()
                    .filter(|p| !p.sync_disabled)
                    .filter(|p| all.get(&p.email).is_none_or(|n| n.sync_disabled))
                    .map(|p| p.email.clone())
                    .collect();
                persons.generation += 1;
                persons.all = all;
                self.person_index.set(persons.all.keys().cloned());
                Some((newly_active, gone))
            } else {
                None
            }
        };
        if self.callback.is_none()
            && !self.no_callback_logged.get()
            && self
                .persons
                .borrow()
                .all
                .values()
                .any(|p| !p.sync_disabled && p.sync_mode == SyncMode::O365)
        {
            self.log().write(Level::Error, &no_callback_message());
            self.no_callback_logged.set(true);
        }
        if let Some((newly_active, gone)) = changed {
            for mailbox in &gone {
                self.queue.borrow_mut().forget(mailbox);
                self.person_log(mailbox)
                    .write(Level::Info, "removed or disabled: no longer synced");
            }
            for mailbox in &newly_active {
                if !start {
                    self.person_log(mailbox)
                        .write(Level::Info, "new person: first sync queued");
                }
                self.enqueue(mailbox, Trigger::Start);
            }
            self.wake_poller.notify_one();
        }
        self.refresh_status();
    }

    /// Recounts persons and stored subscriptions (for `/healthz` and the
    /// metrics).
    pub fn refresh_status(&self) {
        let persons = self.persons.borrow().all.len();
        let (push, pull) = match self.tenant.db().list_subscriptions() {
            Ok(subs) => (
                subs.iter().filter(|s| s.mode == SyncMode::O365).count(),
                subs.iter().filter(|s| s.mode == SyncMode::O365Pull).count(),
            ),
            Err(e) => {
                self.log()
                    .write(Level::Warn, &format!("cannot read the subscriptions: {e}"));
                let s = self.status.get();
                (s.push, s.pull)
            }
        };
        self.status.set(Status {
            persons,
            push,
            pull,
        });
        self.ctx.metrics.set_subscriptions(&self.name, push, pull);
    }

    /// Disables the sync of `person` after `count` consecutive failures of
    /// `operation` (`Subscribe` or `GetEvents`), with the reason ROOMS shows
    /// (`person list`, `check`). Its subscription is ended by the
    /// subscription task's next pass.
    pub fn deactivate(
        &self,
        person: &str,
        operation: &str,
        key: &str,
        count: u32,
        code: &str,
        message: &str,
    ) {
        let reason = format!(
            "{operation} failed {count} times in a row ({key} = {count}); last error {code}: {message}"
        );
        let log = self.person_log(person);
        match self
            .tenant
            .db()
            .disable_person(person, &reason, jiff::Timestamp::now())
        {
            Ok(_) => {}
            Err(e) => {
                log.write(Level::Error, &format!("cannot disable the person: {e}"));
                return;
            }
        }
        self.ctx.metrics.deactivated(&self.name);
        log.write(
            Level::Error,
            &format!(
                "sync disabled: {reason}; fix the cause (`rooms-sync --tenant {} check --person {person}`) and enable the person again (`person enable {person}`)",
                self.tenant.dir().display()
            ),
        );
        {
            let mut persons = self.persons.borrow_mut();
            if let Some(p) = persons.all.get_mut(person) {
                p.sync_disabled = true;
                p.disabled_reason = Some(reason);
            }
            persons.generation += 1;
        }
        self.queue.borrow_mut().forget(person);
        self.publish_queue_depth();
        self.wake_poller.notify_one();
    }

    /// Counts one failure of `kind` for `person`; at the configured limit
    /// the person is disabled. Returns the new count.
    pub fn failed(&self, person: &str, kind: FailureKind, code: &str, message: &str) -> u32 {
        self.ctx.metrics.error(&self.name, code);
        let count =
            match self
                .tenant
                .db()
                .record_failure(person, kind, &format!("{code}: {message}"))
            {
                Ok(n) => n,
                Err(e) => {
                    self.person_log(person)
                        .write(Level::Error, &format!("cannot record a failure: {e}"));
                    return 0;
                }
            };
        let timing = self.tenant.settings().timing();
        let (operation, key, limit) = match kind {
            FailureKind::Subscribe => (
                "Subscribe",
                crate::settings::keys::FAILED_SUBSCRIBE_TILL_DEACTIVATE,
                timing.failed_subscribe_till_deactivate,
            ),
            FailureKind::GetEvents => (
                "GetEvents",
                crate::settings::keys::FAILED_GET_EVENTS_TILL_DEACTIVATE,
                timing.failed_get_events_till_deactivate,
            ),
        };
        if count >= limit {
            self.deactivate(person, operation, key, count, code, message);
        } else {
            self.person_log(person).write(
                Level::Warn,
                &format!("{operation} failed ({count} of {limit} before the sync is disabled): {code}: {message}"),
            );
        }
        count
    }

    async fn sync_worker(self: Rc<Self>) {
        let mut stop = self.stop_signal();
        let mut run = None;
        loop {
            if *stop.borrow_and_update() {
                break;
            }
            let next = self.queue.borrow_mut().pop();
            let Some(mailbox) = next else {
                tokio::select! {
                    _ = self.wake_workers.notified() => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
                continue;
            };
            self.publish_queue_depth();
            let person = self.persons.borrow().active(&mailbox).cloned();
            let ok = match person {
                Some(person) => {
                    let report = self.current_run(&mut run).run_person(&person).await;
                    self.sync_done(&report);
                    report.ok()
                }
                None => true,
            };
            if self.queue.borrow_mut().done(&mailbox, ok, Instant::now()) {
                self.wake_workers.notify_one();
            }
            self.publish_queue_depth();
        }
    }

    fn sync_done(&self, report: &RunReport) {
        self.ctx.metrics.sync_done(&self.name, report);
        let log = self.person_log(&report.email);
        let counts = |c: &crate::calls::Counts| {
            format!(
                "{} created, {} updated, {} cancelled",
                c.created, c.updated, c.cancelled
            )
        };
        let summary = format!(
            "sync: to ROOMS {}; to Exchange {}; {} conflicts, {} quarantined, {} EWS requests",
            counts(&report.to_rooms),
            counts(&report.to_exchange),
            report.conflicts,
            report.quarantined,
            report.ews_requests
        );
        if report.ok() {
            let moved =
                report.to_rooms != Default::default() || report.to_exchange != Default::default();
            log.write(if moved { Level::Info } else { Level::Debug }, &summary);
        } else {
            let problems: Vec<String> = report
                .errors
                .iter()
                .take(5)
                .map(|p| format!("{}: {}", p.code, p.message))
                .collect();
            log.write(
                Level::Warn,
                &format!("{summary}; failed: {}", problems.join("; ")),
            );
        }
    }

    async fn watcher(self: Rc<Self>) {
        let mut stop = self.stop_signal();
        let mut last_version = None;
        let mut last_refresh = Instant::now();
        let mut checked_at = Instant::now();
        let mut db_error_logged = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(ROOMS_CHECK) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let now = Instant::now();
            if now.duration_since(last_refresh) >= PERSONS_REFRESH {
                self.refresh_persons(false);
                last_refresh = now;
            }
            let version = match self.tenant.db().data_version() {
                Ok(v) => {
                    db_error_logged = false;
                    v
                }
                Err(e) => {
                    if !db_error_logged {
                        self.log()
                            .write(Level::Error, &format!("cannot check rooms.db: {e}"));
                        db_error_logged = true;
                    }
                    continue;
                }
            };
            let backoff_ended = self
                .queue
                .borrow()
                .next_backoff_end(checked_at)
                .is_some_and(|end| end <= now);
            if last_version != Some(version) || backoff_ended {
                last_version = Some(version);
                checked_at = now;
                self.enqueue_pending();
            }
        }
    }

    /// Queues every active person with pending ROOMS-side changes.
    fn enqueue_pending(&self) {
        let homes = match self.tenant.db().pending_homes() {
            Ok(homes) => homes,
            Err(e) => {
                self.log().write(
                    Level::Error,
                    &format!("cannot read the pending changes: {e}"),
                );
                return;
            }
        };
        for home in homes {
            if self.persons.borrow().active(&home).is_some() {
                self.enqueue(&home, Trigger::Rooms);
            }
        }
    }

    async fn webhook_worker(self: Rc<Self>, mut rx: mpsc::Receiver<WebhookJob>) {
        let mut stop = self.stop_signal();
        let mut run = None;
        loop {
            let job = tokio::select! {
                job = rx.recv() => job,
                _ = stop.wait_for(|s| *s) => None,
            };
            let Some(job) = job else { break };
            self.handle_webhook(&mut run, job).await;
        }
        // Answer what was accepted before the stop (no outgoing requests:
        // each is quick).
        rx.close();
        while let Ok(job) = rx.try_recv() {
            self.handle_webhook(&mut run, job).await;
        }
    }

    async fn handle_webhook(&self, run: &mut Option<(u64, TenantRun<'static>)>, job: WebhookJob) {
        let answer = self.current_run(run).handle_webhook(&job.request).await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(problem) => {
                self.ctx.metrics.error(&self.name, &problem.code);
                self.log().write(
                    Level::Error,
                    &format!("webhook: {}: {}", problem.code, problem.message),
                );
                let _ = job.reply.send(None);
                return;
            }
        };
        let _ = job.reply.send(Some(answer.response));
        match answer.event {
            WebhookEvent::Notified(sub, events) => self.notified(&sub, events),
            WebhookEvent::Unsubscribed(_) => {
                self.ctx.metrics.refused(Refusal::UnknownSubscription);
                self.log().write(
                    Level::Info,
                    "webhook: a notification of an unknown or inactive subscription was answered Unsubscribe",
                );
            }
            WebhookEvent::Refused(reason) => {
                self.ctx.metrics.refused(classify_refusal(&reason));
                self.log()
                    .write(Level::Info, &format!("webhook: refused: {reason}"));
            }
        }
    }

    /// A push notification answered OK: its subscription's watermark and
    /// heartbeat are stored, and item events queue the person's sync. The
    /// host checks again that the subscription is stored for that mailbox
    /// and that the person is an active push person.
    fn notified(&self, sub: &crate::calls::notifications::NewSubscription, events: u32) {
        let stored = match self.tenant.db().subscription_by_id(&sub.id) {
            Ok(stored) => stored,
            Err(e) => {
                self.log().write(
                    Level::Error,
                    &format!("webhook: cannot read the subscription: {e}"),
                );
                return;
            }
        };
        let Some(stored) = stored.filter(|s| s.mailbox.eq_ignore_ascii_case(&sub.mailbox)) else {
            self.log().write(
                Level::Debug,
                "webhook: a notification of a subscription that was just replaced",
            );
            return;
        };
        let log = self.person_log(&stored.mailbox);
        if let Err(e) = self.tenant.db().record_subscription_event(
            &sub.id,
            &sub.watermark,
            jiff::Timestamp::now(),
        ) {
            log.write(
                Level::Error,
                &format!("webhook: cannot store the watermark: {e}"),
            );
        }
        self.ctx.metrics.notification_received(&self.name);
        let active_push = self
            .persons
            .borrow()
            .active(&stored.mailbox)
            .is_some_and(|p| p.sync_mode == SyncMode::O365);
        if events > 0 && active_push {
            log.write(
                Level::Debug,
                &format!("notification with {events} item events: sync queued"),
            );
            self.enqueue(&stored.mailbox, Trigger::Exchange);
        } else if events == 0 {
            log.write(Level::Debug, "heartbeat");
        }
    }
}

/// The metric reason of a webhook post the component refused.
pub(crate) fn classify_refusal(reason: &str) -> Refusal {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("content type") || lower.contains("content-type") {
        Refusal::ContentType
    } else if lower.contains("method") {
        Refusal::Method
    } else if lower.contains("too large") || lower.contains("size") {
        Refusal::TooLarge
    } else {
        Refusal::Malformed
    }
}

/// The error a tenant with push persons and no callback URL logs.
pub(crate) fn no_callback_message() -> String {
    "push persons (O365) cannot be subscribed: no callback URL; start the service with --public-url https://HOST (the webhook is HOST/api/webhooks/exchange/<tenant>) or set ExchangePushNotificationEndpointUrl (NotificationEndpointUrl in appsettings.json); until then they sync every IntervallTaskInSeconds".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_refusals_map_to_metric_reasons() {
        assert_eq!(
            classify_refusal("content type text/plain is not SOAP"),
            Refusal::ContentType
        );
        assert_eq!(classify_refusal("method GET is not POST"), Refusal::Method);
        assert_eq!(
            classify_refusal("not a SendNotification message"),
            Refusal::Malformed
        );
    }
}
