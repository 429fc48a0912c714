//! Fidelity of the calendar operations: the emulator accepts the real request samples of
//! `tests/fixtures/ews` (with the documentation's wrong `https://` SOAP namespace
//! corrected and an impersonation header added), and its answers have the same element
//! structure and namespaces as the real response samples (prefixes, text and attribute values
//! ignored). Differences that are the emulator's documented choices are removed from the
//! sample before comparing and named at each comparison.

mod calendar_support;

use calendar_support::*;
use serde_json::json;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/ews")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
        .replace("https://schemas.xmlsoap.org/soap/envelope/", SOAP)
}

/// The operation response element (`m:<Op>Response`) of an envelope.
fn response_of(doc: &Node) -> Node {
    let body = doc
        .child("Body")
        .unwrap_or_else(|| panic!("no Body in {doc:?}"));
    body.children[0].clone()
}

fn shape(node: &Node) -> Vec<String> {
    node.shape()
}

fn assert_same_shape(ours: &Node, sample: &Node, what: &str) {
    let (a, b) = (shape(ours), shape(sample));
    assert_eq!(
        a,
        b,
        "{what}: element structure differs\nemulator:\n{}\nsample:\n{}",
        a.join("\n"),
        b.join("\n")
    );
}

/// Adds an impersonation header to a sample request (creating the header if there is none).
fn impersonated(request: &str, mailbox: &str) -> String {
    let header = format!(
        "<t:ExchangeImpersonation xmlns:t=\"{T}\"><t:ConnectingSID><t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
    );
    if let Some(i) = request.find("<soap:Header>") {
        let at = i + "<soap:Header>".len();
        format!("{}{header}{}", &request[..at], &request[at..])
    } else {
        request.replacen(
            "<soap:Body>",
            &format!("<soap:Header>{header}</soap:Header><soap:Body>"),
            1,
        )
    }
}

async fn post_raw(emu: &exo_emulator::RunningEmulator, token: &str, xml: &str) -> Response {
    post_soap(&emu.ews_url(), token, None, xml)
        .await
        .expect("EWS answers")
}

/// Replaces the n-th occurrence of `from` by `to`, one after the other.
fn substitute(text: &str, from: &str, values: &[&str]) -> String {
    let mut out = String::new();
    let mut rest = text;
    for value in values {
        let Some(i) = rest.find(from) else { break };
        out.push_str(&rest[..i]);
        out.push_str(value);
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn create_item_sample_request_and_response() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let request = impersonated(&fixture("createitem-calendaritem-request.xml"), ALICE);
    let r = post_raw(&emu, &token, &request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ours = response_of(&r.xml());
    let sample = response_of(&parse_xml(&fixture("createitem-calendaritem-response.xml")));
    assert_same_shape(&ours, &sample, "CreateItem");
    // The sample's attendees are external: the item is saved, nothing is delivered.
    let items = admin_items(&emu, ALICE, "calendar").await;
    assert_eq!(items[0]["subject"], "Planning Meeting");
    assert_eq!(items[0]["calendar"]["start"], "2006-11-02T14:00:00Z");
    assert_eq!(items[0]["calendar"]["location"], "Conference Room 721");
}

#[tokio::test]
async fn get_item_sample_batch() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let alice = imp(ALICE);
    let cal = folder("calendar", None);
    let body = |text: &str| {
        format!(
            r#"<t:Body BodyType="HTML">&lt;html&gt;&lt;body&gt;{text}&lt;/body&gt;&lt;/html&gt;</t:Body>"#
        )
    };
    let (a, _) = ews_create(
        &ews,
        &alice,
        &cal,
        &format!("<t:Subject>Review current quarterly deliverables</t:Subject>{}<t:ReminderMinutesBeforeStart>30</t:ReminderMinutesBeforeStart><t:Start>2014-01-19T18:59:07Z</t:Start><t:End>2014-01-19T21:59:07Z</t:End><t:Location>Local food bank</t:Location>", body("Wrap up"))
    )
    .await;
    let (b, _) = ews_create(
        &ews,
        &alice,
        &cal,
        &format!("<t:Subject>Food bank delivery</t:Subject>{}<t:ReminderMinutesBeforeStart>15</t:ReminderMinutesBeforeStart><t:Start>2014-01-18T18:59:07Z</t:Start><t:End>2014-01-18T19:59:07Z</t:End><t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Saturday</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2014-01-18</t:StartDate></t:NoEndRecurrence></t:Recurrence>", body("Deliver"))
    )
    .await;
    let attendees: String = [
        "Mack@contoso.com",
        "Sadie@contoso.com",
        "Magdalena@contoso.com",
    ]
    .iter()
    .map(|m| {
        format!(
            "<t:Attendee><t:Mailbox><t:EmailAddress>{m}</t:EmailAddress></t:Mailbox></t:Attendee>"
        )
    })
    .collect();
    let (c, _) = ews_create(
        &ews,
        &alice,
        &cal,
        &format!("<t:Subject>Code Blast</t:Subject>{}<t:ReminderMinutesBeforeStart>30</t:ReminderMinutesBeforeStart><t:Start>2014-01-20T18:59:08Z</t:Start><t:End>2014-01-21T00:59:08Z</t:End><t:Location>The lounge</t:Location><t:RequiredAttendees>{attendees}</t:RequiredAttendees>", body("Let's get together"))
    )
    .await;
    let request = impersonated(
        &substitute(
            &fixture("getitem-batch-request.xml"),
            r#"Id="AAMkA" ChangeKey="DwAAA""#,
            &[
                &format!(r#"Id="{a}""#),
                &format!(r#"Id="{b}""#),
                &format!(r#"Id="{c}""#),
            ],
        ),
        ALICE,
    );
    let r = post_raw(&emu, &ews.app, &request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ours = response_of(&r.xml());
    assert_eq!(ours.codes(), ["NoError", "NoError", "NoError"]);
    let sample = response_of(&parse_xml(&fixture("getitem-batch-response.xml")));
    assert_same_shape(&ours, &sample, "GetItem batch");
}

#[tokio::test]
async fn find_item_sample_calendar_view_is_truncated_like_the_sample() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let alice = imp(ALICE);
    for day in 21..28 {
        ews_create(
            &ews,
            &alice,
            &folder("calendar", None),
            &format!("<t:Subject>Meeting {day}</t:Subject><t:Start>2013-08-{day}T19:30:00Z</t:Start><t:End>2013-08-{day}T20:00:00Z</t:End>"),
        )
        .await;
    }
    let request = fixture("finditem-calendarview-request.xml").replace(
        r#"<t:FolderId Id="AAMk" ChangeKey="AgAA" />"#,
        r#"<t:DistinguishedFolderId Id="calendar" />"#,
    );
    let r = post_raw(&emu, &ews.app, &impersonated(&request, ALICE)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ours = response_of(&r.xml());
    let root = ours.find("RootFolder").unwrap();
    assert_eq!(root.attr("TotalItemsInView"), Some("7"));
    assert_eq!(root.attr("IncludesLastItemInRange"), Some("false"));
    let sample = response_of(&parse_xml(&fixture(
        "finditem-calendarview-response-truncated.xml",
    )));
    assert_same_shape(&ours, &sample, "FindItem CalendarView");
}

#[tokio::test]
async fn find_item_sample_restriction_on_messages() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let tagged = |subject: &str, index: i32| {
        json!({"folder": "inbox", "subject": subject, "from": "sadie@contoso.com", "is_read": true,
               "extended_properties": [{"set": "aa3df801-4fc7-401f-bbc1-7c93d6498c2e", "name": "ItemIndex", "type": "Integer", "value": index.to_string()}]})
    };
    for (subject, index) in [
        ("meeting notes", 5),
        ("Meeting Notes", 6),
        ("Meeting notes", 7),
    ] {
        admin_create(&emu, ALICE, tagged(subject, index)).await;
    }
    admin_create(
        &emu,
        ALICE,
        json!({"folder": "inbox", "subject": "meeting notes", "from": "mack@contoso.com"}),
    )
    .await;
    admin_create(
        &emu,
        ALICE,
        json!({"folder": "inbox", "subject": "lunch", "from": "sadie@contoso.com"}),
    )
    .await;
    let r = post_raw(
        &emu,
        &ews.app,
        &impersonated(&fixture("finditem-restriction-request.xml"), ALICE),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ours = response_of(&r.xml());
    let indexes: Vec<String> = ours.all("Value").iter().map(|v| v.text.clone()).collect();
    assert_eq!(indexes.len(), 3, "{}", r.text());
    let root = ours.find("RootFolder").unwrap();
    assert_eq!(root.attr("IndexedPagingOffset"), Some("3"));
    assert_eq!(root.attr("TotalItemsInView"), Some("3"));
    let sample = response_of(&parse_xml(&fixture("finditem-restriction-response.xml")));
    assert_same_shape(&ours, &sample, "FindItem with Restriction");
}

#[tokio::test]
async fn update_item_sample_batch() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let alice = imp(ALICE);
    let mut ids = Vec::new();
    for subject in [
        "Review current quarterly deliverables",
        "Food bank delivery",
        "Code Blast",
    ] {
        ids.push(ews_create(&ews, &alice, &folder("calendar", None), &format!("<t:Subject>{subject}</t:Subject><t:Start>2014-01-19T18:59:07Z</t:Start><t:End>2014-01-19T21:59:07Z</t:End>")).await);
    }
    let values: Vec<String> = ids
        .iter()
        .map(|(id, ck)| format!(r#"Id="{id}" ChangeKey="{ck}""#))
        .collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let request = impersonated(
        &substitute(
            &fixture("updateitem-batch-request.xml"),
            r#"Id="AAMkA" ChangeKey="DwAAA""#,
            &values,
        ),
        ALICE,
    );
    let r = post_raw(&emu, &ews.app, &request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ours = response_of(&r.xml());
    assert_eq!(
        ours.codes(),
        ["NoError", "NoError", "NoError"],
        "{}",
        r.text()
    );
    let sample = response_of(&parse_xml(&fixture("updateitem-batch-response.xml")));
    assert_same_shape(&ours, &sample, "UpdateItem batch");
    let subjects: Vec<String> = admin_items(&emu, ALICE, "calendar")
        .await
        .iter()
        .map(|i| i["subject"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        subjects
            .iter()
            .all(|s| s.starts_with("Company headquarters are moving")),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn delete_item_sample_batch_of_gone_items() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let alice = imp(ALICE);
    let mut ids = Vec::new();
    for day in 1..=3 {
        ids.push(ews_create(&ews, &alice, &folder("calendar", None), &format!("<t:Start>2014-01-0{day}T08:00:00Z</t:Start><t:End>2014-01-0{day}T09:00:00Z</t:End>")).await.0);
    }
    let items: String = ids
        .iter()
        .map(|id| format!(r#"<t:ItemId Id="{id}"/>"#))
        .collect();
    let body = format!(
        r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToAllAndSaveCopy"><m:ItemIds>{items}</m:ItemIds></m:DeleteItem>"#
    );
    assert_eq!(
        ews.call(&alice, &body).await.xml().codes(),
        ["NoError", "NoError", "NoError"]
    );
    let again = ews.call(&alice, &body).await;
    let ours = response_of(&again.xml());
    let sample = response_of(&parse_xml(&fixture(
        "deleteitem-batch-response-itemnotfound.xml",
    )));
    assert_same_shape(&ours, &sample, "DeleteItem of gone items");
    assert_eq!(ours.codes(), sample.codes());
}

#[tokio::test]
async fn sync_folder_items_samples() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let alice = imp(ALICE);
    let inbox = folder("inbox", None);
    let x = admin_create(
        &emu,
        ALICE,
        json!({"folder": "inbox", "subject": "X", "from": "hope.gross@contoso.com"}),
    )
    .await;
    let w = admin_create(
        &emu,
        ALICE,
        json!({"folder": "inbox", "subject": "W", "from": "hope.gross@contoso.com"}),
    )
    .await;
    let first = ews
        .call(&alice, &sync_items(&inbox, None, 512, ""))
        .await
        .xml();
    let state = first.text_of("SyncState");
    let r = admin_patch(
        &emu,
        ALICE,
        x["id"].as_str().unwrap(),
        &json!({"subject": "X2"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    admin_create(
        &emu,
        ALICE,
        json!({"folder": "inbox", "subject": "Y", "from": "mack.chaves@contoso.com"}),
    )
    .await;
    admin_create(
        &emu,
        ALICE,
        json!({"folder": "inbox", "subject": "Z", "from": "mack.chaves@contoso.com"}),
    )
    .await;
    let r = admin(
        &emu,
        "DELETE",
        &format!(
            "mailboxes/{ALICE}/items/{}",
            percent_encode(w["id"].as_str().unwrap())
        ),
        &json!(null),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let id_only = sync_items(&inbox, Some(&state), 512, "").replace(
        r#"<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties>"#,
        "",
    );
    let r = ews.call(&alice, &id_only).await;
    let ours = response_of(&r.xml());
    // The sample's items carry every default property and a ReadFlagChange; the emulator's
    // answer is compared with the items reduced to their ItemId (the shape asked for) and
    // without ReadFlagChange, which the emulator never produces.
    let mut sample = response_of(&parse_xml(&fixture("syncfolderitems-response-changes.xml")));
    fn reduce(node: &mut Node) {
        node.children.retain(|c| c.name != "ReadFlagChange");
        for child in &mut node.children {
            if child.name == "Message" {
                child.children.retain(|c| c.name == "ItemId");
            } else {
                reduce(child);
            }
        }
    }
    reduce(&mut sample);
    assert_same_shape(&ours, &sample, "SyncFolderItems changes");

    // The error shape of an invalid state.
    let r = ews
        .call(
            &alice,
            &sync_items(&inbox, Some("H4sIAAAAAAAEAO29B2AcSZY=="), 512, ""),
        )
        .await;
    let ours = response_of(&r.xml());
    let sample = response_of(&parse_xml(&fixture(
        "syncfolderitems-error-invalidsyncstatedata.xml",
    )));
    assert_same_shape(&ours, &sample, "ErrorInvalidSyncStateData");
    assert_eq!(ours.codes(), sample.codes());
}

#[tokio::test]
async fn sync_folder_items_sample_meeting_request_in_an_inbox() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let invite = format!(
        r#"<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId>{}</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Budget Q3</t:Subject><t:Start>2006-08-02T17:30:00Z</t:Start><t:End>2006-08-02T19:30:00Z</t:End><t:Location>Conference Room 2</t:Location><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></m:Items></m:CreateItem>"#,
        folder("calendar", None)
    );
    assert_eq!(
        ews.call(&imp(ALICE), &invite).await.xml().codes(),
        ["NoError"]
    );
    let fields: String = [
        "item:Subject",
        "item:Sensitivity",
        "meeting:IsOutOfDate",
        "meeting:HasBeenProcessed",
        "meeting:ResponseType",
        "meetingRequest:IntendedFreeBusyStatus",
        "calendar:Start",
        "calendar:End",
        "calendar:Location",
        "calendar:Organizer",
    ]
    .iter()
    .map(|f| format!(r#"<t:FieldURI FieldURI="{f}"/>"#))
    .collect();
    let body = format!(
        r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>{fields}</t:AdditionalProperties></m:ItemShape><m:SyncFolderId>{}</m:SyncFolderId><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>"#,
        folder("inbox", None)
    );
    let r = ews.call(&imp(BOB), &body).await;
    let ours = response_of(&r.xml());
    assert_eq!(ours.text_of("Subject"), "Budget Q3", "{}", r.text());
    assert_eq!(ours.text_of("ResponseType"), "NoResponseReceived");
    let sample = response_of(&parse_xml(&fixture(
        "syncfolderitems-response-create-meetingrequest.xml",
    )));
    assert_same_shape(&ours, &sample, "SyncFolderItems with a MeetingRequest");
}
