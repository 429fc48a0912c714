//! Section 4: the cost per person of one `check` over 1, 100 and 1,000
//! persons of one tenant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rooms_sync_host::calls;
use rooms_sync_host::runtime::Runtime;
use rooms_sync_host::tenant::Tenant;

use crate::stats::{Samples, duration, method, ratio, row, section};

/// One tenant of the scale test.
pub struct Scaled {
    pub persons: usize,
    pub tenant: Arc<Tenant>,
    /// Full `check`s per round.
    pub per_round: usize,
}

/// Runs section 4: one warm-up `check` per tenant, then `rounds` rounds in
/// which every tenant runs `per_round` full checks, the tenants in turn.
pub async fn run(tenants: &[Scaled], runtime: &Runtime, rounds: usize) -> anyhow::Result<()> {
    let mut totals: Vec<Samples> = tenants.iter().map(|_| Samples::default()).collect();
    let mut opened = vec![0u64; tenants.len()];
    for round in 0..=rounds {
        for (i, scaled) in tenants.iter().enumerate() {
            let times = if round == 0 { 1 } else { scaled.per_round };
            for _ in 0..times {
                let before = scaled.tenant.pool().stats().opened;
                let (reports, elapsed) = {
                    let started = Instant::now();
                    let reports = calls::check(&scaled.tenant, runtime, None).await?;
                    (reports, started.elapsed())
                };
                anyhow::ensure!(
                    reports.len() == scaled.persons,
                    "{} reports for {} persons",
                    reports.len(),
                    scaled.persons
                );
                if let Some(red) = reports.iter().find(|r| !r.ok()) {
                    anyhow::bail!("a person of the scale test is red: {red:?}");
                }
                if round > 0 {
                    totals[i].push(elapsed);
                    opened[i] += scaled.tenant.pool().stats().opened - before;
                }
            }
        }
    }

    section("4. One `check` over all persons of a tenant: cost per person");
    method(&format!(
        "calls::check(tenant, runtime, None) as `rooms-sync check` runs it (one TenantRun: one \
         store and instance reused, recycled every {} calls, the tenant's pooled connections), \
         persons in rooms.db and as mailboxes in the emulator (inside the demo app's access \
         policy scope), token cached, client-secret sign-in; one warm-up check per tenant, then \
         {rounds} x (every tenant's checks in turn: {}); per person = total / \
         persons, from the median total.",
        calls::RECYCLE_AFTER_CALLS,
        tenants
            .iter()
            .map(|t| format!("{} x {}", t.per_round, persons(t.persons)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let base = per_person(totals[0].median(), tenants[0].persons);
    for (i, scaled) in tenants.iter().enumerate() {
        let who = persons(scaled.persons);
        let each = per_person(totals[i].median(), scaled.persons);
        row(
            &format!("{who}: total median / p99"),
            totals[i].median_p99(),
        );
        row(
            &format!("{who}: per person"),
            format!(
                "{}  ({} of 1 person; {:.2} new connections per check)",
                duration(each),
                ratio(each, base),
                opened[i] as f64 / totals[i].len().max(1) as f64
            ),
        );
    }
    Ok(())
}

fn persons(n: usize) -> String {
    match n {
        1 => "1 person".into(),
        n if n >= 1000 => format!("{},{:03} persons", n / 1000, n % 1000),
        n => format!("{n} persons"),
    }
}

fn per_person(total: Duration, persons: usize) -> Duration {
    total / persons.max(1) as u32
}
