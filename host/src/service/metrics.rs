//! The service's metrics, served at `/metrics` in the OpenMetrics text
//! format (which Prometheus scrapes) through the `prometheus-client` crate.
//!
//! | family | type | labels | what |
//! |---|---|---|---|
//! | `rooms_sync_syncs_total` | counter | `tenant`, `outcome` (`ok`, `failed`) | incremental sync cycles of a person |
//! | `rooms_sync_items_total` | counter | `tenant`, `direction` (`to_rooms`, `to_exchange`) | items created, updated or cancelled by those cycles |
//! | `rooms_sync_errors_total` | counter | `tenant`, `code` | problems by code: EWS response codes (`ErrorAccessDenied`), AADSTS codes, `HTTP 403`, the host's codes (`deadline`, `component-error`, ...) |
//! | `rooms_sync_backoff_seconds_total` | counter | `tenant` | seconds the host let the component wait on throttling |
//! | `rooms_sync_subscriptions_active` | gauge | `tenant`, `mode` (`push`, `pull`) | stored subscriptions |
//! | `rooms_sync_notifications_received_total` | counter | `tenant` | push notifications answered `OK` (heartbeats included) |
//! | `rooms_sync_notifications_refused_total` | counter | `reason` | webhook posts refused: `method`, `too_large`, `content_type`, `malformed`, `unknown_subscription`, `rate_limited`, `queue_full`, `unknown_tenant` |
//! | `rooms_sync_instantiation_seconds` | histogram | | component instantiations |
//! | `rooms_sync_queue_depth` | gauge | `tenant` | mailboxes waiting for a sync |
//! | `rooms_sync_tenants` | gauge | `state` (`running`, `broken`) | tenant directories |
//! | `rooms_sync_get_events_sweep_seconds` | histogram | `tenant` | one `GetEvents` sweep over all pull subscriptions |
//! | `rooms_sync_deactivations_total` | counter | `tenant` | persons whose sync the service disabled after repeated failures |
//!
//! A code label is kept only when it looks like a code (letters, digits,
//! space, `.`, `_`, `-`, at most 64 characters); anything else counts as
//! `other`, so a hostile answer cannot grow the label set without bound.
//! When a tenant directory is removed, its series are removed too.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::calls::RunReport;

/// The content type of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabel {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    tenant: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    tenant: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    tenant: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    tenant: String,
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

type SweepHistograms = Family<TenantLabel, Histogram, fn() -> Histogram>;

fn sweep_histogram() -> Histogram {
    // 10 ms .. about 5 min.
    Histogram::new(exponential_buckets(0.01, 2.0, 15))
}

/// Why the host (or the component) refused a webhook post: the `reason`
/// label of `rooms_sync_notifications_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a POST.
    Method,
    /// The body is over the cap.
    TooLarge,
    /// Not a SOAP/XML content type.
    ContentType,
    /// Not a `SendNotification` message.
    Malformed,
    /// A notification answered `Unsubscribe`.
    UnknownSubscription,
    /// The source sent more than its rate allows.
    RateLimited,
    /// The tenant's webhook queue is full.
    QueueFull,
    /// No running tenant of that name.
    UnknownTenant,
}

impl Refusal {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Method => "method",
            Refusal::TooLarge => "too_large",
            Refusal::ContentType => "content_type",
            Refusal::Malformed => "malformed",
            Refusal::UnknownSubscription => "unknown_subscription",
            Refusal::RateLimited => "rate_limited",
            Refusal::QueueFull => "queue_full",
            Refusal::UnknownTenant => "unknown_tenant",
        }
    }
}

/// Every metric of the service, registered once per process.
pub struct Metrics {
    registry: Mutex<Registry>,
    syncs: Family<OutcomeLabels, Counter>,
    items: Family<DirectionLabels, Counter>,
    errors: Family<CodeLabels, Counter>,
    backoff_seconds: Family<TenantLabel, Counter<f64>>,
    subscriptions: Family<ModeLabels, Gauge>,
    received: Family<TenantLabel, Counter>,
    refused: Family<ReasonLabel, Counter>,
    instantiation: Histogram,
    queue_depth: Family<TenantLabel, Gauge>,
    tenants: Family<StateLabel, Gauge>,
    sweeps: SweepHistograms,
    deactivations: Family<TenantLabel, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The registry with every family of the [module documentation](self).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            syncs: Family::default(),
            items: Family::default(),
            errors: Family::default(),
            backoff_seconds: Family::default(),
            subscriptions: Family::default(),
            received: Family::default(),
            refused: Family::default(),
            instantiation: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            queue_depth: Family::default(),
            tenants: Family::default(),
            sweeps: Family::new_with_constructor(sweep_histogram as fn() -> Histogram),
            deactivations: Family::default(),
        };
        // `prometheus-client` adds `_total` to counters.
        registry.register(
            "rooms_sync_syncs",
            "Incremental sync cycles of a person",
            m.syncs.clone(),
        );
        registry.register(
            "rooms_sync_items",
            "Items created, updated or cancelled by sync cycles",
            m.items.clone(),
        );
        registry.register(
            "rooms_sync_errors",
            "Problems met, by EWS response code, AADSTS code, HTTP status or host code",
            m.errors.clone(),
        );
        registry.register(
            "rooms_sync_backoff_seconds",
            "Seconds the component waited on throttling and back-off",
            m.backoff_seconds.clone(),
        );
        registry.register(
            "rooms_sync_subscriptions_active",
            "Stored change subscriptions",
            m.subscriptions.clone(),
        );
        registry.register(
            "rooms_sync_notifications_received",
            "Push notifications answered OK, heartbeats included",
            m.received.clone(),
        );
        registry.register(
            "rooms_sync_notifications_refused",
            "Webhook posts refused",
            m.refused.clone(),
        );
        registry.register(
            "rooms_sync_instantiation_seconds",
            "Component instantiations",
            m.instantiation.clone(),
        );
        registry.register(
            "rooms_sync_queue_depth",
            "Mailboxes waiting for a sync",
            m.queue_depth.clone(),
        );
        registry.register(
            "rooms_sync_tenants",
            "Tenant directories",
            m.tenants.clone(),
        );
        registry.register(
            "rooms_sync_get_events_sweep_seconds",
            "One GetEvents sweep over all pull subscriptions",
            m.sweeps.clone(),
        );
        registry.register(
            "rooms_sync_deactivations",
            "Persons whose sync was disabled after repeated failures",
            m.deactivations.clone(),
        );
        *m.registry.lock().unwrap_or_else(|e| e.into_inner()) = registry;
        for reason in [
            Refusal::Method,
            Refusal::TooLarge,
            Refusal::ContentType,
            Refusal::Malformed,
            Refusal::UnknownSubscription,
            Refusal::RateLimited,
            Refusal::QueueFull,
            Refusal::UnknownTenant,
        ] {
            let _ = m.refused.get_or_create(&ReasonLabel {
                reason: reason.label(),
            });
        }
        m
    }

    /// The text served at `/metrics`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }

    /// Creates the series of a tenant at zero, so they show before the first
    /// event.
    pub fn tenant_started(&self, tenant: &str) {
        for outcome in ["ok", "failed"] {
            let _ = self.syncs.get_or_create(&OutcomeLabels {
                tenant: tenant.into(),
                outcome,
            });
        }
        for direction in ["to_rooms", "to_exchange"] {
            let _ = self.items.get_or_create(&DirectionLabels {
                tenant: tenant.into(),
                direction,
            });
        }
        let t = TenantLabel {
            tenant: tenant.into(),
        };
        let _ = self.backoff_seconds.get_or_create(&t);
        let _ = self.received.get_or_create(&t);
        let _ = self.queue_depth.get_or_create(&t);
        let _ = self.deactivations.get_or_create(&t);
        self.set_subscriptions(tenant, 0, 0);
    }

    /// Removes every series of a tenant that is gone.
    pub fn forget_tenant(&self, tenant: &str) {
        for outcome in ["ok", "failed"] {
            self.syncs.remove(&OutcomeLabels {
                tenant: tenant.into(),
                outcome,
            });
        }
        for direction in ["to_rooms", "to_exchange"] {
            self.items.remove(&DirectionLabels {
                tenant: tenant.into(),
                direction,
            });
        }
        for mode in ["push", "pull"] {
            self.subscriptions.remove(&ModeLabels {
                tenant: tenant.into(),
                mode,
            });
        }
        let t = TenantLabel {
            tenant: tenant.into(),
        };
        self.backoff_seconds.remove(&t);
        self.received.remove(&t);
        self.queue_depth.remove(&t);
        self.sweeps.remove(&t);
        self.deactivations.remove(&t);
        // Error codes of the tenant: the family has no iteration, so codes
        // stay (counters only grow; a returning tenant continues them).
    }

    /// Counts one finished sync cycle: outcome, items per direction, every
    /// problem code, back-off seconds.
    pub fn sync_done(&self, tenant: &str, report: &RunReport) {
        self.syncs
            .get_or_create(&OutcomeLabels {
                tenant: tenant.into(),
                outcome: if report.ok() { "ok" } else { "failed" },
            })
            .inc();
        let sum = |c: &crate::calls::Counts| c.created + c.updated + c.cancelled;
        for (direction, n) in [
            ("to_rooms", sum(&report.to_rooms)),
            ("to_exchange", sum(&report.to_exchange)),
        ] {
            self.items
                .get_or_create(&DirectionLabels {
                    tenant: tenant.into(),
                    direction,
                })
                .inc_by(n);
        }
        for problem in &report.errors {
            self.error(tenant, &problem.code);
        }
        self.backoff_seconds
            .get_or_create(&TenantLabel {
                tenant: tenant.into(),
            })
            .inc_by(report.backoff_ms as f64 / 1000.0);
    }

    /// Counts one problem by its code.
    pub fn error(&self, tenant: &str, code: &str) {
        self.errors
            .get_or_create(&CodeLabels {
                tenant: tenant.into(),
                code: code_label(code),
            })
            .inc();
    }

    /// Sets the stored subscriptions of a tenant.
    pub fn set_subscriptions(&self, tenant: &str, push: usize, pull: usize) {
        for (mode, n) in [("push", push), ("pull", pull)] {
            self.subscriptions
                .get_or_create(&ModeLabels {
                    tenant: tenant.into(),
                    mode,
                })
                .set(n as i64);
        }
    }

    /// Counts a push notification answered OK.
    pub fn notification_received(&self, tenant: &str) {
        self.received
            .get_or_create(&TenantLabel {
                tenant: tenant.into(),
            })
            .inc();
    }

    /// Counts a refused webhook post.
    pub fn refused(&self, reason: Refusal) {
        self.refused
            .get_or_create(&ReasonLabel {
                reason: reason.label(),
            })
            .inc();
    }

    /// Records how long one instantiation took.
    pub fn instantiated(&self, took: std::time::Duration) {
        self.instantiation.observe(took.as_secs_f64());
    }

    /// Sets the queue depth of a tenant.
    pub fn set_queue_depth(&self, tenant: &str, depth: usize) {
        self.queue_depth
            .get_or_create(&TenantLabel {
                tenant: tenant.into(),
            })
            .set(depth as i64);
    }

    /// Sets the number of running and broken tenants.
    pub fn set_tenants(&self, running: usize, broken: usize) {
        for (state, n) in [("running", running), ("broken", broken)] {
            self.tenants
                .get_or_create(&StateLabel { state })
                .set(n as i64);
        }
    }

    /// Records one GetEvents sweep.
    pub fn sweep_done(&self, tenant: &str, took: std::time::Duration) {
        self.sweeps
            .get_or_create(&TenantLabel {
                tenant: tenant.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a person whose sync was disabled.
    pub fn deactivated(&self, tenant: &str) {
        self.deactivations
            .get_or_create(&TenantLabel {
                tenant: tenant.into(),
            })
            .inc();
    }
}

/// `code` when it looks like a code, `other` otherwise.
fn code_label(code: &str) -> String {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'));
    if ok { code.to_string() } else { "other".into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::{Counts, RunProblem};

    fn report(ok: bool) -> RunReport {
        let mut r = RunReport::failed(
            "a@contoso.com",
            RunProblem {
                code: "ErrorAccessDenied".into(),
                message: "m".into(),
                fix: None,
            },
        );
        r.to_rooms = Counts {
            created: 2,
            updated: 1,
            cancelled: 0,
        };
        r.to_exchange = Counts {
            created: 0,
            updated: 0,
            cancelled: 4,
        };
        r.backoff_ms = 1500;
        if ok {
            r.errors.clear();
            r.completed = true;
        }
        r
    }

    #[test]
    fn the_families_have_the_documented_names() {
        let m = Metrics::new();
        m.tenant_started("contoso");
        m.sync_done("contoso", &report(true));
        m.sync_done("contoso", &report(false));
        m.refused(Refusal::RateLimited);
        m.instantiated(std::time::Duration::from_millis(3));
        m.sweep_done("contoso", std::time::Duration::from_millis(20));
        m.set_tenants(1, 1);
        m.error("contoso", "bad\ncode{}");
        let text = m.encode();
        for line in [
            "rooms_sync_syncs_total{tenant=\"contoso\",outcome=\"ok\"} 1",
            "rooms_sync_syncs_total{tenant=\"contoso\",outcome=\"failed\"} 1",
            "rooms_sync_items_total{tenant=\"contoso\",direction=\"to_rooms\"} 6",
            "rooms_sync_items_total{tenant=\"contoso\",direction=\"to_exchange\"} 8",
            "rooms_sync_errors_total{tenant=\"contoso\",code=\"ErrorAccessDenied\"} 1",
            "rooms_sync_errors_total{tenant=\"contoso\",code=\"other\"} 1",
            "rooms_sync_backoff_seconds_total{tenant=\"contoso\"} 3.0",
            "rooms_sync_subscriptions_active{tenant=\"contoso\",mode=\"push\"} 0",
            "rooms_sync_notifications_received_total{tenant=\"contoso\"} 0",
            "rooms_sync_notifications_refused_total{reason=\"rate_limited\"} 1",
            "rooms_sync_notifications_refused_total{reason=\"unknown_tenant\"} 0",
            "rooms_sync_instantiation_seconds_count 1",
            "rooms_sync_queue_depth{tenant=\"contoso\"} 0",
            "rooms_sync_tenants{state=\"broken\"} 1",
            "rooms_sync_get_events_sweep_seconds_count{tenant=\"contoso\"} 1",
            "rooms_sync_deactivations_total{tenant=\"contoso\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        m.forget_tenant("contoso");
        let text = m.encode();
        assert!(
            !text.contains("rooms_sync_syncs_total{tenant=\"contoso\""),
            "{text}"
        );
        assert!(
            !text.contains("rooms_sync_queue_depth{tenant=\"contoso\""),
            "{text}"
        );
    }
}
