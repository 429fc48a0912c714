//! The admin API over HTTP: directory changes, settings, faults, clock.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn admin_changes_the_directory_at_run_time() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let req = soap(
        &format!("{V2013}{}", impersonate("PrimarySmtpAddress", ROOM)),
        &get_folder("calendar", None),
    );

    let r = admin(
        &emu,
        "PATCH",
        &format!("tenants/{DOMAIN}"),
        &json!({"ews_enabled": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ews(&emu, &token, &req).await.status, 403);
    admin(
        &emu,
        "PATCH",
        &format!("tenants/{TENANT_ID}"),
        &json!({"ews_enabled": null}),
    )
    .await;
    assert_eq!(ews(&emu, &token, &req).await.status, 200);

    let r = admin(
        &emu,
        "PATCH",
        &format!("mailboxes/{ROOM}"),
        &json!({"ews_enabled": false}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(ews(&emu, &token, &req).await.status, 403);
    admin(
        &emu,
        "PATCH",
        &format!("mailboxes/{ROOM}"),
        &json!({"ews_enabled": null}),
    )
    .await;

    let r = admin(
        &emu,
        "POST",
        "access_policies",
        &json!({"app_id": SECRET_APP, "members": [ROOM], "access": "DenyAccess"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(ews(&emu, &token, &req).await.status, 403);
    admin(&emu, "DELETE", "access_policies", &json!({})).await;
    assert_eq!(ews(&emu, &token, &req).await.status, 200);

    let r = admin(
        &emu,
        "POST",
        "folder_permissions",
        &json!({"mailbox": BOB, "folder": "calendar", "user": SVC, "rights": "Reviewer"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let user = user_token(&emu, SVC, SVC_PASSWORD).await;
    let r = ews(
        &emu,
        &user,
        &soap(V2013, &get_folder("calendar", Some(BOB))),
    )
    .await;
    assert_eq!(parse_xml(&r.text()).text_of("ResponseCode"), "NoError");

    let state = admin(&emu, "GET", "state", &json!(null)).await;
    let text = state.text();
    assert!(
        !text.contains(SECRET) && !text.contains(SVC_PASSWORD),
        "no secrets in the state dump"
    );
    assert_eq!(
        state.json()["apps"][1]["certificate_thumbprints"][0],
        "332459433B54FC0C2185F75A618FD3C83C7B9584"
    );
}

#[tokio::test]
async fn admin_errors_are_clear() {
    let emu = start().await;
    let r = admin(
        &emu,
        "PATCH",
        "mailboxes/ghost@contoso.com",
        &json!({"ews_enabled": false}),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("ghost@contoso.com")
    );
    let r = admin(
        &emu,
        "POST",
        "faults",
        &json!({"action": {"kind": "explode"}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("explode"));
    let r = admin(
        &emu,
        "POST",
        "folder_permissions",
        &json!({"mailbox": BOB, "folder": "calendar", "user": SVC, "rights": "Boss"}),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = admin(&emu, "GET", "nothing", &json!(null)).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn admin_faults_and_clock() {
    let emu = start().await;
    let r = admin(&emu, "POST", "faults", &json!({"count": 2, "operation": "GetFolder", "action": {"kind": "http_status", "status": 503, "retry_after": 4}})).await;
    assert_eq!(r.json()["id"], 1);
    let list = admin(&emu, "GET", "faults", &json!(null)).await.json();
    assert_eq!(list[0]["remaining"], 2);
    admin(&emu, "DELETE", "faults", &json!(null)).await;
    assert_eq!(
        admin(&emu, "GET", "faults", &json!(null))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let before = emu.now();
    let r = admin(&emu, "POST", "clock/advance", &json!({"seconds": 7200})).await;
    assert_eq!(r.json()["offset_seconds"], 7200);
    assert!(emu.now().duration_since(before).as_secs() >= 7200);
    let r = admin(
        &emu,
        "POST",
        "clock/set",
        &json!({"now": "2030-06-01T12:00:00Z"}),
    )
    .await;
    let now: jiff::Timestamp = r.json()["now"].as_str().unwrap().parse().unwrap();
    let target: jiff::Timestamp = "2030-06-01T12:00:00Z".parse().unwrap();
    assert!(now.duration_since(target).abs().as_secs() < 60, "{now}");
    let r = admin(
        &emu,
        "PATCH",
        "settings",
        &json!({"token_lifetime_seconds": 600}),
    )
    .await;
    assert_eq!(r.status, 200);
    let t = post_form(
        &emu.token_endpoint(DOMAIN),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
            ("scope", &app_scope(&emu)),
        ],
    )
    .await;
    assert_eq!(t.json()["expires_in"], 600);
}
