//! EWS authorization rules: tokens, impersonation header per token type, policies,
//! EWSEnabled switches, folder permissions for delegates.

use exo_emulator::seed::{AccessPolicy, App, Mailbox, MailboxKind, PolicyAccess, Redacted};

use crate::support::*;

fn app_request(target_kind: &str, target: &str, body: &str) -> String {
    soap(
        &format!("{V2013}{}", impersonate(target_kind, target)),
        body,
    )
}

fn fault_code(r: &Response) -> String {
    assert_eq!(r.status, 500, "a SOAP fault is HTTP 500: {}", r.text());
    parse_xml(&r.text()).text_of("ResponseCode")
}

fn response_code(r: &Response) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    parse_xml(&r.text()).text_of("ResponseCode")
}

fn is_policy_block(r: &Response) -> bool {
    r.status == 403
        && r.body.is_empty()
        && r.header("content-length") == Some("0")
        && r.header("x-proxy-backendserverstatus") == Some("403")
}

#[tokio::test]
async fn bad_bearer_tokens_get_401_with_empty_body() {
    let emu = start().await;
    let xml = app_request("PrimarySmtpAddress", ROOM, &get_folder("calendar", None));
    let r = send(
        "POST",
        &emu.ews_url(),
        &[("Content-Type", "text/xml")],
        xml.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401);
    assert!(r.body.is_empty());
    let www = r.header("www-authenticate").unwrap();
    assert!(
        www.starts_with("Bearer ") && www.contains("error=\"invalid_token\""),
        "{www}"
    );
    let r = ews(&emu, "not.a.token", &xml).await;
    assert_eq!(r.status, 401);
    // A token of another emulator (another signing key) is refused.
    let other = start().await;
    let foreign = secret_token(&other).await;
    assert_eq!(ews(&emu, &foreign, &xml).await.status, 401);
}

#[tokio::test]
async fn wrong_audience_and_missing_permission_are_401() {
    let emu = start().await;
    let r = post_form(
        &emu.token_endpoint(DOMAIN),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let graph = r.json()["access_token"].as_str().unwrap().to_string();
    let xml = app_request("PrimarySmtpAddress", ROOM, &get_folder("calendar", None));
    let r = ews(&emu, &graph, &xml).await;
    assert_eq!(r.status, 401);
    assert!(
        r.header("x-ms-diagnostics")
            .unwrap()
            .contains("invalid_resource")
    );

    // An app without full_access_as_app gets a token without roles; EWS refuses it.
    emu.upsert_app(App {
        tenant: TENANT_ID.into(),
        client_id: "e5f70819-4d6e-4f80-9bac-2d3e4f5a6b7c".into(),
        display_name: "no permissions".into(),
        secrets: vec![exo_emulator::seed::ClientSecret {
            value: Redacted("pw".into()),
            expires: None,
        }],
        certificates: vec![],
        application_permissions: vec![],
        delegated_permissions: vec![],
        allow_public_client_flows: false,
        admin_consent: true,
    })
    .unwrap();
    let r = post_form(
        &emu.token_endpoint(DOMAIN),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "e5f70819-4d6e-4f80-9bac-2d3e4f5a6b7c"),
            ("client_secret", "pw"),
            ("scope", &app_scope(&emu)),
        ],
    )
    .await;
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let r = ews(&emu, &token, &xml).await;
    assert_eq!(r.status, 401);
    assert!(r.header("x-ms-diagnostics").unwrap().contains("2000008"));
}

#[tokio::test]
async fn app_only_tokens_need_the_impersonation_header() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let r = ews(&emu, &token, &soap(V2013, &get_folder("calendar", None))).await;
    assert_eq!(
        fault_code(&r),
        "ErrorInvalidExchangeImpersonationHeaderData"
    );
    assert!(r.text().contains(
        "ExchangeImpersonation SOAP header must be present for this type of OAuth token."
    ));
    for (kind, value) in [
        ("PrimarySmtpAddress", ROOM),
        ("SmtpAddress", ROOM_ALIAS),
        ("SmtpAddress", ROOM),
        ("PrincipalName", ROOM),
    ] {
        let r = ews(
            &emu,
            &token,
            &app_request(kind, value, &get_folder("calendar", None)),
        )
        .await;
        assert_eq!(response_code(&r), "NoError", "{kind} {value}");
    }
    let sid = emu.with_state(|s| {
        exo_emulator::directory::mailbox_sid(s.directory.by_primary(ROOM).unwrap())
    });
    let r = ews(
        &emu,
        &token,
        &app_request("SID", &sid, &get_folder("calendar", None)),
    )
    .await;
    assert_eq!(response_code(&r), "NoError");
}

#[tokio::test]
async fn impersonation_address_rules() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    // An alias is not a primary SMTP address.
    let r = ews(
        &emu,
        &token,
        &app_request(
            "PrimarySmtpAddress",
            ROOM_ALIAS,
            &get_folder("calendar", None),
        ),
    )
    .await;
    assert_eq!(fault_code(&r), "ErrorNonExistentMailbox");
    let doc = parse_xml(&r.text());
    assert_eq!(
        doc.text_of("Message"),
        "The SMTP address has no mailbox associated with it."
    );
    let value = doc.find("Value").unwrap();
    assert_eq!(
        (value.attr("Name"), value.text.as_str()),
        (Some("SmtpAddress"), ROOM_ALIAS)
    );
    let r = ews(
        &emu,
        &token,
        &app_request(
            "SmtpAddress",
            "ghost@contoso.com",
            &get_folder("calendar", None),
        ),
    )
    .await;
    assert_eq!(fault_code(&r), "ErrorNonExistentMailbox");
    // Exactly one ConnectingSID child; not empty.
    let two = format!(
        "{V2013}<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{ROOM}</t:PrimarySmtpAddress><t:SmtpAddress>{ROOM}</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
    );
    assert_eq!(
        fault_code(&ews(&emu, &token, &soap(&two, &get_folder("calendar", None))).await),
        "ErrorSchemaValidation"
    );
    let r = ews(
        &emu,
        &token,
        &app_request("PrimarySmtpAddress", " ", &get_folder("calendar", None)),
    )
    .await;
    assert_eq!(
        fault_code(&r),
        "ErrorInvalidExchangeImpersonationHeaderData"
    );
}

#[tokio::test]
async fn delegated_tokens_must_not_impersonate() {
    let emu = start().await;
    let token = user_token(&emu, SVC, SVC_PASSWORD).await;
    let r = ews(
        &emu,
        &token,
        &app_request("PrimarySmtpAddress", ROOM, &get_folder("calendar", None)),
    )
    .await;
    assert_eq!(fault_code(&r), "ErrorImpersonateUserDenied");
    assert!(
        r.text()
            .contains("The account does not have permission to impersonate the requested user.")
    );
    let r = ews(&emu, &token, &soap(V2013, &get_folder("calendar", None))).await;
    assert_eq!(response_code(&r), "NoError");
}

#[tokio::test]
async fn delegated_user_without_mailbox_is_refused() {
    let emu = start().await;
    emu.upsert_mailbox(Mailbox {
        address: "nomail@contoso.com".into(),
        aliases: vec![],
        upn: None,
        kind: MailboxKind::User,
        display_name: None,
        password: Some(Redacted("pw".into())),
        mfa_required: false,
        conditional_access_blocked: false,
        password_expired: false,
        ews_enabled: None,
        has_mailbox: false,
        sid: None,
    })
    .unwrap();
    let token = user_token(&emu, "nomail@contoso.com", "pw").await;
    let r = ews(&emu, &token, &soap(V2013, &get_folder("calendar", None))).await;
    assert_eq!(r.status, 401);
    assert!(
        r.header("x-ms-diagnostics")
            .unwrap()
            .contains("does not exist")
    );
}

#[tokio::test]
async fn delegate_access_follows_folder_permissions() {
    let emu = start().await;
    let token = user_token(&emu, SVC, SVC_PASSWORD).await;
    let get = |folder: &str, mbx: &str| soap(V2013, &get_folder(folder, Some(mbx)));
    // Alice's calendar: Editor with CanViewPrivateItems.
    let r = ews(&emu, &token, &get("calendar", ALICE)).await;
    assert_eq!(response_code(&r), "NoError");
    let rights = parse_xml(&r.text());
    assert_eq!(rights.text_of("CreateContents"), "true");
    assert_eq!(rights.text_of("ViewPrivateItems"), "true");
    assert_eq!(rights.text_of("Modify"), "false");
    // An alias in Mailbox/EmailAddress resolves to the same mailbox.
    let r2 = ews(&emu, &token, &get("calendar", ALICE_ALIAS)).await;
    assert_eq!(
        parse_xml(&r2.text()).find("FolderId").unwrap().attr("Id"),
        rights.find("FolderId").unwrap().attr("Id")
    );
    // Drafts: FolderVisible only.
    let r = ews(&emu, &token, &get("drafts", ALICE)).await;
    let d = parse_xml(&r.text());
    assert_eq!(
        (
            d.text_of("Read").as_str(),
            d.text_of("CreateContents").as_str()
        ),
        ("true", "false")
    );
    // Bob granted nothing: the calendar default is AvailabilityOnly, which cannot open the folder.
    let r = ews(&emu, &token, &get("calendar", BOB)).await;
    assert_eq!(response_code(&r), "ErrorAccessDenied");
    assert_eq!(
        parse_xml(&r.text())
            .find("GetFolderResponseMessage")
            .unwrap()
            .attr("ResponseClass"),
        Some("Error")
    );
    let r = ews(&emu, &token, &get("inbox", ALICE)).await;
    assert_eq!(response_code(&r), "ErrorAccessDenied");
    // Unknown mailbox.
    let r = ews(&emu, &token, &get("calendar", "ghost@contoso.com")).await;
    assert_eq!(response_code(&r), "ErrorNonExistentMailbox");
}

#[tokio::test]
async fn access_policies_restrict_and_deny_app_only_access() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    // The demo policy restricts the secret app to a group holding the demo mailboxes.
    let r = ews(
        &emu,
        &token,
        &app_request("PrimarySmtpAddress", ROOM2, &get_folder("calendar", None)),
    )
    .await;
    assert_eq!(r.status, 200);
    emu.upsert_mailbox(Mailbox {
        address: "room-paris@contoso.com".into(),
        aliases: vec![],
        upn: None,
        kind: MailboxKind::Room,
        display_name: Some("Room Paris".into()),
        password: None,
        mfa_required: false,
        conditional_access_blocked: false,
        password_expired: false,
        ews_enabled: None,
        has_mailbox: true,
        sid: None,
    })
    .unwrap();
    let r = ews(
        &emu,
        &token,
        &app_request(
            "PrimarySmtpAddress",
            "room-paris@contoso.com",
            &get_folder("calendar", None),
        ),
    )
    .await;
    assert!(is_policy_block(&r), "{} {:?}", r.status, r.headers);

    // DenyAccess for the certificate app on Bob only.
    emu.add_policy(AccessPolicy {
        app_id: CERT_APP.into(),
        members: vec![BOB.into()],
        access: PolicyAccess::DenyAccess,
        description: None,
    })
    .unwrap();
    let aud = emu.token_endpoint(DOMAIN);
    let a = sign_assertion(
        &assertion_header(),
        &assertion_claims(&aud, emu.now().as_second(), "deny-test"),
    );
    let cert_token = assertion_request(&emu, DOMAIN, &a).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ews(
        &emu,
        &cert_token,
        &app_request("PrimarySmtpAddress", BOB, &get_folder("calendar", None)),
    )
    .await;
    assert!(is_policy_block(&r));
    let r = ews(
        &emu,
        &cert_token,
        &app_request("PrimarySmtpAddress", ALICE, &get_folder("calendar", None)),
    )
    .await;
    assert_eq!(r.status, 200);

    // Application access policies do not scope delegated access.
    emu.add_policy(AccessPolicy {
        app_id: PUBLIC_APP.into(),
        members: vec![BOB.into()],
        access: PolicyAccess::RestrictAccess,
        description: None,
    })
    .unwrap();
    let user = user_token(&emu, SVC, SVC_PASSWORD).await;
    assert_eq!(
        ews(&emu, &user, &soap(V2013, &get_folder("calendar", None)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn ews_enabled_switches_and_allow_list() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let user = user_token(&emu, SVC, SVC_PASSWORD).await;
    let req = app_request("PrimarySmtpAddress", ROOM, &get_folder("calendar", None));
    let own = soap(V2013, &get_folder("calendar", None));
    assert_eq!(ews(&emu, &token, &req).await.status, 200);

    emu.set_ews_allowed_app_ids(TENANT_ID, Some(vec![CERT_APP.into()]))
        .unwrap();
    assert!(
        is_policy_block(&ews(&emu, &token, &req).await),
        "app not in EWSAllowedAppIDs"
    );
    assert!(
        is_policy_block(&ews(&emu, &user, &own).await),
        "the delegated app is not listed either"
    );

    emu.set_org_ews_enabled(TENANT_ID, None).unwrap();
    assert_eq!(
        ews(&emu, &token, &req).await.status,
        200,
        "the list has no effect while EWSEnabled is null"
    );

    emu.set_org_ews_enabled(TENANT_ID, Some(false)).unwrap();
    assert!(is_policy_block(&ews(&emu, &token, &req).await));
    assert!(is_policy_block(&ews(&emu, &user, &own).await));

    emu.set_org_ews_enabled(TENANT_ID, Some(true)).unwrap();
    emu.set_ews_allowed_app_ids(TENANT_ID, None).unwrap();
    emu.set_mailbox_ews_enabled(ROOM, Some(false)).unwrap();
    assert!(
        is_policy_block(&ews(&emu, &token, &req).await),
        "both org and mailbox must allow EWS"
    );
    let other = app_request("PrimarySmtpAddress", ROOM2, &get_folder("calendar", None));
    assert_eq!(ews(&emu, &token, &other).await.status, 200);
    emu.set_mailbox_ews_enabled(ROOM, Some(true)).unwrap();
    assert_eq!(ews(&emu, &token, &req).await.status, 200);
}

#[tokio::test]
async fn anchor_mailbox_is_logged_and_optional() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let xml = app_request("PrimarySmtpAddress", ROOM, &get_folder("calendar", None));
    let auth = format!("Bearer {token}");
    let r = send(
        "POST",
        &emu.ews_url(),
        &[("Content-Type", "text/xml"), ("Authorization", &auth)],
        xml.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "X-AnchorMailbox is not required");
    ews(&emu, &token, &xml).await;
    let log = emu.request_log(&exo_emulator::LogFilter {
        endpoint: Some("ews".into()),
        ..Default::default()
    });
    assert_eq!(log.len(), 2);
    assert!(!log[0].headers.contains_key("x-anchormailbox"));
    assert_eq!(
        log[1].headers.get("x-anchormailbox").map(String::as_str),
        Some(ROOM)
    );
    assert_eq!(log[1].mailbox.as_deref(), Some(ROOM));
    assert_eq!(log[1].operation.as_deref(), Some("GetFolder"));
}
