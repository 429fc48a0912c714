//! The fifth check of `rooms-sync check`, `subscription`: the host's side.
//!
//! [`calls::check_each`](super::check_each) asks the component for the four
//! checks of `check-person` first; when they are all green it calls the
//! component's `check-subscription` export ([`TenantRun::check_subscription`])
//! with the push callback URL the service would use ([`callback_url`]: the
//! tenant's `ExchangePushNotificationEndpointUrl`, or `--public-url` +
//! `/api/webhooks/exchange/<tenant directory name>`, built by the service's
//! own [`crate::service::push::callback_url`]) and `--subscription-wait-secs`.
//! After a red check it adds a red `subscription` check "not run: <the red
//! check> failed", as the component does for its own checks
//! ([`not_run`]). The call's deadline is the usual one plus the wait, so a
//! long `--subscription-wait-secs` is not cut short by `--call-timeout-secs`.
//!
//! A skipped check (a push person without a callback URL) is green with a
//! message that starts `skipped:`; the JSON keeps `ok` true/false only.

use std::time::Duration;

use super::{CheckReport, MESSAGE_CAP, TenantRun, cause_code};
use crate::capabilities::rooms::to_wit;
use crate::rooms_db::Person;
use crate::tenant::Tenant;
use crate::text::operator_text;

/// The check's name.
pub const SUBSCRIPTION: &str = "subscription";

/// The default of `--subscription-wait-secs`: how long `check` waits for a
/// push notification to reach the running service.
pub const DEFAULT_WAIT_SECS: u32 = 30;

/// How `check` runs its `subscription` check.
#[derive(Debug, Clone)]
pub struct SubscriptionOptions {
    /// `--public-url`: the service's address as Exchange reaches it (the
    /// same as `serve --public-url`); none when not given.
    pub public_url: Option<String>,
    /// `--subscription-wait-secs`: the longest wait for a push
    /// notification.
    pub wait_secs: u32,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        Self {
            public_url: None,
            wait_secs: DEFAULT_WAIT_SECS,
        }
    }
}

/// The push callback URL of `tenant` as `rooms-sync serve` would subscribe
/// with it, or none when neither the setting nor `public_url` gives one.
pub fn callback_url(tenant: &Tenant, public_url: Option<&str>) -> Option<String> {
    let name = tenant
        .dir()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::service::push::callback_url(
        tenant.settings().push_notification_endpoint_url(),
        public_url,
        &name,
    )
}

/// The red `subscription` check after the red check `failed`.
pub fn not_run(failed: &str) -> CheckReport {
    CheckReport {
        name: SUBSCRIPTION.into(),
        ok: false,
        message: format!("not run: {failed} failed"),
        fix: None,
        code: None,
    }
}

impl TenantRun<'_> {
    /// The `subscription` check of `person` (the component's
    /// `check-subscription`), on the run's instance. A trap or a missed
    /// deadline is a red check with the host's code.
    pub async fn check_subscription(
        &mut self,
        person: &Person,
        options: &SubscriptionOptions,
    ) -> CheckReport {
        let record = to_wit(person.clone());
        let callback = callback_url(&self.tenant, options.public_url.as_deref());
        let wait_secs = options.wait_secs;
        let deadline =
            self.runtime.limits().call_deadline + Duration::from_secs(u64::from(wait_secs));
        let outcome = self
            .call(
                &person.email,
                &[&person.email],
                deadline,
                async |plugin, store| {
                    plugin
                        .rooms_exchange_sync_sync()
                        .call_check_subscription(store, &record, callback.as_deref(), wait_secs)
                        .await
                },
            )
            .await;
        match outcome.result {
            Ok(c) => CheckReport {
                name: operator_text(&c.name, 64),
                ok: c.ok,
                message: operator_text(&c.message, MESSAGE_CAP),
                fix: c.fix.map(|f| operator_text(&f, MESSAGE_CAP)),
                code: if c.ok {
                    None
                } else {
                    c.cause.as_ref().map(cause_code)
                },
            },
            Err(stop) => CheckReport::red(SUBSCRIPTION, stop.code, stop.message, stop.fix),
        }
    }
}
