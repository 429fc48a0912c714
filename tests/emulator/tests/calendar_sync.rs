//! SyncFolderItems over loopback HTTP: collapsed changes, paging, tamper-evident sync states
//! (forged, foreign, expired, injected), the `Ignore` list, private items for delegates and
//! the `ConcurrentSyncCalls` limit.

mod calendar_support;

use calendar_support::*;
use exo_emulator::{FaultAction, FaultSpec};
use jiff::SignedDuration;
use serde_json::json;

fn item(subject: &str, day: u32) -> String {
    format!(
        "<t:Subject>{subject}</t:Subject><t:Start>2026-05-{day:02}T08:00:00Z</t:Start><t:End>2026-05-{day:02}T09:00:00Z</t:End>"
    )
}

struct Page {
    state: String,
    last: bool,
    creates: Vec<String>,
    updates: Vec<String>,
    deletes: Vec<String>,
}

async fn sync(ews: &Ews, who: &As, folder_xml: &str, state: Option<&str>, max: usize) -> Page {
    let r = ews.call(who, &sync_items(folder_xml, state, max, "")).await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    let ids = |kind: &str| -> Vec<String> {
        doc.all(kind)
            .iter()
            .map(|c| {
                let subject = c.text_of("Subject");
                if subject.is_empty() {
                    c.find("ItemId")
                        .and_then(|i| i.attr("Id"))
                        .unwrap_or("")
                        .to_owned()
                } else {
                    subject
                }
            })
            .collect()
    };
    Page {
        state: doc.text_of("SyncState"),
        last: doc.text_of("IncludesLastItemInRange") == "true",
        creates: ids("Create"),
        updates: ids("Update"),
        deletes: ids("Delete"),
    }
}

async fn delete(ews: &Ews, who: &As, id: &str) {
    let body = format!(
        r#"<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#
    );
    assert_eq!(ews.call(who, &body).await.xml().codes(), ["NoError"]);
}

async fn rename(ews: &Ews, who: &As, id: &str, subject: &str) {
    let body = format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:CalendarItem><t:Subject>{subject}</t:Subject></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    );
    assert_eq!(ews.call(who, &body).await.xml().codes(), ["NoError"]);
}

#[tokio::test]
async fn changes_are_collapsed_per_item_between_syncs() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let (a, _) = ews_create(&ews, &room, &cal, &item("A", 4)).await;
    let (b, _) = ews_create(&ews, &room, &cal, &item("B", 5)).await;
    rename(&ews, &room, &a, "A2").await;
    let first = sync(&ews, &room, &cal, None, 512).await;
    assert_eq!(first.creates, ["A2", "B"]);
    assert!(first.updates.is_empty() && first.deletes.is_empty() && first.last);
    assert!(first.state.starts_with("H4sIA"), "{}", first.state);

    let (c, _) = ews_create(&ews, &room, &cal, &item("C", 6)).await;
    delete(&ews, &room, &c).await;
    rename(&ews, &room, &b, "B2").await;
    rename(&ews, &room, &b, "B3").await;
    delete(&ews, &room, &a).await;
    let (_, _) = ews_create(&ews, &room, &cal, &item("D", 7)).await;
    let second = sync(&ews, &room, &cal, Some(&first.state), 512).await;
    assert_eq!(second.updates, ["B3"]);
    assert_eq!(second.deletes, vec![a]);
    assert_eq!(second.creates, ["D"]);
    let third = sync(&ews, &room, &cal, Some(&second.state), 512).await;
    assert!(third.creates.is_empty() && third.updates.is_empty() && third.deletes.is_empty());
    assert!(third.last);
}

#[tokio::test]
async fn pages_follow_max_changes_returned_and_lose_nothing() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    for i in 0..7 {
        ews_create(&ews, &room, &cal, &item(&format!("I{i}"), 4 + i)).await;
    }
    let mut state = None;
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let page = sync(&ews, &room, &cal, state.as_deref(), 3).await;
        sizes.push((page.creates.len(), page.last));
        seen.extend(page.creates);
        state = Some(page.state);
        if page.last {
            break;
        }
    }
    assert_eq!(sizes, [(3, false), (3, false), (1, true)]);
    assert_eq!(seen, ["I0", "I1", "I2", "I3", "I4", "I5", "I6"]);
}

#[tokio::test]
async fn max_changes_returned_must_be_1_to_512() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let cal = folder("calendar", None);
    for bad in [0, 513] {
        let r = ews.call(&imp(ROOM), &sync_items(&cal, None, bad, "")).await;
        assert_eq!(r.status, 500, "{}", r.text());
        let fault = r.xml();
        assert_eq!(fault.text_of("ResponseCode"), "ErrorSchemaValidation");
        assert!(
            fault.text_of("Violation").contains("MaxChangesReturned"),
            "{}",
            r.text()
        );
    }
    for good in [1, 512] {
        let r = ews
            .call(&imp(ROOM), &sync_items(&cal, None, good, ""))
            .await;
        assert_eq!(r.xml().codes(), ["NoError"]);
    }
}

fn assert_invalid_state(r: &Response) {
    let doc = r.xml();
    assert_eq!(doc.codes(), ["ErrorInvalidSyncStateData"], "{}", r.text());
    assert_eq!(
        doc.text_of("MessageText"),
        "Synchronization state data is corrupt or otherwise invalid."
    );
    let state = doc.find("SyncState").expect("an empty SyncState");
    assert!(state.text.trim().is_empty() && state.children.is_empty());
    assert_eq!(doc.text_of("IncludesLastItemInRange"), "true");
}

#[tokio::test]
async fn forged_foreign_expired_and_injected_states_are_refused() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    ews_create(&ews, &room, &cal, &item("A", 4)).await;
    let state = sync(&ews, &room, &cal, None, 512).await.state;

    // One flipped character, a truncated state, garbage.
    let mut forged = state.clone().into_bytes();
    forged[12] = if forged[12] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [
        forged.as_str(),
        &state[..state.len() - 6],
        "H4sIAAAAAAAEAO29B2AcSZY==",
    ] {
        assert_invalid_state(&ews.call(&room, &sync_items(&cal, Some(bad), 512, "")).await);
    }
    // The state of the room's calendar used for another mailbox, and for the inbox.
    assert_invalid_state(
        &ews.call(&imp(ROOM2), &sync_items(&cal, Some(&state), 512, ""))
            .await,
    );
    assert_invalid_state(
        &ews.call(
            &room,
            &sync_items(&folder("inbox", None), Some(&state), 512, ""),
        )
        .await,
    );
    // The fault hook: the next state presented is invalid, once.
    emu.inject_fault(FaultSpec {
        operation: Some("SyncFolderItems".into()),
        ..FaultSpec::ews(FaultAction::InvalidSyncState)
    });
    assert_invalid_state(
        &ews.call(&room, &sync_items(&cal, Some(&state), 512, ""))
            .await,
    );
    let ok = sync(&ews, &room, &cal, Some(&state), 512).await;
    assert!(ok.last);
    // A month later the state has expired (the emulator clock moves; tokens are renewed).
    emu.advance_clock(SignedDuration::from_hours(24 * 31));
    let ews = Ews::new(&emu).await;
    assert_invalid_state(
        &ews.call(&room, &sync_items(&cal, Some(&ok.state), 512, ""))
            .await,
    );
    // A full resync without a state still works.
    assert_eq!(sync(&ews, &room, &cal, None, 512).await.creates, ["A"]);
}

#[tokio::test]
async fn ignored_items_are_not_reported() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let state = sync(&ews, &room, &cal, None, 512).await.state;
    let (a, _) = ews_create(&ews, &room, &cal, &item("Mine", 4)).await;
    ews_create(&ews, &room, &cal, &item("Theirs", 5)).await;
    let ignore = format!(r#"<m:Ignore><t:ItemId Id="{a}"/></m:Ignore>"#);
    let r = ews
        .call(&room, &sync_items(&cal, Some(&state), 512, &ignore))
        .await;
    let creates: Vec<String> = r
        .xml()
        .all("Create")
        .iter()
        .map(|c| c.text_of("Subject"))
        .collect();
    assert_eq!(creates, ["Theirs"], "{}", r.text());
}

#[tokio::test]
async fn sync_reports_masters_not_occurrences_and_hides_private_items_from_delegates() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let permission: exo_emulator::seed::FolderPermission = serde_json::from_value(json!({
        "mailbox": BOB, "folder": "calendar", "user": SVC, "rights": "Reviewer"
    }))
    .unwrap();
    emu.set_folder_permission(permission).unwrap();
    let bob_cal = folder("calendar", Some(BOB));
    let series = admin_create(
        &emu,
        BOB,
        json!({"subject": "Series", "start": "2026-05-04T08:00:00Z", "end": "2026-05-04T09:00:00Z",
               "recurrence": {"pattern": {"type": "daily", "interval": 1}, "range": {"type": "numbered", "start": "2026-05-04", "count": 5}}}),
    )
    .await;
    let private = admin_create(&emu, BOB, json!({"subject": "Secret", "sensitivity": "Private", "start": "2026-05-05T12:00:00Z", "end": "2026-05-05T13:00:00Z"})).await;
    let page = sync(&ews, &As::Delegate, &bob_cal, None, 512).await;
    assert_eq!(page.creates, ["Series"]);
    // Editing an occurrence is an update of the master.
    let occurrences = admin(
        &emu,
        "GET",
        &format!(
            "mailboxes/{BOB}/items/{}/occurrences",
            percent_encode(series["id"].as_str().unwrap())
        ),
        &json!(null),
    )
    .await
    .json();
    let second = occurrences["occurrences"][1]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{occurrences}"))
        .to_owned();
    let r = admin_patch(&emu, BOB, &second, &json!({"subject": "Changed once"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A private item that becomes normal appears; one that becomes private disappears.
    admin_patch(
        &emu,
        BOB,
        private["id"].as_str().unwrap(),
        &json!({"sensitivity": "Normal"}),
    )
    .await;
    let next = sync(&ews, &As::Delegate, &bob_cal, Some(&page.state), 512).await;
    // The item existed before the state, so it comes as an update the client has not seen.
    assert_eq!(next.updates, ["Series", "Secret"]);
    assert!(next.creates.is_empty());
    admin_patch(
        &emu,
        BOB,
        private["id"].as_str().unwrap(),
        &json!({"sensitivity": "Private"}),
    )
    .await;
    let last = sync(&ews, &As::Delegate, &bob_cal, Some(&next.state), 512).await;
    assert_eq!(last.deletes, [private["id"].as_str().unwrap().to_owned()]);
}

#[tokio::test]
async fn more_than_five_concurrent_sync_calls_are_throttled() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    emu.inject_fault(FaultSpec {
        count: 6,
        operation: Some("SyncFolderItems".into()),
        ..FaultSpec::ews(FaultAction::Latency { ms: 1500 })
    });
    let cal = folder("calendar", None);
    let calls = (0..6)
        .map(|_| {
            let ews = ews.clone();
            let body = sync_items(&cal, None, 10, "");
            tokio::spawn(async move { ews.call(&imp(ROOM), &body).await })
        })
        .collect::<Vec<_>>();
    let mut codes = Vec::new();
    let mut busy_answer = None;
    for call in calls {
        let r = call.await.unwrap();
        let code = r.xml().codes().remove(0);
        if code == "ErrorServerBusy" {
            busy_answer = Some(r.xml());
        }
        codes.push(code);
    }
    let busy = codes.iter().filter(|c| *c == "ErrorServerBusy").count();
    assert!(busy >= 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "NoError").count() + busy, 6);
    // The answer has the shape of the real Exchange Online sample (policy 5, back-off 5000).
    let busy = busy_answer.expect("a busy answer");
    assert_eq!(busy.text_of("Value"), "5000");
    assert!(
        busy.text_of("MessageText")
            .contains("'ConcurrentSyncCalls', policy value '5'")
    );
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/ews/syncfolderitems-error-serverbusy-o365.xml"
    ))
    .expect("the sample");
    let sample = parse_xml(&sample);
    let response = |doc: &Node| doc.child("Body").unwrap().children[0].shape();
    assert_eq!(response(&busy), response(&sample));
    let r = ews.call(&imp(ROOM), &sync_items(&cal, None, 10, "")).await;
    assert_eq!(r.xml().codes(), ["NoError"]);
}
