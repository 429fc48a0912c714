//! The subscription task of a tenant: keeps every active person's change
//! subscription and sweeps `GetEvents` over the pull ones.
//!
//! Each pass ([`maintain`]):
//!
//! - **Ends what is no longer wanted.** Pull subscriptions of persons that
//!   are gone, disabled or moved to push are ended with `Unsubscribe` (in
//!   batches of `BatchSubscribeSize`) and deleted; push subscriptions of
//!   such persons are deleted, and their next notification is answered
//!   `Unsubscribe`.
//! - **Subscribes what is missing or due**, in batches of
//!   `BatchSubscribeSize`, each call bounded by
//!   `BatchSubscribeTimeoutInMiliseconds`. Pull: no subscription, a lost
//!   one, one that expired (no event for `SubscriptionTimeoutInMinutes`, as
//!   after a long stop), or one older than `IntervallSubscribeInMinutes`; the previous
//!   subscription is passed so the component resumes its watermark, and a
//!   subscription that could not resume is followed by an incremental sync.
//!   Push: see [`super::push`] (callback, heartbeats, renewal); a push
//!   subscription is always followed by an incremental sync. A failed
//!   `Subscribe` counts toward `FailedSubscribeTillDeactivate` and is tried
//!   again after `IntervallTaskInSeconds`.
//!
//! Every `IntervallTaskInSeconds` ([`sweep`]): `GetEvents` over all pull
//! subscriptions in batches of `BatchGetEventsSize`, each call bounded by
//! `BatchGetEventsTimeoutInMiliseconds`, sleeping
//! `BatchGetEventsSleepBetweenBatchesInMiliseconds` between batches. Item
//! events queue the person's sync; a lost subscription (expired, unknown,
//! bad watermark) is subscribed again at once with a sync (not a failure);
//! a failure counts toward `FailedGetEventsTillDeactivate`. Push persons
//! without a callback URL are synced on the same interval instead.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::calls::TenantRun;
use crate::calls::notifications::{Poll, SubscribeOptions};
use crate::log::Level;
use crate::rooms_db::{FailureKind, Person, SubscriptionRecord, SyncMode};
use crate::settings::Timing;

use super::push::{Renewal, elapsed, renewal_due};
use super::scheduler::TenantService;
use super::sync_queue::Trigger;

/// The longest the task sleeps between passes (minute-based due times are
/// checked this often).
const PASS_TICK: Duration = Duration::from_secs(1);

/// Why a person is subscribed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    New,
    Lost,
    Expired,
    Interval,
    Push(Renewal),
}

/// The task: passes and sweeps until the tenant stops.
pub(crate) async fn subscriptions(svc: Rc<TenantService>) {
    let mut stop = svc.stop_signal();
    let mut run = None;
    let interval =
        Duration::from_secs(svc.tenant.settings().timing().intervall_task_seconds.into());
    let mut next_sweep = Instant::now() + interval;
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        maintain(&svc, &mut run).await;
        if svc.stopping() {
            break;
        }
        if Instant::now() >= next_sweep {
            let started = Instant::now();
            sweep(&svc, &mut run).await;
            fallback_push(&svc);
            next_sweep = (started + interval).max(Instant::now() + Duration::from_millis(100));
            if !svc.force_resubscribe.borrow().is_empty() {
                continue;
            }
        }
        let wake_at = next_sweep.min(Instant::now() + PASS_TICK);
        tokio::select! {
            _ = tokio::time::sleep_until(wake_at.into()) => {}
            _ = svc.wake_poller.notified() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// Push persons without a callback URL sync on the interval.
fn fallback_push(svc: &TenantService) {
    if svc.callback.is_some() {
        return;
    }
    let push: Vec<String> = svc
        .persons
        .borrow()
        .active_list()
        .into_iter()
        .filter(|p| p.sync_mode == SyncMode::O365)
        .map(|p| p.email)
        .collect();
    for mailbox in push {
        svc.enqueue(&mailbox, Trigger::Exchange);
    }
}

/// A person record for a subscription whose person is gone: the tenant's
/// EWS URL, so `Unsubscribe` has somewhere to go.
fn stand_in(svc: &TenantService, sub: &SubscriptionRecord) -> Option<Person> {
    Person::new(&sub.mailbox, sub.mode)
        .and_then(|p| p.with_sync_url(svc.tenant.settings().ews_url()))
        .ok()
}

/// One pass: end unwanted subscriptions, make missing or due ones.
pub(crate) async fn maintain(svc: &TenantService, run: &mut Option<(u64, TenantRun<'static>)>) {
    let subs = match svc.tenant.db().list_subscriptions() {
        Ok(subs) => subs,
        Err(e) => {
            svc.log()
                .write(Level::Error, &format!("cannot read the subscriptions: {e}"));
            return;
        }
    };
    let timing = *svc.tenant.settings().timing();
    let minute = svc.ctx.minute;
    let now = jiff::Timestamp::now();
    let instant = Instant::now();
    let persons = svc.persons.borrow().all.clone();

    // What is no longer wanted.
    let mut unsubscribe: Vec<(Person, SubscriptionRecord)> = Vec::new();
    let mut forget: Vec<String> = Vec::new();
    for sub in &subs {
        let wanted = persons
            .get(&sub.mailbox)
            .is_some_and(|p| !p.sync_disabled && p.sync_mode == sub.mode);
        if wanted {
            continue;
        }
        match (sub.mode, persons.get(&sub.mailbox)) {
            (SyncMode::O365Pull, Some(p)) => unsubscribe.push((p.clone(), sub.clone())),
            (SyncMode::O365Pull, None) => match stand_in(svc, sub) {
                Some(p) => unsubscribe.push((p, sub.clone())),
                None => forget.push(sub.mailbox.clone()),
            },
            (SyncMode::O365, _) => forget.push(sub.mailbox.clone()),
        }
    }
    let batch = timing.batch_subscribe_size.max(1) as usize;
    let within = Duration::from_millis(timing.batch_subscribe_timeout_ms.into());
    for chunk in unsubscribe.chunks(batch) {
        let answers = svc.current_run(run).unsubscribe(chunk, within).await;
        for ((person, sub), answer) in chunk.iter().zip(answers) {
            let log = svc.person_log(&person.email);
            match answer {
                Ok(()) => log.write(Level::Info, "pull subscription ended"),
                Err(p) => log.write(
                    Level::Info,
                    &format!(
                        "Unsubscribe failed ({}: {}); the subscription is forgotten and expires at Exchange",
                        p.code, p.message
                    ),
                ),
            }
            forget.push(sub.mailbox.clone());
        }
    }
    for mailbox in &forget {
        if let Err(e) = svc.tenant.db().delete_subscription(mailbox) {
            svc.person_log(mailbox).write(
                Level::Error,
                &format!("cannot delete the subscription: {e}"),
            );
        }
    }

    // What is missing or due.
    let stored: BTreeMap<&str, &SubscriptionRecord> = subs
        .iter()
        .filter(|s| !forget.contains(&s.mailbox))
        .map(|s| (s.mailbox.as_str(), s))
        .collect();
    let mut due: Vec<(Person, Option<SubscriptionRecord>, Why)> = Vec::new();
    for person in persons.values().filter(|p| !p.sync_disabled) {
        if svc
            .subscribe_retry
            .borrow()
            .get(&person.email)
            .is_some_and(|t| instant < *t)
        {
            continue;
        }
        let current = stored
            .get(person.email.as_str())
            .filter(|s| s.mode == person.sync_mode)
            .map(|s| (*s).clone());
        let why = match (person.sync_mode, &current) {
            (SyncMode::O365Pull, None) => Some(Why::New),
            (SyncMode::O365Pull, Some(sub)) => {
                if svc.force_resubscribe.borrow().contains(&person.email) {
                    Some(Why::Lost)
                } else if elapsed(sub.last_event_at, now)
                    >= minute * timing.subscription_timeout_minutes
                {
                    // Exchange dropped it (no GetEvents for its timeout, e.g.
                    // while the service was stopped): no poll is wasted on it.
                    Some(Why::Expired)
                } else if elapsed(sub.created_at, now)
                    >= minute * timing.intervall_subscribe_minutes
                {
                    Some(Why::Interval)
                } else {
                    None
                }
            }
            (SyncMode::O365, _) if svc.callback.is_none() => None,
            (SyncMode::O365, None) => Some(Why::New),
            (SyncMode::O365, Some(sub)) => renewal_due(
                sub,
                svc.callback.as_deref().unwrap_or_default(),
                timing.status_frequency_minutes,
                timing.renewal_threshold_minutes,
                minute,
                now,
            )
            .map(Why::Push),
        };
        if let Some(why) = why {
            due.push((person.clone(), current, why));
        }
    }
    if due.is_empty() {
        if !forget.is_empty() {
            svc.refresh_status();
        }
        return;
    }
    let options = subscribe_options(&timing, svc.callback.clone());
    let retry_after = Duration::from_secs(timing.intervall_task_seconds.into());
    for chunk in due.chunks(batch) {
        if svc.stopping() {
            break;
        }
        let requests: Vec<(Person, Option<SubscriptionRecord>)> = chunk
            .iter()
            .map(|(p, previous, _)| (p.clone(), previous.clone()))
            .collect();
        let answers = svc
            .current_run(run)
            .subscribe(&requests, &options, within)
            .await;
        let now = jiff::Timestamp::now();
        for ((person, _, why), answer) in chunk.iter().zip(answers) {
            svc.force_resubscribe.borrow_mut().remove(&person.email);
            let log = svc.person_log(&person.email);
            match answer {
                Ok(subscribed) => {
                    let push = person.sync_mode == SyncMode::O365;
                    let record = subscribed
                        .subscription
                        .record(if push { svc.callback.as_deref() } else { None }, now);
                    if let Err(e) = svc.tenant.db().save_subscription(&record) {
                        log.write(Level::Error, &format!("cannot store the subscription: {e}"));
                        continue;
                    }
                    let _ = svc
                        .tenant
                        .db()
                        .clear_failures(&person.email, FailureKind::Subscribe);
                    svc.subscribe_retry.borrow_mut().remove(&person.email);
                    let sync = push || !subscribed.resumed;
                    log.write(
                        Level::Info,
                        &format!(
                            "{} subscription made ({}){}",
                            if push { "push" } else { "pull" },
                            describe(*why),
                            if subscribed.resumed {
                                ", watermark resumed"
                            } else {
                                ""
                            }
                        ),
                    );
                    if sync {
                        svc.enqueue(&person.email, Trigger::Exchange);
                    }
                }
                Err(problem) => {
                    svc.subscribe_retry
                        .borrow_mut()
                        .insert(person.email.clone(), Instant::now() + retry_after);
                    svc.failed(
                        &person.email,
                        FailureKind::Subscribe,
                        &problem.code,
                        &problem.message,
                    );
                }
            }
        }
    }
    svc.refresh_status();
}

/// How new subscriptions are made: `SubscriptionTimeoutInMinutes` (pull),
/// the callback and `StatusFrequencyMinutes` (push).
fn subscribe_options(timing: &Timing, callback: Option<String>) -> SubscribeOptions {
    SubscribeOptions {
        timeout_minutes: timing.subscription_timeout_minutes,
        callback_url: callback,
        status_frequency_minutes: timing.status_frequency_minutes,
    }
}

fn describe(why: Why) -> &'static str {
    match why {
        Why::New => "none stored",
        Why::Lost => "the previous one was lost",
        Why::Expired => "the previous one expired (SubscriptionTimeoutInMinutes)",
        Why::Interval => "IntervallSubscribeInMinutes reached",
        Why::Push(Renewal::HeartbeatsStopped) => "heartbeats stopped",
        Why::Push(Renewal::Age) => "RenewalThresholdMinutes reached",
        Why::Push(Renewal::CallbackChanged) => "the callback URL changed",
    }
}

/// One `GetEvents` sweep over the pull subscriptions of active pull persons.
pub(crate) async fn sweep(svc: &TenantService, run: &mut Option<(u64, TenantRun<'static>)>) {
    let started = Instant::now();
    let subs = match svc.tenant.db().list_subscriptions() {
        Ok(subs) => subs,
        Err(e) => {
            svc.log()
                .write(Level::Error, &format!("cannot read the subscriptions: {e}"));
            return;
        }
    };
    let watches: Vec<(Person, SubscriptionRecord)> = {
        let persons = svc.persons.borrow();
        subs.into_iter()
            .filter(|s| s.mode == SyncMode::O365Pull)
            .filter_map(|s| {
                persons
                    .active(&s.mailbox)
                    .filter(|p| p.sync_mode == SyncMode::O365Pull)
                    .map(|p| (p.clone(), s))
            })
            .collect()
    };
    if watches.is_empty() {
        return;
    }
    let timing = *svc.tenant.settings().timing();
    let batch = timing.batch_get_events_size.max(1) as usize;
    let within = Duration::from_millis(timing.batch_get_events_timeout_ms.into());
    let pause = Duration::from_millis(timing.batch_get_events_sleep_between_batches_ms.into());
    let mut stop = svc.stop_signal();
    let chunks: Vec<&[(Person, SubscriptionRecord)]> = watches.chunks(batch).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        if svc.stopping() {
            break;
        }
        if i > 0 && !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        let outcomes = svc.current_run(run).get_events(chunk, within).await;
        for ((person, stored), outcome) in chunk.iter().zip(outcomes) {
            polled(svc, person, stored, outcome);
        }
    }
    svc.ctx.metrics.sweep_done(&svc.name, started.elapsed());
}

/// Stores what one poll found and acts on it.
fn polled(svc: &TenantService, person: &Person, stored: &SubscriptionRecord, outcome: Poll) {
    let log = svc.person_log(&person.email);
    let db = svc.tenant.db();
    match outcome {
        Poll::Events(sub, events) => {
            let now = jiff::Timestamp::now();
            let result = if sub.id == stored.id && sub.affinity == stored.affinity {
                db.record_subscription_event(&sub.id, &sub.watermark, now)
                    .map(|_| ())
            } else {
                let mut record = sub.record(None, now);
                record.created_at = stored.created_at;
                db.save_subscription(&record)
            };
            if let Err(e) = result {
                log.write(Level::Error, &format!("cannot store the watermark: {e}"));
            }
            let _ = db.clear_failures(&person.email, FailureKind::GetEvents);
            if events > 0 {
                log.write(
                    Level::Debug,
                    &format!("GetEvents: {events} item events: sync queued"),
                );
                svc.enqueue(&person.email, Trigger::Exchange);
            }
        }
        Poll::Lost(problem) => {
            log.write(
                Level::Info,
                &format!(
                    "the pull subscription was lost ({}: {}); subscribing again and syncing",
                    problem.code, problem.message
                ),
            );
            svc.force_resubscribe
                .borrow_mut()
                .insert(person.email.clone());
            svc.subscribe_retry.borrow_mut().remove(&person.email);
            svc.enqueue(&person.email, Trigger::Exchange);
        }
        Poll::Failed(problem) => {
            svc.failed(
                &person.email,
                FailureKind::GetEvents,
                &problem.code,
                &problem.message,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AppSettings, TenantInputs, TenantSettings};
    use std::collections::HashMap;

    fn settings(text: &str) -> TenantSettings {
        let raw =
            AppSettings::parse(std::path::Path::new("RoomsAppSettings.config"), text).unwrap();
        TenantSettings::from_raw(
            &raw,
            &HashMap::<String, String>::new(),
            &TenantInputs::default(),
        )
        .unwrap()
    }

    const BASE: &str = r#"<add key="ExchangeTenantId" value="72f988bf-86f1-41af-91ab-2d7cd011db47"/>
  <add key="ExchangeAppId" value="5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70"/>
  <add key="ExchangeClientSecret" value="s"/>"#;

    #[test]
    fn the_service_reads_the_original_keys_and_defaults() {
        let defaults = settings(&format!("<RoomsAppSettings>{BASE}</RoomsAppSettings>"));
        let t = defaults.timing();
        assert_eq!(
            (
                t.batch_get_events_size,
                t.batch_get_events_sleep_between_batches_ms,
                t.batch_get_events_timeout_ms,
                t.batch_subscribe_size,
                t.batch_subscribe_timeout_ms,
                t.failed_get_events_till_deactivate,
                t.failed_subscribe_till_deactivate,
                t.intervall_subscribe_minutes,
                t.intervall_task_seconds,
                t.subscription_timeout_minutes,
                t.status_frequency_minutes,
                t.renewal_threshold_minutes,
            ),
            (100, 0, 100_000, 100, 10_000, 10, 10, 20, 30, 720, 30, 40)
        );
        let options = subscribe_options(t, None);
        assert_eq!(
            (
                options.timeout_minutes,
                options.status_frequency_minutes,
                options.callback_url
            ),
            (720, 30, None)
        );
        let tuned = settings(&format!(
            r#"<RoomsAppSettings>{BASE}
  <add key="SubscriptionTimeoutInMinutes" value="60"/>
  <add key="StatusFrequencyMinutes" value="5"/>
  <add key="ExchangePushNotificationEndpointUrl" value="https://rooms.example.com/api/webhooks/exchange"/>
</RoomsAppSettings>"#
        ));
        let callback = super::super::push::callback_url(
            tuned.push_notification_endpoint_url(),
            Some("https://ignored.example.com"),
            "contoso",
        );
        let options = subscribe_options(tuned.timing(), callback);
        assert_eq!(
            (options.timeout_minutes, options.status_frequency_minutes),
            (60, 5)
        );
        assert_eq!(
            options.callback_url.as_deref(),
            Some("https://rooms.example.com/api/webhooks/exchange/contoso")
        );
    }
}
