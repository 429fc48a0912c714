//! GetFolder, ResolveNames, request validation (version, XML, envelope, unknown operations).

use exo_emulator::seed::{FolderName, FolderPermission, PermissionFlag, RightsSpec};

use crate::support::*;

fn as_room(body: &str) -> String {
    soap(
        &format!("{V2013}{}", impersonate("PrimarySmtpAddress", ROOM)),
        body,
    )
}

fn fault(r: &Response) -> Node {
    assert_eq!(r.status, 500, "{}", r.text());
    parse_xml(&r.text())
}

#[tokio::test]
async fn get_folder_shapes_and_folder_types() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let r = ews(&emu, &token, &as_room(&get_folder("calendar", None))).await;
    let doc = parse_xml(&r.text());
    let cal = doc
        .find("CalendarFolder")
        .expect("calendar is a CalendarFolder");
    assert_eq!(cal.ns, T);
    assert_eq!(doc.text_of("DisplayName"), "Calendar");
    assert_eq!(doc.text_of("TotalCount"), "0");
    assert_eq!(doc.text_of("ChildFolderCount"), "0");
    let owner_rights: Vec<String> = doc
        .find("EffectiveRights")
        .unwrap()
        .children
        .iter()
        .map(|c| c.text.clone())
        .collect();
    assert_eq!(
        owner_rights,
        vec!["true"; 7],
        "the owner (impersonated) has every right"
    );
    let header = doc.find("ServerVersionInfo").unwrap();
    assert_eq!(
        (
            header.attr("MajorVersion"),
            header.attr("MinorVersion"),
            header.attr("Version")
        ),
        (Some("15"), Some("20"), Some("V2018_01_08"))
    );

    for (folder, name) in [
        ("inbox", "Inbox"),
        ("drafts", "Drafts"),
        ("root", ""),
        ("msgfolderroot", "Top of Information Store"),
    ] {
        let r = ews(&emu, &token, &as_room(&get_folder(folder, None))).await;
        let doc = parse_xml(&r.text());
        assert!(doc.find("Folder").is_some(), "{folder} is a plain Folder");
        assert_eq!(doc.text_of("DisplayName"), name);
    }

    // IdOnly returns just the id; the id round-trips through FolderId.
    let idonly = r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>"#;
    let doc = parse_xml(&ews(&emu, &token, &as_room(idonly)).await.text());
    let folder = doc.find("CalendarFolder").unwrap();
    assert_eq!(folder.children.len(), 1);
    let id = folder.children[0].attr("Id").unwrap().to_string();
    let by_id = format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="{id}"/><t:FolderId Id="AAMkAGI2bogus"/><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#
    );
    let doc = parse_xml(&ews(&emu, &token, &as_room(&by_id)).await.text());
    let messages: Vec<&Node> = doc
        .find("ResponseMessages")
        .unwrap()
        .children
        .iter()
        .collect();
    assert_eq!(messages.len(), 3, "one message per folder id, in order");
    assert_eq!(messages[0].attr("ResponseClass"), Some("Success"));
    assert_eq!(messages[0].text_of("FolderClass"), "IPF.Appointment");
    assert_eq!(
        messages[1].text_of("ResponseCode"),
        "ErrorInvalidIdMalformed"
    );
    assert_eq!(messages[2].text_of("DisplayName"), "Inbox");
}

#[tokio::test]
async fn get_folder_schema_errors() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let doc = fault(&ews(&emu, &token, &as_room(&get_folder("invalidparentid", None))).await);
    assert_eq!(doc.text_of("ResponseCode"), "ErrorSchemaValidation");
    assert!(
        doc.text_of("Violation")
            .contains("DistinguishedFolderIdNameType")
    );
    assert!(doc.text_of("LineNumber").parse::<u32>().unwrap() >= 1);
    let bad_child = r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:Bogus/><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>"#;
    let doc = fault(&ews(&emu, &token, &as_room(bad_child)).await);
    assert!(
        doc.text_of("Violation")
            .contains("invalid child element 'Bogus'"),
        "{}",
        doc.text_of("Violation")
    );
    let bad_field = r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>"#;
    assert_eq!(
        fault(&ews(&emu, &token, &as_room(bad_field)).await).text_of("ResponseCode"),
        "ErrorSchemaValidation"
    );
    let no_shape = r#"<m:GetFolder><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>"#;
    assert_eq!(
        fault(&ews(&emu, &token, &as_room(no_shape)).await).text_of("ResponseCode"),
        "ErrorSchemaValidation"
    );
}

/// Gives the service user `rights` and `flags` on Bob's calendar, then gets that folder as the
/// service user.
async fn bob_calendar_with(
    emu: &exo_emulator::RunningEmulator,
    token: &str,
    rights: RightsSpec,
    flags: Vec<PermissionFlag>,
) -> Response {
    emu.set_folder_permission(FolderPermission {
        mailbox: BOB.into(),
        folder: FolderName::Calendar,
        user: SVC.into(),
        rights,
        flags,
    })
    .unwrap();
    ews(emu, token, &soap(V2013, &get_folder("calendar", Some(BOB)))).await
}

#[tokio::test]
async fn effective_rights_follow_each_permission() {
    let emu = start().await;
    let token = user_token(&emu, SVC, SVC_PASSWORD).await;
    // (role, CreateContents, Read, ViewPrivateItems with the flag?)
    let cases = [
        ("Owner", ["true", "true", "true", "true", "true", "true"]),
        (
            "Editor",
            ["false", "true", "false", "false", "false", "true"],
        ),
        (
            "Author",
            ["false", "true", "false", "false", "false", "true"],
        ),
        (
            "Reviewer",
            ["false", "false", "false", "false", "false", "true"],
        ),
        (
            "Contributor",
            ["false", "true", "false", "false", "false", "true"],
        ),
        (
            "FolderVisible",
            ["false", "false", "false", "false", "false", "true"],
        ),
        (
            "PublishingEditor",
            ["false", "true", "true", "false", "false", "true"],
        ),
    ];
    for (role, expected) in cases {
        let r = bob_calendar_with(&emu, &token, RightsSpec::Role(role.into()), vec![]).await;
        let doc = parse_xml(&r.text());
        let rights = doc
            .find("EffectiveRights")
            .unwrap_or_else(|| panic!("{role}: {}", r.text()));
        let got: Vec<String> = [
            "CreateAssociated",
            "CreateContents",
            "CreateHierarchy",
            "Delete",
            "Modify",
            "Read",
        ]
        .iter()
        .map(|n| rights.text_of(n))
        .collect();
        assert_eq!(got, expected, "{role}");
        assert_eq!(
            rights.text_of("ViewPrivateItems"),
            "false",
            "{role} without CanViewPrivateItems"
        );
    }
    for role in ["AvailabilityOnly", "LimitedDetails", "None"] {
        let r = bob_calendar_with(&emu, &token, RightsSpec::Role(role.into()), vec![]).await;
        assert_eq!(
            parse_xml(&r.text()).text_of("ResponseCode"),
            "ErrorAccessDenied",
            "{role}"
        );
    }
    let r = bob_calendar_with(
        &emu,
        &token,
        RightsSpec::Rights(vec!["ReadItems".into(), "FolderVisible".into()]),
        vec![PermissionFlag::CanViewPrivateItems],
    )
    .await;
    assert_eq!(parse_xml(&r.text()).text_of("ViewPrivateItems"), "true");
    // Exchange2010 predates ViewPrivateItems.
    let old = soap(
        r#"<t:RequestServerVersion Version="Exchange2010"/>"#,
        &get_folder("calendar", Some(BOB)),
    );
    let doc = parse_xml(&ews(&emu, &token, &old).await.text());
    assert!(doc.find("EffectiveRights").is_some() && doc.find("ViewPrivateItems").is_none());
}

fn resolve(entry: &str, full: bool) -> String {
    format!(
        r#"<m:ResolveNames ReturnFullContactData="{full}" SearchScope="ActiveDirectory"><m:UnresolvedEntry>{entry}</m:UnresolvedEntry></m:ResolveNames>"#
    )
}

#[tokio::test]
async fn resolve_names_finds_primary_addresses() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    for entry in [
        ROOM_ALIAS,
        "SMTP:berlin@contoso.com",
        "Room Berlin",
        "room-berl",
    ] {
        let r = ews(&emu, &token, &as_room(&resolve(entry, true))).await;
        let doc = parse_xml(&r.text());
        assert_eq!(
            doc.find("ResolveNamesResponseMessage")
                .unwrap()
                .attr("ResponseClass"),
            Some("Success"),
            "{entry}: {}",
            r.text()
        );
        assert_eq!(
            doc.find("Mailbox").unwrap().text_of("EmailAddress"),
            ROOM,
            "{entry}"
        );
        assert_eq!(doc.text_of("RoutingType"), "SMTP");
        assert!(doc.find("Contact").is_some());
        assert_eq!(
            doc.find("ResolutionSet").unwrap().attr("TotalItemsInView"),
            Some("1")
        );
    }
    let r = ews(&emu, &token, &as_room(&resolve("room-", false))).await;
    let doc = parse_xml(&r.text());
    assert_eq!(
        doc.find("ResolveNamesResponseMessage")
            .unwrap()
            .attr("ResponseClass"),
        Some("Warning")
    );
    assert_eq!(
        doc.text_of("ResponseCode"),
        "ErrorNameResolutionMultipleResults"
    );
    assert_eq!(doc.find("ResolutionSet").unwrap().children.len(), 2);
    assert!(doc.find("Contact").is_none());
    let r = ews(&emu, &token, &as_room(&resolve("nobody-here", false))).await;
    assert_eq!(
        parse_xml(&r.text()).text_of("ResponseCode"),
        "ErrorNameResolutionNoResults"
    );
    let no_attr = r#"<m:ResolveNames><m:UnresolvedEntry>room</m:UnresolvedEntry></m:ResolveNames>"#;
    assert_eq!(
        fault(&ews(&emu, &token, &as_room(no_attr)).await).text_of("ResponseCode"),
        "ErrorSchemaValidation"
    );
}

#[tokio::test]
async fn request_validation() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let imp = impersonate("PrimarySmtpAddress", ROOM);

    let unknown = soap(&format!("{V2013}{imp}"), "<m:FrobnicateItem/>");
    assert_eq!(
        fault(&ews(&emu, &token, &unknown).await).text_of("ResponseCode"),
        "ErrorInvalidRequest"
    );

    let bad_version = soap(
        &format!(r#"<t:RequestServerVersion Version="Exchange2099"/>{imp}"#),
        &get_folder("calendar", None),
    );
    assert_eq!(
        fault(&ews(&emu, &token, &bad_version).await).text_of("ResponseCode"),
        "ErrorInvalidServerVersion"
    );
    for v in [
        "Exchange2010",
        "Exchange2010_SP1",
        "Exchange2010_SP2",
        "Exchange2013",
        "Exchange2013_SP1",
        "Exchange2015",
        "Exchange2016",
    ] {
        let ok = soap(
            &format!(r#"<t:RequestServerVersion Version="{v}"/>{imp}"#),
            &get_folder("calendar", None),
        );
        assert_eq!(ews(&emu, &token, &ok).await.status, 200, "{v}");
    }
    let no_version = soap(&imp, &get_folder("calendar", None));
    assert_eq!(
        ews(&emu, &token, &no_version).await.status,
        200,
        "processed as Exchange2007"
    );

    let malformed = "<?xml version=\"1.0\"?>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <soap:Body><m:GetFolder></soap:Body>\n</soap:Envelope>";
    let doc = fault(&ews(&emu, &token, malformed).await);
    assert_eq!(doc.text_of("ResponseCode"), "ErrorSchemaValidation");
    assert_eq!(doc.text_of("LineNumber"), "3");

    let https_ns = as_room(&get_folder("calendar", None)).replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "https://schemas.xmlsoap.org/soap/envelope/",
    );
    let doc = fault(&ews(&emu, &token, &https_ns).await);
    assert!(doc.text_of("Violation").contains("SOAP 1.1"));

    let dtd = "<!DOCTYPE x [<!ENTITY a \"b\">]><x/>";
    assert_eq!(
        fault(&ews(&emu, &token, dtd).await).text_of("ResponseCode"),
        "ErrorSchemaValidation"
    );
    let two_ops = soap(
        &format!("{V2013}{imp}"),
        &format!(
            "{}{}",
            get_folder("calendar", None),
            get_folder("inbox", None)
        ),
    );
    assert_eq!(
        fault(&ews(&emu, &token, &two_ops).await).text_of("ResponseCode"),
        "ErrorSchemaValidation"
    );
}
