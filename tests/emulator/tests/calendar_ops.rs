//! Calendar operations over loopback HTTP with an independent SOAP client: CreateItem,
//! GetItem, FindItem, UpdateItem and DeleteItem, their errors, private items and meetings
//! with rooms.

mod calendar_support;

use calendar_support::*;
use serde_json::json;

const WEEKLY_BERLIN: &str = r#"<t:Subject>Weekly sync</t:Subject><t:Start>2026-03-16T09:00:00</t:Start><t:End>2026-03-16T10:00:00</t:End><t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday</t:DaysOfWeek></t:WeeklyRecurrence><t:NumberedRecurrence><t:StartDate>2026-03-16</t:StartDate><t:NumberOfOccurrences>6</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence><t:StartTimeZone Id="W. Europe Standard Time"/><t:EndTimeZone Id="W. Europe Standard Time"/>"#;

#[tokio::test]
async fn create_then_get_item_round_trips_calendar_fields() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let (id, ck) = ews_create(
        &ews,
        &room,
        &folder("calendar", None),
        r#"<t:Subject>Board &amp; budget</t:Subject><t:Sensitivity>Private</t:Sensitivity><t:Body BodyType="Text">Agenda: numbers</t:Body><t:ReminderIsSet>true</t:ReminderIsSet><t:ReminderMinutesBeforeStart>30</t:ReminderMinutesBeforeStart><t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/><t:Value>B-42</t:Value></t:ExtendedProperty><t:Start>2026-05-04T14:00:00</t:Start><t:End>2026-05-04T15:30:00</t:End><t:LegacyFreeBusyStatus>Tentative</t:LegacyFreeBusyStatus><t:Location>Berlin</t:Location><t:StartTimeZone Id="W. Europe Standard Time"/>"#,
    )
    .await;
    assert!(id.starts_with("AAMkA"), "{id}");
    assert!(ck.starts_with("DwAAABYAAAA"), "{ck}");
    let r = ews
        .call(
            &room,
            &get_item(
                &[&id],
                "Default",
                &[
                    "item:Sensitivity",
                    "calendar:StartTimeZone",
                    r#"<t:ExtendedFieldURI PropertySetId="00020329-0000-0000-C000-000000000046" PropertyName="RoomsBookingId" PropertyType="String"/>"#,
                ],
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    let item = doc.find("CalendarItem").unwrap();
    assert_eq!(item.text_of("Subject"), "Board & budget");
    assert_eq!(item.text_of("Body"), "Agenda: numbers");
    assert_eq!(item.find("Body").unwrap().attr("BodyType"), Some("Text"));
    assert_eq!(item.text_of("Sensitivity"), "Private");
    // 14:00 in Berlin in May (CEST, UTC+2).
    assert_eq!(item.text_of("Start"), "2026-05-04T12:00:00Z");
    assert_eq!(item.text_of("End"), "2026-05-04T13:30:00Z");
    assert_eq!(item.text_of("Duration"), "PT1H30M");
    assert_eq!(item.text_of("LegacyFreeBusyStatus"), "Tentative");
    assert_eq!(item.text_of("CalendarItemType"), "Single");
    assert_eq!(item.text_of("ReminderMinutesBeforeStart"), "30");
    assert_eq!(
        item.find("StartTimeZone").unwrap().attr("Id"),
        Some("W. Europe Standard Time")
    );
    assert_eq!(
        item.find("ExtendedProperty").unwrap().text_of("Value"),
        "B-42"
    );
    assert_eq!(
        item.find("ItemId").unwrap().attr("ChangeKey"),
        Some(ck.as_str())
    );
    assert_eq!(
        item.find("Organizer").unwrap().text_of("EmailAddress"),
        ROOM
    );
}

#[tokio::test]
async fn create_item_enforces_the_calendar_rules() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let item = "<t:Subject>x</t:Subject><t:Start>2026-05-04T14:00:00Z</t:Start><t:End>2026-05-04T15:00:00Z</t:End>";
    let no_attr = format!(
        r#"<m:CreateItem><m:SavedItemFolderId>{}</m:SavedItemFolderId><m:Items><t:CalendarItem>{item}</t:CalendarItem></m:Items></m:CreateItem>"#,
        folder("calendar", None)
    );
    assert_eq!(
        ews.call(&room, &no_attr).await.xml().codes(),
        ["ErrorSendMeetingInvitationsRequired"]
    );
    let inbox = ews
        .call(
            &room,
            &create_item("SendToNone", &folder("inbox", None), item),
        )
        .await;
    assert_eq!(
        inbox.xml().codes(),
        ["ErrorCannotCreateCalendarItemInNonCalendarFolder"]
    );
    let backwards = ews
        .call(
            &room,
            &create_item(
                "SendToNone",
                &folder("calendar", None),
                "<t:Start>2026-05-04T14:00:00Z</t:Start><t:End>2026-05-04T13:00:00Z</t:End>",
            ),
        )
        .await;
    assert_eq!(
        backwards.xml().codes(),
        ["ErrorCalendarEndDateIsEarlierThanStartDate"]
    );
    let bad_zone = ews
        .call(
            &room,
            &create_item(
                "SendToNone",
                &folder("calendar", None),
                r#"<t:Start>2026-05-04T14:00:00</t:Start><t:StartTimeZone Id="Europe/Berlin"/>"#,
            ),
        )
        .await;
    assert_eq!(bad_zone.xml().codes(), ["ErrorCalendarInvalidTimeZone"]);
    let read_only = ews
        .call(
            &room,
            &create_item("SendToNone", &folder("calendar", None), "<t:Start>2026-05-04T14:00:00Z</t:Start><t:CalendarItemType>Single</t:CalendarItemType>"),
        )
        .await;
    assert_eq!(read_only.xml().codes(), ["ErrorInvalidPropertySet"]);
    // Out of schema order: a SOAP fault, not an item error.
    let disorder = ews
        .call(
            &room,
            &create_item(
                "SendToNone",
                &folder("calendar", None),
                "<t:Location>x</t:Location><t:Subject>y</t:Subject>",
            ),
        )
        .await;
    assert_eq!(disorder.status, 500);
    assert!(
        disorder.text().contains("ErrorSchemaValidation"),
        "{}",
        disorder.text()
    );
    // Nothing was stored by the failed requests.
    assert!(admin_items(&emu, ROOM, "calendar").await.is_empty());
}

#[tokio::test]
async fn get_item_batches_are_partial_success_in_order() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let (a, _) = ews_create(&ews, &room, &cal, "<t:Subject>A</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    let (b, _) = ews_create(&ews, &room, &cal, "<t:Subject>B</t:Subject><t:Start>2026-05-05T08:00:00Z</t:Start><t:End>2026-05-05T09:00:00Z</t:End>").await;
    let delete = format!(
        r#"<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{b}"/></m:ItemIds></m:DeleteItem>"#
    );
    assert_eq!(ews.call(&room, &delete).await.xml().codes(), ["NoError"]);
    let r = ews
        .call(
            &room,
            &get_item(&[&a, "AAMkAGI2NGVhZTVl", &b], "IdOnly", &["item:Subject"]),
        )
        .await;
    let doc = r.xml();
    assert_eq!(
        doc.codes(),
        ["NoError", "ErrorInvalidIdMalformed", "ErrorItemNotFound"],
        "{}",
        r.text()
    );
    let messages = doc.all("GetItemResponseMessage");
    assert_eq!(messages[0].attr("ResponseClass"), Some("Success"));
    assert_eq!(messages[0].text_of("Subject"), "A");
    assert_eq!(messages[1].attr("ResponseClass"), Some("Error"));
    assert_eq!(messages[1].text_of("MessageText"), "Id is malformed.");
    assert_eq!(
        messages[2].text_of("MessageText"),
        "The specified object was not found in the store."
    );
}

#[tokio::test]
async fn calendar_view_expands_a_series_in_its_own_time_zone() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    ews_create(&ews, &room, &cal, WEEKLY_BERLIN).await;
    ews_create(&ews, &room, &cal, "<t:Subject>One-off</t:Subject><t:Start>2026-03-24T12:00:00Z</t:Start><t:End>2026-03-24T13:00:00Z</t:End>").await;
    let r = ews
        .call(
            &room,
            &calendar_view(&cal, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", None),
        )
        .await;
    let doc = r.xml();
    let starts: Vec<String> = doc
        .all("CalendarItem")
        .iter()
        .map(|i| i.text_of("Start"))
        .collect();
    // 09:00 Berlin is 08:00Z before 29 March (CET) and 07:00Z after (CEST).
    assert_eq!(
        starts,
        [
            "2026-03-16T08:00:00Z",
            "2026-03-23T08:00:00Z",
            "2026-03-24T12:00:00Z",
            "2026-03-30T07:00:00Z",
            "2026-04-06T07:00:00Z",
            "2026-04-13T07:00:00Z",
            "2026-04-20T07:00:00Z"
        ],
        "{}",
        r.text()
    );
    let types: Vec<String> = doc
        .all("CalendarItem")
        .iter()
        .map(|i| i.text_of("CalendarItemType"))
        .collect();
    assert_eq!(types.iter().filter(|t| *t == "Occurrence").count(), 6);
    let root = doc.find("RootFolder").unwrap();
    assert_eq!(root.attr("TotalItemsInView"), Some("7"));
    assert_eq!(root.attr("IncludesLastItemInRange"), Some("true"));

    // Truncation: the first three by start, with the real total.
    let r = ews
        .call(
            &room,
            &calendar_view(
                &cal,
                "2026-03-01T00:00:00Z",
                "2026-05-01T00:00:00Z",
                Some(3),
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.all("CalendarItem").len(), 3);
    let root = doc.find("RootFolder").unwrap();
    assert_eq!(root.attr("TotalItemsInView"), Some("7"));
    assert_eq!(root.attr("IncludesLastItemInRange"), Some("false"));

    // Each occurrence id reads back as that occurrence.
    let occurrence_id = doc.all("ItemId")[1].attr("Id").unwrap().to_owned();
    let r = ews
        .call(
            &room,
            &get_item(
                &[&occurrence_id],
                "IdOnly",
                &[
                    "calendar:Start",
                    "calendar:CalendarItemType",
                    "calendar:OriginalStart",
                ],
            ),
        )
        .await;
    let item = r.xml();
    assert_eq!(
        item.text_of("Start"),
        "2026-03-23T08:00:00Z",
        "{}",
        r.text()
    );
    assert_eq!(item.text_of("CalendarItemType"), "Occurrence");
    assert_eq!(item.text_of("OriginalStart"), "2026-03-23T08:00:00Z");
}

#[tokio::test]
async fn calendar_view_errors_are_exchanges() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let too_big = ews
        .call(
            &room,
            &calendar_view(&cal, "2026-01-01T00:00:00Z", "2028-01-02T00:00:00Z", None),
        )
        .await;
    assert_eq!(too_big.xml().codes(), ["ErrorCalendarViewRangeTooBig"]);
    let backwards = ews
        .call(
            &room,
            &calendar_view(&cal, "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", None),
        )
        .await;
    assert_eq!(
        backwards.xml().codes(),
        ["ErrorCalendarEndDateIsEarlierThanStartDate"]
    );
    let inbox = ews
        .call(
            &room,
            &calendar_view(
                &folder("inbox", None),
                "2026-01-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
                None,
            ),
        )
        .await;
    assert_eq!(
        inbox.xml().codes(),
        ["ErrorCalendarFolderIsInvalidForCalendarView"]
    );
    let with_restriction = format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:CalendarView StartDate="2026-01-01T00:00:00Z" EndDate="2026-02-01T00:00:00Z"/><m:Restriction><t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists></m:Restriction><m:ParentFolderIds>{cal}</m:ParentFolderIds></m:FindItem>"#
    );
    let r = ews.call(&room, &with_restriction).await;
    assert_eq!(r.xml().codes(), ["ErrorInvalidOperation"]);
    assert!(
        r.text()
            .contains("Restrictions and sort order may not be specified for a CalendarView.")
    );
    let body = format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties></m:ItemShape><m:CalendarView StartDate="2026-01-01T00:00:00Z" EndDate="2026-02-01T00:00:00Z"/><m:ParentFolderIds>{cal}</m:ParentFolderIds></m:FindItem>"#
    );
    assert_eq!(
        ews.call(&room, &body).await.xml().codes(),
        ["ErrorInvalidPropertyRequest"]
    );
}

#[tokio::test]
async fn calendar_view_over_the_find_count_limit_needs_max_entries_returned() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    // Two daily series of 600 occurrences: 1,200 entries in the view.
    for hour in ["08", "12"] {
        let series = format!(
            r#"<t:Subject>Daily {hour}</t:Subject><t:Start>2026-01-01T{hour}:00:00Z</t:Start><t:End>2026-01-01T{hour}:30:00Z</t:End><t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NumberedRecurrence><t:StartDate>2026-01-01</t:StartDate><t:NumberOfOccurrences>600</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>"#
        );
        ews_create(&ews, &room, &cal, &series).await;
    }
    let (start, end) = ("2026-01-01T00:00:00Z", "2027-12-01T00:00:00Z");
    // Unpaged: the EWSFindCountLimit (1000) refuses the whole view.
    let r = ews
        .call(&room, &calendar_view(&cal, start, end, None))
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["ErrorExceededFindCountLimit"], "{}", r.text());
    assert!(doc.all("CalendarItem").is_empty());
    // Paged: truncated to MaxEntriesReturned, and to 1000 above it.
    for (max, shown) in [(250, 250), (5000, 1000)] {
        let r = ews
            .call(&room, &calendar_view(&cal, start, end, Some(max)))
            .await;
        let doc = r.xml();
        assert_eq!(doc.codes(), ["NoError"], "{max}");
        assert_eq!(doc.all("CalendarItem").len(), shown, "{max}");
        let root = doc.find("RootFolder").unwrap();
        assert_eq!(root.attr("TotalItemsInView"), Some("1200"));
        assert_eq!(root.attr("IncludesLastItemInRange"), Some("false"));
    }
    // Exactly at the limit, unpaged, is answered in full.
    let r = ews
        .call(
            &room,
            &calendar_view(&cal, start, "2027-05-16T00:00:00Z", None),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert_eq!(doc.all("CalendarItem").len(), 1000);
    let root = doc.find("RootFolder").unwrap();
    assert_eq!(root.attr("IncludesLastItemInRange"), Some("true"));
}

#[tokio::test]
async fn indexed_view_with_an_extended_property_restriction_finds_masters() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let tag = |id: &str| {
        format!(
            r#"<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/><t:Value>{id}</t:Value></t:ExtendedProperty>"#
        )
    };
    let series = WEEKLY_BERLIN.replacen("<t:Start>", &format!("{}<t:Start>", tag("B-7")), 1);
    ews_create(&ews, &room, &cal, &series).await;
    ews_create(
        &ews,
        &room,
        &cal,
        &format!(
            "{}<t:Start>2026-03-24T12:00:00Z</t:Start><t:End>2026-03-24T13:00:00Z</t:End>",
            tag("B-8")
        ),
    )
    .await;
    let find = |value: &str| {
        format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="calendar:CalendarItemType"/><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/><m:Restriction><t:IsEqualTo><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/><t:FieldURIOrConstant><t:Constant Value="{value}"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds>{cal}</m:ParentFolderIds></m:FindItem>"#
        )
    };
    let r = ews.call(&room, &find("B-7")).await;
    let doc = r.xml();
    assert_eq!(doc.all("CalendarItem").len(), 1, "{}", r.text());
    assert_eq!(doc.text_of("CalendarItemType"), "RecurringMaster");
    let root = doc.find("RootFolder").unwrap();
    assert_eq!(root.attr("TotalItemsInView"), Some("1"));
    assert_eq!(root.attr("IncludesLastItemInRange"), Some("true"));
    assert_eq!(root.attr("IndexedPagingOffset"), Some("1"));
    let none = ews.call(&room, &find("B-9")).await.xml();
    assert!(none.all("CalendarItem").is_empty());
}

#[tokio::test]
async fn update_item_applies_changes_and_detects_conflicts() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let (id, ck1) = ews_create(&ews, &room, &folder("calendar", None), "<t:Subject>Original</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    let update = |ck: &str, resolution: &str, field: &str, value: &str| {
        format!(
            r#"<m:UpdateItem ConflictResolution="{resolution}" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="{field}"/><t:CalendarItem>{value}</t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        )
    };
    let r = ews
        .call(
            &room,
            &update(
                &ck1,
                "AutoResolve",
                "item:Subject",
                "<t:Subject>Renamed</t:Subject>",
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    let (_, ck2) = first_item_id(&doc);
    assert_ne!(ck1, ck2);
    assert_eq!(doc.text_of("Count"), "0");

    // ck1 is stale now. NeverOverwrite refuses any update with it (MS-OXWSCORE
    // 3.1.4.9.4.1), on the changed property or on another one.
    for (field, value) in [
        ("item:Subject", "<t:Subject>Other</t:Subject>"),
        ("calendar:Location", "<t:Location>Hall</t:Location>"),
    ] {
        let r = ews
            .call(&room, &update(&ck1, "NeverOverwrite", field, value))
            .await;
        assert_eq!(r.xml().codes(), ["ErrorIrresolvableConflict"], "{field}");
    }
    // AutoResolve with a stale key and a different value: resolved by overwriting, counted.
    let r = ews
        .call(
            &room,
            &update(
                &ck1,
                "AutoResolve",
                "item:Subject",
                "<t:Subject>Other</t:Subject>",
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert_eq!(doc.text_of("Count"), "1");
    // AutoResolve with a stale key on a property that did not change meanwhile: no conflict.
    let r = ews
        .call(
            &room,
            &update(
                &ck1,
                "AutoResolve",
                "calendar:Location",
                "<t:Location>Hall</t:Location>",
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert_eq!(doc.text_of("Count"), "0");
    let got = ews
        .call(
            &room,
            &get_item(&[&id], "IdOnly", &["item:Subject", "calendar:Location"]),
        )
        .await
        .xml();
    assert_eq!(got.text_of("Subject"), "Other");
    assert_eq!(got.text_of("Location"), "Hall");
    // AlwaysOverwrite wins.
    let r = ews
        .call(
            &room,
            &update(
                &ck1,
                "AlwaysOverwrite",
                "item:Subject",
                "<t:Subject>Forced</t:Subject>",
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"]);
    assert_eq!(doc.text_of("Count"), "1");
    let (_, ck2) = first_item_id(&doc);
    // A current key with NeverOverwrite applies.
    let r = ews
        .call(
            &room,
            &update(
                &ck2,
                "NeverOverwrite",
                "calendar:Location",
                "<t:Location>Annex</t:Location>",
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert_eq!(doc.text_of("Count"), "0");
    let (_, ck2) = first_item_id(&doc);
    let got = ews
        .call(
            &room,
            &get_item(&[&id], "IdOnly", &["item:Subject", "calendar:Location"]),
        )
        .await
        .xml();
    assert_eq!(got.text_of("Subject"), "Forced");
    assert_eq!(got.text_of("Location"), "Annex");

    // Malformed and foreign change keys; the required attribute; property mismatch.
    let r = ews
        .call(
            &room,
            &update(
                "not-a-key",
                "AutoResolve",
                "item:Subject",
                "<t:Subject>x</t:Subject>",
            ),
        )
        .await;
    assert_eq!(r.xml().codes(), ["ErrorInvalidChangeKey"]);
    let r = ews
        .call(
            &room,
            &update(
                "DwAAABYAAAAAAAAA/wAAAAAAAAE=",
                "AutoResolve",
                "item:Subject",
                "<t:Subject>x</t:Subject>",
            ),
        )
        .await;
    assert_eq!(r.xml().codes(), ["ErrorStaleObject"]);
    let r = ews
        .call(
            &room,
            &update(
                &ck2,
                "AutoResolve",
                "item:Subject",
                "<t:Location>x</t:Location>",
            ),
        )
        .await;
    assert_eq!(r.xml().codes(), ["ErrorUpdatePropertyMismatch"]);
    let no_attr = update(
        &ck2,
        "AutoResolve",
        "item:Subject",
        "<t:Subject>x</t:Subject>",
    )
    .replace(r#" SendMeetingInvitationsOrCancellations="SendToNone""#, "");
    assert_eq!(
        ews.call(&room, &no_attr).await.xml().codes(),
        ["ErrorSendMeetingInvitationsOrCancellationsRequired"]
    );
}

#[tokio::test]
async fn updating_and_deleting_occurrences_make_exceptions_and_deleted_occurrences() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let (master, _) = ews_create(&ews, &room, &cal, WEEKLY_BERLIN).await;
    let view = ews
        .call(
            &room,
            &calendar_view(&cal, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", None),
        )
        .await
        .xml();
    let ids: Vec<String> = view
        .all("ItemId")
        .iter()
        .map(|i| i.attr("Id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 6);
    // Move the second occurrence by two hours and rename it.
    let update = format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:CalendarItem><t:Subject>Moved</t:Subject></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2026-03-23T10:00:00Z</t:Start></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>2026-03-23T11:00:00Z</t:End></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
        ids[1]
    );
    let r = ews.call(&room, &update).await;
    assert_eq!(r.xml().codes(), ["NoError"], "{}", r.text());
    // Moving it past the next occurrence is refused.
    let crossing = update
        .replace("2026-03-23T10:00:00Z", "2026-03-31T10:00:00Z")
        .replace("2026-03-23T11:00:00Z", "2026-03-31T11:00:00Z");
    assert_eq!(
        ews.call(&room, &crossing).await.xml().codes(),
        ["ErrorOccurrenceCrossingBoundary"]
    );
    // Delete the third occurrence (twice: the second time it no longer exists).
    let delete = format!(
        r#"<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:DeleteItem>"#,
        ids[2]
    );
    assert_eq!(ews.call(&room, &delete).await.xml().codes(), ["NoError"]);
    assert_eq!(
        ews.call(&room, &delete).await.xml().codes(),
        ["ErrorItemNotFound"]
    );
    let view = ews
        .call(
            &room,
            &calendar_view(&cal, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", None),
        )
        .await
        .xml();
    let entries: Vec<(String, String)> = view
        .all("CalendarItem")
        .iter()
        .map(|i| (i.text_of("Start"), i.text_of("CalendarItemType")))
        .collect();
    assert_eq!(entries.len(), 5);
    assert!(
        entries.contains(&("2026-03-23T10:00:00Z".into(), "Exception".into())),
        "{entries:?}"
    );
    assert!(!entries.iter().any(|(s, _)| s == "2026-03-30T07:00:00Z"));
    // The master lists them; the occurrence by index resolves to the exception.
    let r = ews
        .call(
            &room,
            &get_item(
                &[&master],
                "IdOnly",
                &[
                    "calendar:ModifiedOccurrences",
                    "calendar:DeletedOccurrences",
                    "calendar:Recurrence",
                ],
            ),
        )
        .await;
    let doc = r.xml();
    assert_eq!(
        doc.find("ModifiedOccurrences")
            .unwrap()
            .all("Occurrence")
            .len(),
        1,
        "{}",
        r.text()
    );
    assert_eq!(
        doc.find("DeletedOccurrences").unwrap().text_of("Start"),
        "2026-03-30T07:00:00Z"
    );
    assert_eq!(
        doc.find("NumberedRecurrence").unwrap().text_of("StartDate"),
        "2026-03-16+01:00"
    );
    let by_index = format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:OccurrenceItemId RecurringMasterId="{master}" InstanceIndex="2"/><t:OccurrenceItemId RecurringMasterId="{master}" InstanceIndex="3"/><t:OccurrenceItemId RecurringMasterId="{master}" InstanceIndex="7"/></m:ItemIds></m:GetItem>"#
    );
    let doc = ews.call(&room, &by_index).await.xml();
    assert_eq!(
        doc.codes(),
        [
            "NoError",
            "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
            "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange"
        ]
    );
    assert_eq!(doc.text_of("Subject"), "Moved");
}

#[tokio::test]
async fn moving_an_occurrence_may_restate_the_series_time_zone() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    ews_create(&ews, &room, &cal, WEEKLY_BERLIN).await;
    let view = ews
        .call(
            &room,
            &calendar_view(&cal, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", None),
        )
        .await
        .xml();
    let second = view.all("ItemId")[1].attr("Id").unwrap().to_owned();
    // Start, End and both zones, as exchangelib sends them on every start/end change.
    let moving = |zone: &str| {
        format!(
            r#"<m:UpdateItem ConflictResolution="AutoResolve" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{second}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2026-03-23T12:00:00Z</t:Start></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>2026-03-23T13:00:00Z</t:End></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:StartTimeZone"/><t:CalendarItem><t:StartTimeZone Id="{zone}"/></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:EndTimeZone"/><t:CalendarItem><t:EndTimeZone Id="{zone}"/></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        )
    };
    // Another zone than the series' is a series-level change: refused, naming the property
    // in Exchange's attribute form.
    let r = ews.call(&room, &moving("Pacific Standard Time")).await;
    assert_eq!(r.xml().codes(), ["ErrorInvalidPropertySet"]);
    assert!(
        r.text()
            .contains(r#"<t:FieldURI FieldURI="calendar:StartTimeZone"/>"#),
        "{}",
        r.text()
    );
    let r = ews.call(&room, &moving("W. Europe Standard Time")).await;
    assert_eq!(r.xml().codes(), ["NoError"], "{}", r.text());
    let doc = ews
        .call(
            &room,
            &get_item(
                &[&second],
                "IdOnly",
                &[
                    "calendar:Start",
                    "calendar:CalendarItemType",
                    "calendar:StartTimeZone",
                ],
            ),
        )
        .await
        .xml();
    assert_eq!(doc.text_of("Start"), "2026-03-23T12:00:00Z");
    assert_eq!(doc.text_of("CalendarItemType"), "Exception");
    assert_eq!(
        doc.find("StartTimeZone").unwrap().attr("Id"),
        Some("W. Europe Standard Time")
    );
}

#[tokio::test]
async fn delete_item_rules_and_move_to_deleted_items() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let (id, _) = ews_create(&ews, &room, &folder("calendar", None), "<t:Subject>Gone soon</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    let delete = |attrs: &str| {
        format!(
            r#"<m:DeleteItem {attrs}><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#
        )
    };
    assert_eq!(
        ews.call(&room, &delete(r#"DeleteType="MoveToDeletedItems""#))
            .await
            .xml()
            .codes(),
        ["ErrorSendMeetingCancellationsRequired"]
    );
    let missing_type = ews
        .call(&room, &delete(r#"SendMeetingCancellations="SendToNone""#))
        .await;
    assert_eq!(missing_type.status, 500);
    assert!(missing_type.text().contains("ErrorSchemaValidation"));
    let ok = ews
        .call(
            &room,
            &delete(r#"DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToNone""#),
        )
        .await;
    assert_eq!(ok.xml().codes(), ["NoError"]);
    let again = ews
        .call(
            &room,
            &delete(r#"DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToNone""#),
        )
        .await;
    assert_eq!(again.xml().codes(), ["ErrorItemNotFound"]);
    assert!(admin_items(&emu, ROOM, "calendar").await.is_empty());
    let deleted = admin_items(&emu, ROOM, "deleteditems").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["subject"], "Gone soon");
    assert_ne!(deleted[0]["id"], json!(id), "a moved item gets a new id");
}

#[tokio::test]
async fn private_items_are_hidden_from_delegates_without_can_view_private_items() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    // The service user may edit Bob's calendar, but without CanViewPrivateItems.
    let permission: exo_emulator::seed::FolderPermission = serde_json::from_value(json!({
        "mailbox": BOB, "folder": "calendar", "user": SVC, "rights": "Editor", "flags": ["Delegate"]
    }))
    .unwrap();
    emu.set_folder_permission(permission).unwrap();
    let bob_cal = folder("calendar", Some(BOB));
    let private = admin_create(&emu, BOB, json!({"subject": "Doctor", "sensitivity": "Private", "start": "2026-05-04T08:00:00Z", "end": "2026-05-04T09:00:00Z"})).await;
    admin_create(
        &emu,
        BOB,
        json!({"subject": "Team", "start": "2026-05-04T10:00:00Z", "end": "2026-05-04T11:00:00Z"}),
    )
    .await;
    let view = ews
        .call(
            &As::Delegate,
            &calendar_view(
                &bob_cal,
                "2026-05-01T00:00:00Z",
                "2026-05-10T00:00:00Z",
                None,
            ),
        )
        .await;
    let subjects: Vec<String> = view
        .xml()
        .all("CalendarItem")
        .iter()
        .map(|i| i.text_of("Subject"))
        .collect();
    assert_eq!(subjects, ["Team"], "{}", view.text());
    let id = private["id"].as_str().unwrap();
    assert_eq!(
        ews.call(&As::Delegate, &get_item(&[id], "IdOnly", &[]))
            .await
            .xml()
            .codes(),
        ["ErrorItemNotFound"]
    );
    // Bob himself (impersonated) sees it.
    let own = ews
        .call(&imp(BOB), &get_item(&[id], "IdOnly", &["item:Subject"]))
        .await
        .xml();
    assert_eq!(own.text_of("Subject"), "Doctor");
    // With CanViewPrivateItems the delegate sees it too.
    let permission: exo_emulator::seed::FolderPermission = serde_json::from_value(json!({
        "mailbox": BOB, "folder": "calendar", "user": SVC, "rights": "Editor", "flags": ["Delegate", "CanViewPrivateItems"]
    }))
    .unwrap();
    emu.set_folder_permission(permission).unwrap();
    let view = ews
        .call(
            &As::Delegate,
            &calendar_view(
                &bob_cal,
                "2026-05-01T00:00:00Z",
                "2026-05-10T00:00:00Z",
                None,
            ),
        )
        .await;
    assert_eq!(view.xml().all("CalendarItem").len(), 2);
}

#[tokio::test]
async fn delegates_need_folder_rights() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    // The service user has no permission on Bob's calendar in the demo seed.
    let r = ews
        .call(
            &As::Delegate,
            &create_item(
                "SendToNone",
                &folder("calendar", Some(BOB)),
                "<t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>",
            ),
        )
        .await;
    assert_eq!(r.xml().codes(), ["ErrorAccessDenied"]);
    // It has Editor on the room's calendar: create, read and delete work there.
    let room_cal = folder("calendar", Some(ROOM));
    let (id, _) = ews_create(&ews, &As::Delegate, &room_cal, "<t:Subject>By delegate</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    let got = ews
        .call(
            &As::Delegate,
            &get_item(&[&id], "IdOnly", &["item:Subject"]),
        )
        .await
        .xml();
    assert_eq!(got.text_of("Subject"), "By delegate");
    let room_items = admin_items(&emu, ROOM, "calendar").await;
    assert_eq!(room_items.len(), 1);
    assert_eq!(room_items[0]["calendar"]["organizer"], json!(ROOM));
}

#[tokio::test]
async fn invitations_reach_rooms_which_accept_or_decline() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let alice = imp(ALICE);
    let meeting = |subject: &str, room: &str| {
        format!(
            r#"<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId>{}</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>{subject}</t:Subject><t:Start>2026-06-01T08:00:00Z</t:Start><t:End>2026-06-01T09:00:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees><t:Resources><t:Attendee><t:Mailbox><t:EmailAddress>{room}</t:EmailAddress></t:Mailbox></t:Attendee></t:Resources></t:CalendarItem></m:Items></m:CreateItem>"#,
            folder("calendar", None)
        )
    };
    let r = ews
        .call(&alice, &meeting("Planning", "berlin@contoso.com"))
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    let (id, ck) = first_item_id(&doc);
    // The room (addressed by an alias) accepted: its calendar holds the meeting.
    let room_items = admin_items(&emu, ROOM, "calendar").await;
    assert_eq!(room_items.len(), 1);
    assert_eq!(room_items[0]["calendar"]["my_response"], "Accept");
    assert_eq!(room_items[0]["calendar"]["organizer"], json!(ALICE));
    let room_inbox = admin_items(&emu, ROOM, "inbox").await;
    assert_eq!(room_inbox[0]["meeting_message"]["kind"], "MeetingRequest");
    assert_eq!(room_inbox[0]["meeting_message"]["has_been_processed"], true);
    // Bob got a request and a tentative copy.
    let bob_items = admin_items(&emu, BOB, "calendar").await;
    assert_eq!(
        bob_items[0]["calendar"]["my_response"],
        "NoResponseReceived"
    );
    assert_eq!(bob_items[0]["calendar"]["free_busy"], "Tentative");
    // The organizer's item records the room's answer, in a later change.
    let got = ews
        .call(
            &alice,
            &get_item(
                &[&id],
                "IdOnly",
                &["calendar:Resources", "calendar:MeetingRequestWasSent"],
            ),
        )
        .await
        .xml();
    assert_eq!(
        got.find("Resources").unwrap().text_of("ResponseType"),
        "Accept"
    );
    assert_eq!(got.text_of("MeetingRequestWasSent"), "true");
    assert_ne!(first_item_id(&got).1, ck);
    assert_eq!(
        admin_items(&emu, ALICE, "inbox").await[0]["meeting_message"]["kind"],
        "MeetingResponse:Accept"
    );

    // Bob books the same room at the same time: declined, nothing in the room calendar.
    let r = ews.call(&imp(BOB), &meeting("Clash", ROOM)).await;
    assert_eq!(r.xml().codes(), ["NoError"]);
    assert_eq!(admin_items(&emu, ROOM, "calendar").await.len(), 1);
    let bob_meetings = admin_items(&emu, BOB, "calendar").await;
    let clash = bob_meetings
        .iter()
        .find(|i| i["subject"] == "Clash")
        .unwrap();
    assert_eq!(clash["calendar"]["resources"][0]["response"], "Decline");

    // Alice swaps the room: Berlin's copy goes, Hamburg gets one.
    let swap = format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:Resources"/><t:CalendarItem><t:Resources><t:Attendee><t:Mailbox><t:EmailAddress>{ROOM2}</t:EmailAddress></t:Mailbox></t:Attendee></t:Resources></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    );
    assert_eq!(ews.call(&alice, &swap).await.xml().codes(), ["NoError"]);
    assert!(admin_items(&emu, ROOM, "calendar").await.is_empty());
    let hamburg = admin_items(&emu, ROOM2, "calendar").await;
    assert_eq!(hamburg.len(), 1);
    assert_eq!(hamburg[0]["subject"], "Planning");
    assert!(
        admin_items(&emu, ROOM, "inbox")
            .await
            .iter()
            .any(|m| m["meeting_message"]["kind"] == "MeetingCancellation")
    );

    // Cancelling the meeting removes it from the room and cancels Bob's copy.
    let cancel = format!(
        r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToAllAndSaveCopy"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#
    );
    assert_eq!(ews.call(&alice, &cancel).await.xml().codes(), ["NoError"]);
    assert!(admin_items(&emu, ROOM2, "calendar").await.is_empty());
    let bob_copy = admin_items(&emu, BOB, "calendar")
        .await
        .into_iter()
        .find(|i| i["subject"].as_str().unwrap_or("").ends_with("Planning"))
        .unwrap();
    assert_eq!(bob_copy["calendar"]["is_cancelled"], true);
    assert_eq!(bob_copy["subject"], "Canceled: Planning");
}

#[tokio::test]
async fn time_zone_context_applies_to_times_without_offset() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let body = create_item(
        "SendToNone",
        &folder("calendar", None),
        "<t:Subject>Pacific</t:Subject><t:Start>2026-01-15T09:00:00</t:Start><t:End>2026-01-15T10:00:00</t:End>",
    );
    let r = ews
        .try_call(&room, &body, r#"<t:TimeZoneContext><t:TimeZoneDefinition Id="Pacific Standard Time"/></t:TimeZoneContext>"#)
        .await
        .unwrap();
    let (id, _) = first_item_id(&r.xml());
    let got = ews
        .call(&room, &get_item(&[&id], "IdOnly", &["calendar:Start"]))
        .await
        .xml();
    assert_eq!(got.text_of("Start"), "2026-01-15T17:00:00Z");
    let r = ews
        .try_call(&room, &body, r#"<t:TimeZoneContext><t:TimeZoneDefinition Id="Atlantis Standard Time"/></t:TimeZoneContext>"#)
        .await
        .unwrap();
    assert_eq!(r.xml().codes(), ["ErrorTimeZone"]);
}

#[tokio::test]
async fn exchange_online_field_uris_and_folder_names_are_valid() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let (id, _) = ews_create(&ews, &room, &cal, "<t:Subject>Fields</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    // Properties of other item types: valid, and not returned for a calendar item.
    let other_types = [
        "contacts:DisplayName",
        "task:DueDate",
        "postitem:PostedTime",
        "distributionlist:Members",
        "message:ReminderMessageData",
    ];
    let mut fields = vec!["item:Subject"];
    fields.extend(other_types);
    let r = ews.call(&room, &get_item(&[&id], "IdOnly", &fields)).await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert_eq!(doc.text_of("Subject"), "Fields");
    for absent in [
        "DisplayName",
        "DueDate",
        "PostedTime",
        "Members",
        "ReminderMessageData",
    ] {
        assert!(doc.find(absent).is_none(), "{absent} in {}", r.text());
    }
    let find = format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="task:Status"/><t:FieldURI FieldURI="contacts:CompanyName"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds>{cal}</m:ParentFolderIds></m:FindItem>"#
    );
    let r = ews.call(&room, &find).await;
    assert_eq!(r.xml().codes(), ["NoError"], "{}", r.text());
    assert_eq!(r.xml().all("CalendarItem").len(), 1);
    // A value outside the enumeration is still a schema error.
    let r = ews
        .call(
            &room,
            &get_item(&[&id], "IdOnly", &["contacts:NoSuchThing"]),
        )
        .await;
    assert_eq!(r.status, 500);

    // Exchange Online's distinguished folder names: valid; one the mailbox does not have here
    // is ErrorFolderNotFound, not a schema error.
    for name in [
        "allcategorizeditems",
        "recoverableitemsdiscoveryholds",
        "favorites",
    ] {
        let body = format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>"#,
            folder(name, None)
        );
        let r = ews.call(&room, &body).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.xml().codes(), ["ErrorFolderNotFound"], "{name}");
    }
    let body = format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>"#,
        folder("allthethings", None)
    );
    assert_eq!(ews.call(&room, &body).await.status, 500);
}
