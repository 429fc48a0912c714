//! The component edge (wasm32 only): the generated WIT bindings, the `sync`
//! and `notifications` exports, and the one place where internal values
//! become WIT values ([`sync_error`], [`check_result`], [`sync_report`],
//! [`sync_problem`], the notification types), after their final pass
//! through `Check::sanitized`, `Error::sanitized` and [`sanitized_problem`].
//! The booking types cross in `wit_booking`. The `notifications` export is
//! thin: it converts and calls [`crate::notifications`].
//!
//! The `with:` map reuses the raw `wasip2` bindings for `wasi:http`,
//! `wasi:io` and `wasi:clocks`, so `wasi_platform` can drive HTTP with the
//! same types; `wasi:config` has no crate and is generated here.

use crate::diagnostics::{self, Check};
use crate::error::Error;
use crate::notifications::{self, PollOutcome, WebhookEvent};
use crate::platform::{CertificateError, Subscription, SyncMode, TransportKind};
use crate::safe_text;
use crate::sync::{Counts, Problem, Report};
use crate::wasi_platform::WasiPlatform;

/// The generated bindings of the `plugin` world.
#[allow(missing_docs, clippy::all)]
pub(crate) mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        with: {
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:config/store@0.2.0-rc.1": generate,
        },
    });
}

use bindings::exports::rooms::exchange_sync::notifications as wit_notifications;
use bindings::exports::rooms::exchange_sync::sync::{self as wit_sync, Guest};
use bindings::rooms::exchange_sync::rooms::Person as WitPerson;
use bindings::rooms::exchange_sync::types as wit;

/// The exported component.
struct Component;

impl Guest for Component {
    fn check_person(person: WitPerson) -> Result<Vec<wit::CheckResult>, wit::SyncError> {
        // Everything handed out passes `sanitized` first: server text in it is
        // made safe to show (see `safe_text`).
        let person = crate::wasi_platform::person(person);
        let checks = diagnostics::check(&mut WasiPlatform, &person);
        checks
            .map(|c| c.into_iter().map(|c| check_result(c.sanitized())).collect())
            .map_err(|e| sync_error(&e.sanitized()))
    }

    fn check_subscription(
        person: WitPerson,
        callback_url: Option<String>,
        wait_secs: u32,
    ) -> wit::CheckResult {
        let person = crate::wasi_platform::person(person);
        let check = diagnostics::check_subscription(
            &mut WasiPlatform,
            &person,
            callback_url.as_deref(),
            wait_secs,
        );
        check_result(check.sanitized())
    }

    fn diff_person(
        person: WitPerson,
        from: i64,
        to: i64,
    ) -> Result<Vec<wit_sync::SyncDifference>, wit_sync::SyncProblem> {
        let person = crate::wasi_platform::person(person);
        crate::sync::diff::diff(&mut WasiPlatform, &person, from, to)
            .map(|found| found.into_iter().map(sync_difference).collect())
            .map_err(|p| sync_problem(sanitized_problem(p)))
    }

    fn resolve_difference(
        person: WitPerson,
        target: String,
        resolution: wit_sync::Resolution,
    ) -> Result<(), wit_sync::SyncProblem> {
        let person = crate::wasi_platform::person(person);
        let resolution = match resolution {
            wit_sync::Resolution::UseExchange => crate::sync::resolve::Resolution::UseExchange,
            wit_sync::Resolution::UseRooms => crate::sync::resolve::Resolution::UseRooms,
        };
        crate::sync::resolve::resolve(&mut WasiPlatform, &person, &target, resolution)
            .map_err(|p| sync_problem(sanitized_problem(p)))
    }

    fn run_person(person: WitPerson) -> wit_sync::SyncReport {
        // As for checks: every problem handed out is sanitized first.
        let person = crate::wasi_platform::person(person);
        sync_report(crate::sync::run(&mut WasiPlatform, &person))
    }
}

impl wit_notifications::Guest for Component {
    fn subscribe(
        requests: Vec<wit_notifications::SubscribeRequest>,
        options: wit_notifications::SubscribeOptions,
    ) -> Vec<Result<wit_notifications::Subscribed, wit_sync::SyncProblem>> {
        let requests: Vec<notifications::SubscribeRequest> = requests
            .into_iter()
            .map(|r| notifications::SubscribeRequest {
                person: crate::wasi_platform::person(r.person),
                previous: r.previous.map(crate::wasi_platform::subscription),
            })
            .collect();
        let options = notifications::SubscribeOptions {
            timeout_minutes: options.timeout_minutes,
            callback_url: options.callback_url,
            status_frequency_minutes: options.status_frequency_minutes,
        };
        notifications::subscribe(&mut WasiPlatform, &requests, &options)
            .into_iter()
            .map(|answer| {
                answer
                    .map(|s| wit_notifications::Subscribed {
                        subscription: wit_subscription(s.subscription),
                        resumed: s.resumed,
                    })
                    .map_err(|p| sync_problem(sanitized_problem(p)))
            })
            .collect()
    }

    fn get_events(watches: Vec<wit_notifications::Watch>) -> Vec<wit_notifications::PollOutcome> {
        let watches = watches.into_iter().map(watch).collect::<Vec<_>>();
        notifications::get_events(&mut WasiPlatform, &watches)
            .into_iter()
            .map(|outcome| match outcome {
                PollOutcome::Events(s, count) => {
                    wit_notifications::PollOutcome::Events((wit_subscription(s), count))
                }
                PollOutcome::Lost(p) => {
                    wit_notifications::PollOutcome::Lost(sync_problem(sanitized_problem(p)))
                }
                PollOutcome::Failed(p) => {
                    wit_notifications::PollOutcome::Failed(sync_problem(sanitized_problem(p)))
                }
            })
            .collect()
    }

    fn unsubscribe(
        watches: Vec<wit_notifications::Watch>,
    ) -> Vec<Result<(), wit_sync::SyncProblem>> {
        let watches = watches.into_iter().map(watch).collect::<Vec<_>>();
        notifications::unsubscribe(&mut WasiPlatform, &watches)
            .into_iter()
            .map(|answer| answer.map_err(|p| sync_problem(sanitized_problem(p))))
            .collect()
    }

    fn handle_webhook(
        request: wit_notifications::HttpRequest,
    ) -> wit_notifications::WebhookOutcome {
        let request = notifications::WebhookRequest {
            method: request.method,
            path: request.path,
            headers: request.headers,
            body: request.body,
        };
        let outcome = notifications::handle_webhook(&WasiPlatform, &request);
        wit_notifications::WebhookOutcome {
            response: wit_notifications::HttpResponse {
                status: outcome.response.status,
                headers: outcome.response.headers,
                body: outcome.response.body,
            },
            event: match outcome.event {
                WebhookEvent::Notified(s, count) => {
                    wit_notifications::WebhookEvent::Notified((wit_subscription(s), count))
                }
                WebhookEvent::Unsubscribed(id) => {
                    wit_notifications::WebhookEvent::Unsubscribed(safe_text::message_owned(id))
                }
                WebhookEvent::Refused(reason) => {
                    wit_notifications::WebhookEvent::Refused(safe_text::message_owned(reason))
                }
            },
        }
    }
}

bindings::export!(Component with_types_in bindings);

/// A WIT watch as the plain [`notifications::Watch`].
fn watch(w: wit_notifications::Watch) -> notifications::Watch {
    notifications::Watch {
        person: crate::wasi_platform::person(w.person),
        subscription: crate::wasi_platform::subscription(w.subscription),
    }
}

/// A subscription as the WIT `subscription`.
fn wit_subscription(s: Subscription) -> wit::Subscription {
    wit::Subscription {
        mailbox: s.mailbox,
        mode: match s.mode {
            SyncMode::O365 => wit::SyncMode::O365,
            SyncMode::O365Pull => wit::SyncMode::O365Pull,
        },
        id: s.id,
        watermark: s.watermark,
        affinity: s.affinity,
    }
}

/// A check as the WIT `check-result`; the caller has sanitized it.
fn check_result(check: Check) -> wit::CheckResult {
    wit::CheckResult {
        name: check.name.to_owned(),
        ok: check.ok,
        message: check.message,
        fix: check.fix,
        cause: check.cause.as_ref().map(sync_error),
    }
}

/// A report as the WIT `sync-report`, each problem sanitized on the way.
fn sync_report(report: Report) -> wit_sync::SyncReport {
    wit_sync::SyncReport {
        to_rooms: direction_counts(report.to_rooms),
        to_exchange: direction_counts(report.to_exchange),
        conflicts: report.conflicts,
        quarantined: report.quarantined,
        ews_requests: report.ews_requests,
        backoff_ms: report.backoff_ms,
        completed: report.completed,
        errors: report
            .errors
            .into_iter()
            .map(|p| sync_problem(sanitized_problem(p)))
            .collect(),
    }
}

/// A difference as the WIT `sync-difference`; server text (subjects, field
/// values) is made safe on the way.
fn sync_difference(d: crate::sync::diff::Difference) -> wit_sync::SyncDifference {
    use crate::sync::diff::Kind;
    wit_sync::SyncDifference {
        kind: match d.kind {
            Kind::MissingInExchange => wit_sync::DifferenceKind::MissingInExchange,
            Kind::MissingInRooms => wit_sync::DifferenceKind::MissingInRooms,
            Kind::FieldsDiffer => wit_sync::DifferenceKind::FieldsDiffer,
        },
        booking: d.booking,
        state: d.state.map(Into::into),
        revision: d.revision,
        item_id: d.item_id,
        change_key: d.change_key,
        uid: d.uid,
        subject: safe_text::message_owned(d.subject),
        start: d.start,
        end: d.end,
        occurrence: d.occurrence,
        fields: d
            .fields
            .into_iter()
            .map(|f| {
                let f = crate::booking::FieldDifference {
                    field: f.field,
                    rooms: safe_text::message_owned(f.rooms),
                    exchange: safe_text::message_owned(f.exchange),
                };
                (&f).into()
            })
            .collect(),
    }
}

fn direction_counts(counts: Counts) -> wit_sync::DirectionCounts {
    wit_sync::DirectionCounts {
        created: counts.created,
        updated: counts.updated,
        cancelled: counts.cancelled,
    }
}

/// `problem` with every text made safe to show, as `Check::sanitized` does
/// for a check: a code, message or fix may quote server text (an EWS
/// response code, a fault text, a subject), and so may the cause.
fn sanitized_problem(problem: Problem) -> Problem {
    Problem {
        code: safe_text::message_owned(problem.code),
        message: safe_text::message_owned(problem.message),
        fix: problem.fix.map(safe_text::message_owned),
        cause: problem.cause.as_ref().map(Error::sanitized),
    }
}

/// A problem as the WIT `sync-problem`; the caller has sanitized it.
fn sync_problem(problem: Problem) -> wit_sync::SyncProblem {
    wit_sync::SyncProblem {
        code: problem.code,
        message: problem.message,
        fix: problem.fix,
        cause: problem.cause.as_ref().map(sync_error),
    }
}

/// The WIT `sync-error` for an internal error: the only such mapping. The
/// caller has sanitized the error.
fn sync_error(error: &Error) -> wit::SyncError {
    match error {
        Error::Configuration(p) => wit::SyncError::Configuration(wit::ConfigProblem {
            key: p.key.clone(),
            problem: p.problem.clone(),
        }),
        Error::UnknownPerson(email) => wit::SyncError::UnknownPerson(email.clone()),
        Error::Certificate(e) => wit::SyncError::Certificate(match e {
            CertificateError::NotFound(t) => wit::CertificateError::NotFound(t.clone()),
            CertificateError::KeyNotReadable(r) => wit::CertificateError::KeyNotReadable(r.clone()),
            CertificateError::Expired(d) => wit::CertificateError::Expired(d.clone()),
        }),
        Error::SignIn(f) => wit::SyncError::SignIn(wit::AuthFailure {
            error: f.error.clone(),
            aadsts: f.aadsts.clone(),
            message: f.message.clone(),
        }),
        Error::AccessDenied { failure, .. } => wit::SyncError::AccessDenied(ews_failure(failure)),
        Error::InsufficientRights {
            mailbox,
            folder,
            missing,
            ..
        } => wit::SyncError::InsufficientRights(wit::RightsShortfall {
            mailbox: mailbox.clone(),
            folder: folder.clone(),
            missing: missing.clone(),
        }),
        Error::MailboxNotFound(failure) => wit::SyncError::MailboxNotFound(ews_failure(failure)),
        Error::EwsBlocked { mailbox, url, .. } => wit::SyncError::EwsBlocked(wit::EwsBlocked {
            mailbox: mailbox.clone(),
            url: url.clone(),
        }),
        Error::Throttled {
            response_code,
            retry_after_ms,
        } => wit::SyncError::Throttled(wit::Throttled {
            response_code: response_code.clone(),
            retry_after_ms: *retry_after_ms,
        }),
        Error::Protocol { message, .. } => wit::SyncError::Protocol(message.clone()),
        Error::Transport(t) => wit::SyncError::Transport(wit::TransportFailure {
            kind: match t.kind {
                TransportKind::Denied => wit::TransportKind::Denied,
                TransportKind::Dns => wit::TransportKind::Dns,
                TransportKind::Connection => wit::TransportKind::Connection,
                TransportKind::Timeout => wit::TransportKind::Timeout,
                TransportKind::Tls => wit::TransportKind::Tls,
                TransportKind::ResponseTooLarge => wit::TransportKind::ResponseTooLarge,
                TransportKind::Redirect => wit::TransportKind::Redirect,
                TransportKind::Other => wit::TransportKind::Other,
            },
            detail: t.detail.clone(),
        }),
    }
}

fn ews_failure(f: &crate::error::EwsFailure) -> wit::EwsFailure {
    wit::EwsFailure {
        response_code: f.response_code.clone(),
        message: f.message.clone(),
        mailbox: f.mailbox.clone(),
    }
}
