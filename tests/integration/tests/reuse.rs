//! One component instance per tenant run, reused for the tenant's persons,
//! and the tenant's keep-alive connections: what makes a mailbox cheap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use exo_emulator::{FaultAction, FaultSpec};
use rooms_sync_host::calls::TenantRun;
use rooms_sync_host::log::LogSink;
use rooms_sync_host::rooms_db::Person;
use rooms_sync_host::runtime::{RunLimits, Runtime, RuntimeOptions, locate_component};
use rooms_sync_host::settings::TenantInputs;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_integration::{Mode, World};

const PERSONS: [&str; 4] = [
    "alice@contoso.com",
    "bob@contoso.com",
    "room-berlin@contoso.com",
    "room-hamburg@contoso.com",
];

async fn tenant_of_four(world: &World, name: &str) -> (Arc<Tenant>, Vec<Person>) {
    let dir = world.tenant(name, Mode::Secret, &[]);
    for email in PERSONS {
        dir.add_person(world, email).await;
    }
    let tenant = Tenant::open(
        &dir.path,
        Arc::new(HashMap::<String, String>::new()),
        TenantInputs::default(),
        LogSink::discard(),
    )
    .unwrap();
    let persons = tenant.db().list_persons().unwrap();
    (tenant, persons)
}

fn runtime(limits: RunLimits) -> Runtime {
    let mut options = RuntimeOptions::new(locate_component().expect("run `make guest` first"));
    options.cache_dir = None;
    options.limits = limits;
    Runtime::new(&options).unwrap()
}

#[tokio::test]
async fn one_instance_and_pooled_connections_serve_every_person_of_a_run() {
    let world = World::start().await;
    let (tenant, persons) = tenant_of_four(&world, "reuse").await;
    let runtime = runtime(RunLimits::default());

    let mut run = TenantRun::new(&tenant, &runtime, &persons);
    for person in &persons {
        let report = run.check_person(person).await;
        assert!(report.ok(), "{report:?}");
    }
    assert_eq!(run.instances_created(), 1);
    // One sign-in and four GetFolder requests to the emulator's one origin.
    let stats = tenant.pool().stats();
    assert!(stats.opened <= 2, "{stats:?}");
    assert!(stats.reused >= 3, "{stats:?}");

    // Recycling after every second call: two instances for four persons.
    let mut run = TenantRun::new(&tenant, &runtime, &persons).recycle_after(2);
    for person in &persons {
        assert!(run.check_person(person).await.ok());
    }
    assert_eq!(run.instances_created(), 2);
}

#[tokio::test]
async fn a_call_stopped_by_its_deadline_leaves_the_next_person_a_fresh_instance() {
    let world = World::start().await;
    let (tenant, persons) = tenant_of_four(&world, "fresh").await;
    let runtime = runtime(RunLimits {
        call_deadline: Duration::from_millis(1500),
        ..RunLimits::default()
    });
    let mut run = TenantRun::new(&tenant, &runtime, &persons);
    assert!(run.check_person(&persons[0]).await.ok());
    world
        .emulator
        .inject_fault(FaultSpec::ews(FaultAction::Latency { ms: 30_000 }));
    let stopped = run.check_person(&persons[1]).await;
    assert_eq!(stopped.checks[0].name, "component", "{stopped:?}");
    assert!(
        stopped.checks[0].message.contains("deadline"),
        "{stopped:?}"
    );
    // The deadline is re-armed for each call, and the next person runs on a
    // new instance.
    for person in &persons[2..] {
        let report = run.check_person(person).await;
        assert!(report.ok(), "{report:?}");
    }
    assert_eq!(run.instances_created(), 2);
}
