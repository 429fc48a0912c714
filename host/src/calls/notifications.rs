//! The calls of the component's `notifications` export (`subscribe`,
//! `get-events`, `unsubscribe`, `handle-webhook`) on a [`TenantRun`], for the
//! service (`rooms-sync serve`, [`crate::service`]).
//!
//! Each goes through the run's private call path, so the instance handling
//! of [`crate::calls`] holds: one sandboxed instance per run, replaced after
//! a call that did not return; every call under a wall-clock deadline. The
//! batch calls take a shorter deadline from the settings
//! (`BatchSubscribeTimeoutInMiliseconds`, `BatchGetEventsTimeoutInMiliseconds`)
//! when it is below `--call-timeout-secs`; a batch stopped at its deadline
//! fails every person of the batch with the code `deadline` and a message
//! naming the setting.
//!
//! The component is the sandboxed party, so what it returns is checked
//! before the host stores it: a subscription must be for the mailbox that
//! was asked for, in the person's mode, with an id and watermark of sane
//! length and without control characters; an answer list of the wrong
//! length fails the persons without an answer. Every text passes
//! [`operator_text`].

use crate::settings::keys;
use std::time::Duration;

use crate::bindings::exports::rooms::exchange_sync::notifications as wit;
use crate::bindings::types;
use crate::capabilities::rooms::{subscription_to_wit, to_wit};
use crate::rooms_db::{Person, SubscriptionRecord, SyncMode};
use crate::text::operator_text;

use super::{MESSAGE_CAP, RunProblem, StopReport, TenantRun, problem_from_wit};

pub use wit::{HttpRequest, HttpResponse, SubscribeOptions};

/// The longest subscription id, watermark or affinity the host stores.
pub const MAX_SUBSCRIPTION_FIELD: usize = 4096;

/// A subscription the component made, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The new subscription.
    pub subscription: NewSubscription,
    /// False when the previous watermark could not be resumed: the person
    /// needs an incremental sync.
    pub resumed: bool,
}

/// A subscription as the component returned it, checked: what the host
/// stores (with its own timestamps and callback, [`NewSubscription::record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// The watched mailbox, lower-case.
    pub mailbox: String,
    /// Push or pull.
    pub mode: SyncMode,
    /// The EWS `SubscriptionId`.
    pub id: String,
    /// The watermark of the last acknowledged event.
    pub watermark: String,
    /// The `X-BackEndOverrideCookie` value.
    pub affinity: Option<String>,
}

impl NewSubscription {
    /// The record to store, made at `at` (also its last event) with the
    /// push `callback_url`.
    pub fn record(&self, callback_url: Option<&str>, at: jiff::Timestamp) -> SubscriptionRecord {
        SubscriptionRecord {
            mailbox: self.mailbox.clone(),
            mode: self.mode,
            id: self.id.clone(),
            watermark: self.watermark.clone(),
            affinity: self.affinity.clone(),
            callback_url: callback_url.map(str::to_string),
            created_at: at,
            last_event_at: at,
        }
    }
}

/// What one `GetEvents` poll found (the WIT `poll-outcome`, checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Events read and acknowledged: the subscription with its new
    /// watermark, and the number of item events.
    Events(NewSubscription, u32),
    /// Exchange no longer knows the subscription or its watermark:
    /// subscribe again and sync. Not a failure.
    Lost(RunProblem),
    /// The poll failed; counts toward `FailedGetEventsTillDeactivate`.
    Failed(RunProblem),
}

/// What a webhook request was (the WIT `webhook-event`, checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// A notification of a known, active push subscription: the
    /// subscription with its last watermark and the number of item events
    /// (zero for a heartbeat).
    Notified(NewSubscription, u32),
    /// A notification answered `Unsubscribe`, with the `SubscriptionId` it
    /// named (made safe).
    Unsubscribed(String),
    /// Not a notification; the component's reason (made safe, never the
    /// body).
    Refused(String),
}

/// The component's answer to one webhook request.
#[derive(Debug, Clone)]
pub struct WebhookAnswer {
    /// What to send back.
    pub response: HttpResponse,
    /// What it was.
    pub event: WebhookEvent,
}

fn mode_from_wit(mode: types::SyncMode) -> SyncMode {
    match mode {
        types::SyncMode::O365 => SyncMode::O365,
        types::SyncMode::O365Pull => SyncMode::O365Pull,
    }
}

fn invalid(what: &str) -> RunProblem {
    RunProblem {
        code: "component-error".into(),
        message: format!("the sync component returned {what}"),
        fix: Some(super::TRAP_FIX.into()),
    }
}

fn sane(field: &str) -> bool {
    !field.is_empty()
        && field.len() <= MAX_SUBSCRIPTION_FIELD
        && !field.chars().any(char::is_control)
}

/// Checks a subscription from the component; `mailbox` and `mode` are what
/// it must be for, when known.
fn checked(
    sub: types::Subscription,
    mailbox: Option<&str>,
    mode: Option<SyncMode>,
) -> Result<NewSubscription, RunProblem> {
    if let Some(mailbox) = mailbox
        && !sub.mailbox.eq_ignore_ascii_case(mailbox)
    {
        return Err(invalid(&format!(
            "a subscription for another mailbox ({}) than {mailbox}",
            operator_text(&sub.mailbox, 320)
        )));
    }
    let sub_mode = mode_from_wit(sub.mode);
    if let Some(mode) = mode
        && sub_mode != mode
    {
        return Err(invalid(&format!(
            "a {} subscription for a person in {} mode",
            sub_mode.as_str(),
            mode.as_str()
        )));
    }
    if !sane(&sub.id) || !sane(&sub.watermark) {
        return Err(invalid(
            "a subscription with an empty, overlong or unreadable id or watermark",
        ));
    }
    if let Some(affinity) = &sub.affinity
        && !sane(affinity)
    {
        return Err(invalid(
            "a subscription with an overlong or unreadable affinity",
        ));
    }
    Ok(NewSubscription {
        mailbox: sub.mailbox.to_ascii_lowercase(),
        mode: sub_mode,
        id: sub.id,
        watermark: sub.watermark,
        affinity: sub.affinity,
    })
}

/// The problem of every person of a batch that did not return; a deadline
/// names the batch setting instead of `--call-timeout-secs` when that was
/// the shorter one.
fn batch_stop(
    stop: StopReport,
    within: Duration,
    call_deadline: Duration,
    key: &str,
) -> RunProblem {
    if stop.code == "deadline" && within < call_deadline {
        return RunProblem {
            code: "deadline".into(),
            message: format!(
                "the batch was stopped after {} ms ({key})",
                within.as_millis()
            ),
            fix: Some(format!(
                "raise {key} if Exchange is slow to answer, or lower the batch size"
            )),
        };
    }
    RunProblem {
        code: stop.code.into(),
        message: stop.message,
        fix: Some(stop.fix),
    }
}

fn missing_answer() -> RunProblem {
    invalid("fewer answers than persons in the batch")
}

/// One answer per item of a batch of `len`: the component's answers in
/// order, `answer` making each (a missing one is `None`); a batch that did
/// not return gives every item `failed` of [`batch_stop`]'s problem.
fn spread<A, T>(
    result: Result<Vec<A>, StopReport>,
    len: usize,
    stopped: impl FnOnce(StopReport) -> RunProblem,
    failed: impl Fn(RunProblem) -> T,
    mut answer: impl FnMut(usize, Option<A>) -> T,
) -> Vec<T> {
    match result {
        Ok(answers) => {
            let mut answers = answers.into_iter();
            (0..len).map(|i| answer(i, answers.next())).collect()
        }
        Err(stop) => {
            let problem = stopped(stop);
            (0..len).map(|_| failed(problem.clone())).collect()
        }
    }
}

impl TenantRun<'_> {
    fn batch_deadline(&self, within: Duration) -> Duration {
        within.min(self.runtime.limits().call_deadline)
    }

    /// Subscribes `requests` (each person with its previous subscription)
    /// in one call bounded by `within` (`BatchSubscribeTimeoutInMiliseconds`).
    /// One answer per request, in order.
    pub async fn subscribe(
        &mut self,
        requests: &[(Person, Option<SubscriptionRecord>)],
        options: &SubscribeOptions,
        within: Duration,
    ) -> Vec<Result<Subscribed, RunProblem>> {
        let wit_requests: Vec<wit::SubscribeRequest> = requests
            .iter()
            .map(|(person, previous)| wit::SubscribeRequest {
                person: to_wit(person.clone()),
                previous: previous.clone().map(subscription_to_wit),
            })
            .collect();
        let deadline = self.batch_deadline(within);
        let label = format!("Subscribe batch of {}", requests.len());
        let outcome = self
            .call(
                &label,
                &emails(requests.iter().map(|r| &r.0)),
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_notifications()
                        .call_subscribe(store, &wit_requests, options)
                        .await
                },
            )
            .await;
        let call_deadline = self.runtime.limits().call_deadline;
        spread(
            outcome.result,
            requests.len(),
            |stop| batch_stop(stop, deadline, call_deadline, keys::BATCH_SUBSCRIBE_TIMEOUT),
            Err,
            |i, answer| {
                let person = &requests[i].0;
                match answer {
                    Some(Ok(s)) => {
                        checked(s.subscription, Some(&person.email), Some(person.sync_mode)).map(
                            |subscription| Subscribed {
                                subscription,
                                resumed: s.resumed,
                            },
                        )
                    }
                    Some(Err(problem)) => Err(problem_from_wit(problem)),
                    None => Err(missing_answer()),
                }
            },
        )
    }

    /// Polls `watches` (each pull subscription with its person) with
    /// `GetEvents` in one call bounded by `within`
    /// (`BatchGetEventsTimeoutInMiliseconds`). One answer per watch, in
    /// order; a batch that did not return fails every watch.
    pub async fn get_events(
        &mut self,
        watches: &[(Person, SubscriptionRecord)],
        within: Duration,
    ) -> Vec<Poll> {
        let wit_watches = to_watches(watches);
        let deadline = self.batch_deadline(within);
        let label = format!("GetEvents batch of {}", watches.len());
        let outcome = self
            .call(
                &label,
                &emails(watches.iter().map(|w| &w.0)),
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_notifications()
                        .call_get_events(store, &wit_watches)
                        .await
                },
            )
            .await;
        let call_deadline = self.runtime.limits().call_deadline;
        spread(
            outcome.result,
            watches.len(),
            |stop| {
                batch_stop(
                    stop,
                    deadline,
                    call_deadline,
                    keys::BATCH_GET_EVENTS_TIMEOUT,
                )
            },
            Poll::Failed,
            |i, answer| match answer {
                Some(wit::PollOutcome::Events((s, n))) => {
                    match checked(s, Some(&watches[i].0.email), Some(SyncMode::O365Pull)) {
                        Ok(s) => Poll::Events(s, n),
                        Err(problem) => Poll::Failed(problem),
                    }
                }
                Some(wit::PollOutcome::Lost(problem)) => Poll::Lost(problem_from_wit(problem)),
                Some(wit::PollOutcome::Failed(problem)) => Poll::Failed(problem_from_wit(problem)),
                None => Poll::Failed(missing_answer()),
            },
        )
    }

    /// Ends `watches` (pull subscriptions no longer wanted) in one call
    /// bounded by `within`. One answer per watch, in order.
    pub async fn unsubscribe(
        &mut self,
        watches: &[(Person, SubscriptionRecord)],
        within: Duration,
    ) -> Vec<Result<(), RunProblem>> {
        let wit_watches = to_watches(watches);
        let deadline = self.batch_deadline(within);
        let label = format!("Unsubscribe batch of {}", watches.len());
        let outcome = self
            .call(
                &label,
                &emails(watches.iter().map(|w| &w.0)),
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_notifications()
                        .call_unsubscribe(store, &wit_watches)
                        .await
                },
            )
            .await;
        let call_deadline = self.runtime.limits().call_deadline;
        spread(
            outcome.result,
            watches.len(),
            |stop| batch_stop(stop, deadline, call_deadline, keys::BATCH_SUBSCRIBE_TIMEOUT),
            Err,
            |_, answer| match answer {
                Some(Ok(())) => Ok(()),
                Some(Err(problem)) => Err(problem_from_wit(problem)),
                None => Err(missing_answer()),
            },
        )
    }

    /// Hands one webhook request to the component (`handle-webhook`) under
    /// the call deadline. The host has checked method and size before.
    pub async fn handle_webhook(
        &mut self,
        request: &HttpRequest,
    ) -> Result<WebhookAnswer, RunProblem> {
        let deadline = self.runtime.limits().call_deadline;
        let outcome = self
            .call("webhook", &[], deadline, async |plugin, store| {
                plugin
                    .rooms_exchange_sync_notifications()
                    .call_handle_webhook(store, request)
                    .await
            })
            .await;
        let answer = match outcome.result {
            Ok(answer) => answer,
            Err(stop) => {
                return Err(RunProblem {
                    code: stop.code.into(),
                    message: stop.message,
                    fix: Some(stop.fix),
                });
            }
        };
        let event = match answer.event {
            wit::WebhookEvent::Notified((s, n)) => match checked(s, None, Some(SyncMode::O365)) {
                Ok(s) => WebhookEvent::Notified(s, n),
                Err(problem) => WebhookEvent::Refused(problem.message),
            },
            wit::WebhookEvent::Unsubscribed(id) => {
                WebhookEvent::Unsubscribed(operator_text(&id, 200))
            }
            wit::WebhookEvent::Refused(reason) => {
                WebhookEvent::Refused(operator_text(&reason, MESSAGE_CAP.min(500)))
            }
        };
        Ok(WebhookAnswer {
            response: answer.response,
            event,
        })
    }
}

/// The addresses of a batch's persons (its log lines carry them).
fn emails<'p>(persons: impl Iterator<Item = &'p Person>) -> Vec<&'p str> {
    persons.map(|p| p.email.as_str()).collect()
}

fn to_watches(watches: &[(Person, SubscriptionRecord)]) -> Vec<wit::Watch> {
    watches
        .iter()
        .map(|(person, sub)| wit::Watch {
            person: to_wit(person.clone()),
            subscription: subscription_to_wit(sub.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(mailbox: &str, mode: types::SyncMode, id: &str) -> types::Subscription {
        types::Subscription {
            mailbox: mailbox.into(),
            mode,
            id: id.into(),
            watermark: "AQAAA==".into(),
            affinity: Some("cookie".into()),
        }
    }

    #[test]
    fn a_subscription_for_the_asked_mailbox_is_kept_lower_case() {
        let s = checked(
            sub("Adele@Contoso.com", types::SyncMode::O365Pull, "id-1"),
            Some("adele@contoso.com"),
            Some(SyncMode::O365Pull),
        )
        .unwrap();
        assert_eq!(s.mailbox, "adele@contoso.com");
        assert_eq!(s.mode, SyncMode::O365Pull);
        let at: jiff::Timestamp = "2026-05-04T09:00:00Z".parse().unwrap();
        let record = s.record(Some("https://x/api/webhooks/exchange/t"), at);
        assert_eq!((record.created_at, record.last_event_at), (at, at));
        assert_eq!(
            record.callback_url.as_deref(),
            Some("https://x/api/webhooks/exchange/t")
        );
    }

    #[test]
    fn a_subscription_of_another_mailbox_mode_or_shape_is_refused() {
        let other = checked(
            sub("megan@contoso.com", types::SyncMode::O365Pull, "id"),
            Some("adele@contoso.com"),
            None,
        )
        .unwrap_err();
        assert_eq!(other.code, "component-error");
        assert!(
            other.message.contains("megan@contoso.com"),
            "{}",
            other.message
        );
        assert!(
            checked(
                sub("a@x.com", types::SyncMode::O365, "id"),
                None,
                Some(SyncMode::O365Pull)
            )
            .is_err()
        );
        assert!(checked(sub("a@x.com", types::SyncMode::O365, ""), None, None).is_err());
        assert!(checked(sub("a@x.com", types::SyncMode::O365, "a\nb"), None, None).is_err());
        let long = "x".repeat(MAX_SUBSCRIPTION_FIELD + 1);
        assert!(checked(sub("a@x.com", types::SyncMode::O365, &long), None, None).is_err());
    }

    #[test]
    fn a_batch_deadline_names_the_setting() {
        let stop = StopReport {
            code: "deadline",
            message: "the sync component was stopped after its deadline of 2 s".into(),
            fix: "raise --call-timeout-secs".into(),
        };
        let p = batch_stop(
            stop,
            Duration::from_secs(2),
            Duration::from_secs(120),
            "BatchGetEventsTimeoutInMiliseconds",
        );
        assert_eq!(p.code, "deadline");
        assert!(
            p.message
                .contains("2000 ms (BatchGetEventsTimeoutInMiliseconds)"),
            "{}",
            p.message
        );
        assert!(
            p.fix
                .unwrap()
                .contains("BatchGetEventsTimeoutInMiliseconds")
        );
    }
}
