//! What Exchange refuses after a successful sign-in reaches the operator as a
//! red check with the cause and the fix: unknown or alias addresses and a
//! service user without a mailbox as `configuration` (the address is
//! resolved first), tenant policies (HTTP 403 with an empty body), missing
//! permissions, throttling and broken answers as `calendar-access` (faults
//! are injected into its `GetFolder`).

use exo_emulator::seed::{AccessPolicy, FolderName, PermissionFlag, PolicyAccess};
use exo_emulator::{ErrorShape, FaultAction, FaultSpec};
use rooms_sync_integration::{Mode, SECRET_APP, TENANT_ID, TenantDir, World, assert_has};

/// Runs the sync test of `who` and returns its calendar check's message and
/// fix after checking that sign-in was green and the run red.
async fn red_calendar(world: &World, tenant: &TenantDir, who: &str) -> (String, String) {
    red_check(world, tenant, who, "calendar-access").await
}

/// A fault of the calendar check's `GetFolder` (the address is resolved
/// before it, with `ResolveNames`).
fn on_get_folder(action: FaultAction) -> FaultSpec {
    FaultSpec {
        operation: Some("GetFolder".into()),
        ..FaultSpec::ews(action)
    }
}

/// Runs the sync test of `who` and returns the message and fix of its red
/// check `name` after checking that sign-in was green and the run red.
async fn red_check(world: &World, tenant: &TenantDir, who: &str, name: &str) -> (String, String) {
    tenant.add_person(world, who).await;
    let run = tenant.check(Some(who)).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.check(who, "sign-in")["ok"], true, "{run:?}");
    let check = run.check(who, name);
    assert_eq!(check["ok"], false, "{check}");
    (
        check["message"].as_str().unwrap().to_string(),
        check["fix"]
            .as_str()
            .expect("a red check has a fix")
            .to_string(),
    )
}

/// The four causes a 403 with an empty body can have, as the fix names them.
const BLOCK_CAUSES: [&str; 4] = [
    "Test-ApplicationAccessPolicy",
    "Application EWS.AccessAsApp",
    "EwsEnabled",
    "EwsAllowedAppIDs",
];

#[tokio::test]
async fn an_alias_or_unknown_address_asks_for_the_primary_smtp_address() {
    let world = World::start().await;
    let tenant = world.tenant("alias", Mode::Secret, &[]);
    let (message, fix) = red_check(&world, &tenant, "berlin@contoso.com", "configuration").await;
    assert_has(
        &message,
        &["berlin@contoso.com is an alias", "room-berlin@contoso.com"],
    );
    assert_has(
        &fix,
        &[
            "Change the person's address in ROOMS to room-berlin@contoso.com",
            "person remove berlin@contoso.com",
        ],
    );
    let who = "nobody@contoso.com";
    let (message, fix) = red_check(&world, &tenant, who, "configuration").await;
    assert_has(&message, &["ErrorNonExistentMailbox", who]);
    assert_has(
        &fix,
        &["PRIMARY SMTP address", &format!("Get-Mailbox {who}")],
    );
}

#[tokio::test]
async fn tenant_policies_are_reported_as_an_ews_block_naming_the_four_causes() {
    let world = World::start().await;
    let tenant = world.tenant("blocked", Mode::Secret, &[]);

    // An Application Access Policy that denies Alice.
    world
        .emulator
        .add_policy(AccessPolicy {
            app_id: SECRET_APP.into(),
            members: vec!["alice@contoso.com".into()],
            access: PolicyAccess::DenyAccess,
            description: None,
        })
        .unwrap();
    let (message, fix) = red_calendar(&world, &tenant, "alice@contoso.com").await;
    assert_has(&message, &["blocked by tenant policy", "403"]);
    assert_has(&fix, &BLOCK_CAUSES);
    // An admin who has just changed a policy is told how long it takes.
    assert_has(
        &fix,
        &["(1) and (2) up to an hour", "(3) and (4) up to 24 hours"],
    );
    world.emulator.clear_policies();

    // EWS switched off for Bob's mailbox.
    world
        .emulator
        .set_mailbox_ews_enabled("bob@contoso.com", Some(false))
        .unwrap();
    let (message, fix) = red_calendar(&world, &tenant, "bob@contoso.com").await;
    assert_has(&message, &["blocked by tenant policy"]);
    assert_has(&fix, &BLOCK_CAUSES);

    // The app is not on the tenant's EWS allow-list (the October 2026 cut-off).
    world
        .emulator
        .set_ews_allowed_app_ids(TENANT_ID, Some(vec![]))
        .unwrap();
    let (message, fix) = red_calendar(&world, &tenant, "room-hamburg@contoso.com").await;
    assert_has(&message, &["blocked by tenant policy"]);
    assert_has(&fix, &BLOCK_CAUSES);
    assert_has(&fix, &[SECRET_APP]);

    // EWS switched off for the whole organisation.
    world
        .emulator
        .set_ews_allowed_app_ids(TENANT_ID, None)
        .unwrap();
    world
        .emulator
        .set_org_ews_enabled(TENANT_ID, Some(false))
        .unwrap();
    let (message, _) = red_calendar(&world, &tenant, "room-berlin@contoso.com").await;
    assert_has(&message, &["blocked by tenant policy"]);
}

#[tokio::test]
async fn an_app_without_full_access_as_app_is_told_to_grant_it() {
    let world = World::start().await;
    let mut app = world
        .emulator
        .with_state(|state| state.directory.app(SECRET_APP).cloned())
        .expect("the secret app exists");
    app.application_permissions.clear();
    world.emulator.upsert_app(app).unwrap();
    let tenant = world.tenant("no-role", Mode::Secret, &[]);
    let (message, fix) = red_calendar(&world, &tenant, "alice@contoso.com").await;
    assert_has(&message, &["401"]);
    assert_has(&fix, &["full_access_as_app", "admin consent"]);
}

#[tokio::test]
async fn a_delegate_without_folder_permission_gets_the_exact_powershell() {
    let world = World::start().await;
    let tenant = world.tenant("no-permission", Mode::Delegated, &[]);
    // Bob never granted the service user anything.
    let (message, fix) = red_calendar(&world, &tenant, "bob@contoso.com").await;
    assert!(message.contains("bob@contoso.com"), "{message}");
    assert_has(
        &fix,
        &[
            "Add-MailboxFolderPermission -Identity \"bob@contoso.com:\\Calendar\" -User svc-rooms@contoso.com -AccessRights Editor -SharingPermissionFlags Delegate,CanViewPrivateItems",
            "bob@contoso.com:\\Drafts",
            "FolderVisible",
        ],
    );
}

#[tokio::test]
async fn a_delegate_without_view_private_items_is_red() {
    let world = World::start_with(|seed| {
        for p in seed.folder_permissions.iter_mut() {
            if p.mailbox == "alice@contoso.com" && p.folder == FolderName::Calendar {
                p.flags
                    .retain(|f| *f != PermissionFlag::CanViewPrivateItems);
            }
        }
    })
    .await;
    let tenant = world.tenant("no-private", Mode::Delegated, &[]);
    let (message, fix) = red_calendar(&world, &tenant, "alice@contoso.com").await;
    assert_has(&message, &["ViewPrivateItems"]);
    assert_has(&fix, &["CanViewPrivateItems"]);
}

#[tokio::test]
async fn throttling_is_reported_with_the_server_s_back_off() {
    let world = World::start().await;
    let tenant = world.tenant("throttled", Mode::Secret, &[]);
    for shape in [ErrorShape::ResponseMessage, ErrorShape::SoapFault] {
        world
            .emulator
            .inject_fault(on_get_folder(FaultAction::EwsError {
                code: "ErrorServerBusy".into(),
                message: None,
                shape,
                back_off_ms: Some(297_749),
            }));
        let (message, fix) = red_calendar(&world, &tenant, "alice@contoso.com").await;
        assert_has(&message, &["ErrorServerBusy"]);
        assert_has(&fix, &["4 min 57 s"]);
        tenant.run(&["person", "remove", "alice@contoso.com"]).await;
    }
    world
        .emulator
        .inject_fault(on_get_folder(FaultAction::HttpStatus {
            status: 503,
            retry_after: Some(120),
            body: None,
        }));
    let (message, fix) = red_calendar(&world, &tenant, "bob@contoso.com").await;
    assert_has(&message, &["503"]);
    assert_has(&fix, &["2 min"]);
}

#[tokio::test]
async fn broken_answers_are_refused_without_crashing() {
    let world = World::start().await;
    let tenant = world.tenant("broken", Mode::Secret, &[]);
    world
        .emulator
        .inject_fault(on_get_folder(FaultAction::MalformedBody));
    let (message, _) = red_calendar(&world, &tenant, "alice@contoso.com").await;
    assert!(message.to_lowercase().contains("xml"), "{message}");

    world
        .emulator
        .inject_fault(on_get_folder(FaultAction::TruncatedBody));
    let (_, fix) = red_calendar(&world, &tenant, "bob@contoso.com").await;
    assert!(!fix.is_empty());

    world
        .emulator
        .inject_fault(on_get_folder(FaultAction::ResetBefore));
    let (message, _) = red_calendar(&world, &tenant, "room-berlin@contoso.com").await;
    assert!(message.to_lowercase().contains("connection"), "{message}");

    // A redirect is never followed: the check names it instead.
    world
        .emulator
        .inject_fault(on_get_folder(FaultAction::HttpStatus {
            status: 302,
            retry_after: None,
            body: None,
        }));
    let (message, _) = red_calendar(&world, &tenant, "room-hamburg@contoso.com").await;
    assert!(message.to_lowercase().contains("redirect"), "{message}");
    // After all that the tenant still works.
    let run = tenant.check(Some("room-hamburg@contoso.com")).await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test]
async fn a_service_user_without_a_mailbox_is_told_it_needs_one() {
    let world = World::start_with(|seed| {
        let svc = seed
            .mailboxes
            .iter_mut()
            .find(|m| m.address == rooms_sync_integration::SERVICE_USER)
            .unwrap();
        svc.has_mailbox = false;
    })
    .await;
    let tenant = world.tenant("no-mailbox", Mode::Delegated, &[]);
    let (message, fix) = red_check(&world, &tenant, "alice@contoso.com", "configuration").await;
    assert_has(
        &message,
        &["svc-rooms@contoso.com", "no Exchange Online mailbox"],
    );
    assert_has(
        &fix,
        &[
            "Give svc-rooms@contoso.com an Exchange Online mailbox",
            "licence",
        ],
    );
}
