//! The EWS `FindItem` operation on a mailbox's calendar, for two lookups:
//!
//! - [`find_by_booking_id`]: the item rooms-sync wrote for a booking, by its
//!   `RoomsBookingId` tag (an `IsEqualTo` restriction on the extended
//!   property, in an `IndexedPageItemView`). Such a view lists stored items,
//!   so a series is found as its master, never as occurrences. It makes a
//!   create idempotent: before creating again after a lost answer, the
//!   caller looks for the tag. Several items with one tag (duplicates made
//!   elsewhere) give the oldest, by `DateTimeCreated`, and a warning in the
//!   log.
//! - [`occurrence_at`]: the occurrence of the series with a `UID` whose
//!   original start is a given instant, with its occurrence item id (a
//!   `CalendarView` expands series into occurrences with their own ids; a
//!   calendar view takes no restriction, so the window is kept small and the
//!   match is made here).
//!
//! Errors: every failure is classified as in [`super::classify`]
//! (`ErrorInvalidRestriction`, `ErrorCalendarViewRangeTooBig` are defects of
//! the request).
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/finditem-operation,
//! …/calendarview and …/isequalto.

use super::calendar_item::{
    BOOKING_ID_URI, CalendarItemType, item_id, messages, unusable_answer, xml_text,
};
use super::response::ResponseMessage;
use super::soap::Addressing;
use super::time::{format_datetime, parse_datetime};
use super::xml::{Element, Ns};
use super::{EwsClient, check_message};
use crate::booking::Instant;
use crate::error::Error;
use crate::platform::{Level, Platform};

/// The operation name.
pub const NAME: &str = "FindItem";

/// Items one tag lookup reads at most (more than one is already a duplicate).
pub const TAG_PAGE: u32 = 10;

/// Entries one occurrence lookup reads at most (a window of one occurrence's
/// length; far below Exchange's find count limit of 1000).
pub const VIEW_PAGE: u32 = 200;

/// The `m:FindItem` element that looks for the tag `booking_id` in the
/// calendar of `mailbox`, oldest first.
pub fn tag_request_body(addressing: Addressing, mailbox: &str, booking_id: &str) -> String {
    tagged_request_body(addressing, mailbox, BOOKING_ID_URI, booking_id)
}

/// The `m:FindItem` element that looks for the extended property `tag_uri`
/// (a `t:ExtendedFieldURI` element) equal to `value` in the calendar of
/// `mailbox`, oldest first.
pub fn tagged_request_body(
    addressing: Addressing,
    mailbox: &str,
    tag_uri: &str,
    value: &str,
) -> String {
    format!(
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>\
         </m:ItemShape><m:IndexedPageItemView MaxEntriesReturned=\"{TAG_PAGE}\" Offset=\"0\" \
         BasePoint=\"Beginning\"/><m:Restriction><t:IsEqualTo>{tag_uri}\
         <t:FieldURIOrConstant><t:Constant Value=\"{}\"/></t:FieldURIOrConstant></t:IsEqualTo>\
         </m:Restriction><m:SortOrder><t:FieldOrder Order=\"Ascending\"><t:FieldURI \
         FieldURI=\"item:DateTimeCreated\"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds>{}\
         </m:ParentFolderIds></m:FindItem>",
        xml_text(value),
        addressing.distinguished_folder_id("calendar", mailbox)
    )
}

/// The `m:FindItem` element with a `CalendarView` of `[start, end)` asking
/// for the `UID`, `Start`, `OriginalStart` and `CalendarItemType` of each
/// entry.
pub fn view_request_body(
    addressing: Addressing,
    mailbox: &str,
    start: Instant,
    end: Instant,
) -> String {
    format!(
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>\
         <t:AdditionalProperties><t:FieldURI FieldURI=\"calendar:UID\"/><t:FieldURI \
         FieldURI=\"calendar:Start\"/><t:FieldURI FieldURI=\"calendar:OriginalStart\"/>\
         <t:FieldURI FieldURI=\"calendar:CalendarItemType\"/></t:AdditionalProperties>\
         </m:ItemShape><m:CalendarView MaxEntriesReturned=\"{VIEW_PAGE}\" StartDate=\"{}\" \
         EndDate=\"{}\"/><m:ParentFolderIds>{}</m:ParentFolderIds></m:FindItem>",
        format_datetime(start),
        format_datetime(end),
        addressing.distinguished_folder_id("calendar", mailbox)
    )
}

/// The items of a successful `FindItem` message (`m:RootFolder/t:Items`).
pub fn found_items(message: &ResponseMessage) -> Result<Vec<&Element>, String> {
    let root = message
        .element
        .child(&Ns::Messages, "RootFolder")
        .ok_or("it has no RootFolder")?;
    Ok(root
        .child(&Ns::Types, "Items")
        .into_iter()
        .flat_map(|items| items.children.iter())
        .filter(|item| item.ns == Ns::Types)
        .collect())
}

/// One entry of a calendar view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEntry {
    /// `ItemId/@Id`.
    pub item_id: String,
    /// `ItemId/@ChangeKey` (empty if absent).
    pub change_key: String,
    /// `UID` (empty if absent).
    pub uid: String,
    /// `Start`.
    pub start: Instant,
    /// `OriginalStart` (occurrences and exceptions).
    pub original_start: Option<Instant>,
    /// `CalendarItemType` (`Single` if absent).
    pub item_type: CalendarItemType,
}

impl ViewEntry {
    /// Reads one `t:CalendarItem` of a calendar view.
    pub fn from_element(item: &Element) -> Result<Self, String> {
        let (id, change_key) = item_id(item)?;
        let text = |name: &str| item.child(&Ns::Types, name).map(|e| e.trimmed_text());
        let time = |name: &str| text(name).map(parse_datetime).transpose();
        Ok(Self {
            item_id: id,
            change_key: change_key.unwrap_or_default(),
            uid: text("UID").unwrap_or("").to_owned(),
            start: time("Start")?.ok_or("a calendar view entry has no Start")?,
            original_start: time("OriginalStart")?,
            item_type: match text("CalendarItemType") {
                None => CalendarItemType::Single,
                Some(kind) => CalendarItemType::from_ews(kind)
                    .ok_or("a calendar view entry has an unknown CalendarItemType")?,
            },
        })
    }

    /// True for an occurrence or exception of the series `uid` that the
    /// pattern puts at `original_start`.
    pub fn is_occurrence(&self, uid: &str, original_start: Instant) -> bool {
        matches!(
            self.item_type,
            CalendarItemType::Occurrence | CalendarItemType::Exception
        ) && self.uid == uid
            && self.original_start.unwrap_or(self.start) == original_start
    }
}

fn single_success(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    body: &str,
) -> Result<ResponseMessage, Error> {
    let response = client.call(platform, mailbox, body)?;
    let message = messages(response, NAME, mailbox, 1)?.remove(0);
    check_message(&message, mailbox, client.access())?;
    Ok(message)
}

/// The `(ItemId, ChangeKey)` of the item of `mailbox`'s calendar tagged with
/// `booking_id`, if any (the oldest when several are).
pub fn find_by_booking_id(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    booking_id: &str,
) -> Result<Option<(String, String)>, Error> {
    let body = tag_request_body(client.access().addressing(), mailbox, booking_id);
    let message = single_success(client, platform, mailbox, &body)?;
    let unusable = |e: String| unusable_answer(NAME, mailbox, &e);
    let items = found_items(&message).map_err(unusable)?;
    if items.len() > 1 {
        platform.log(
            Level::Warn,
            &format!(
                "{} items in the calendar of {mailbox} carry the booking tag {}; the oldest is \
                 used",
                items.len(),
                crate::safe_text::name(booking_id)
            ),
        );
    }
    let Some(first) = items.first() else {
        return Ok(None);
    };
    let (id, change_key) = item_id(first).map_err(unusable)?;
    Ok(Some((id, change_key.unwrap_or_default())))
}

/// The `(ItemId, ChangeKey)` of every item (at most [`TAG_PAGE`], oldest
/// first) of `mailbox`'s calendar whose extended property `tag_uri` (a
/// `t:ExtendedFieldURI` element) is `value`; items the caller may not see
/// (private items, for a delegate without `CanViewPrivateItems`) are not
/// listed.
pub fn find_all_tagged(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    tag_uri: &str,
    value: &str,
) -> Result<Vec<(String, String)>, Error> {
    let body = tagged_request_body(client.access().addressing(), mailbox, tag_uri, value);
    let message = single_success(client, platform, mailbox, &body)?;
    let unusable = |e: String| unusable_answer(NAME, mailbox, &e);
    found_items(&message)
        .map_err(unusable)?
        .into_iter()
        .map(|item| {
            let (id, change_key) = item_id(item).map_err(unusable)?;
            Ok((id, change_key.unwrap_or_default()))
        })
        .collect()
}

/// The `(ItemId, ChangeKey)` of the occurrence of series `uid` in `mailbox`'s
/// calendar whose original start is `original_start` (`duration_s`: the
/// occurrence's length, the width of the window looked at), if any. A moved
/// exception outside that window is not found; its id is in the master's
/// `ModifiedOccurrences`.
pub fn occurrence_at(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    uid: &str,
    original_start: Instant,
    duration_s: i64,
) -> Result<Option<(String, String)>, Error> {
    let end = original_start.saturating_add(duration_s.max(1));
    let body = view_request_body(client.access().addressing(), mailbox, original_start, end);
    let message = single_success(client, platform, mailbox, &body)?;
    let unusable = |e: String| unusable_answer(NAME, mailbox, &e);
    for item in found_items(&message).map_err(unusable)? {
        // An entry that cannot be read is someone else's; the one looked
        // for has every property asked for.
        let Ok(entry) = ViewEntry::from_element(item) else {
            continue;
        };
        if entry.is_occurrence(uid, original_start) {
            return Ok(Some((entry.item_id, entry.change_key)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{names, sent_operation, signed_in, soap, url};
    use crate::testing::{app_only, delegated, ews_derived, ews_sample};

    const SERIES_UID: &str =
        "040000008200E00074C5B7101A82E00800000000F45999403D4BAF42D74DD8318DA20B90";

    #[test]
    fn the_tag_lookup_is_a_restricted_indexed_view_oldest_first() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_derived!("finditem-booking-tag-response.xml")[..]));
        let found =
            find_by_booking_id(&client, &mut platform, "alice@contoso.com", "B-\"7\"&<x>").unwrap();
        assert_eq!(
            found,
            Some((
                "AAMkAAF8M7Lm65gTSAAAAAAAAAACXlp2DmHAUxhRQQ==".to_owned(),
                "DwAAABYAAAAAAAAAAAAAIQAAAAI=".to_owned()
            ))
        );
        let op = sent_operation(&platform, 0);
        assert_eq!(op.attr("Traversal"), Some("Shallow"));
        assert_eq!(
            names(&op),
            [
                "ItemShape",
                "IndexedPageItemView",
                "Restriction",
                "SortOrder",
                "ParentFolderIds"
            ]
        );
        assert_eq!(names(&op.children[0]), ["BaseShape"]);
        let view = &op.children[1];
        assert_eq!(view.attr("MaxEntriesReturned"), Some("10"));
        assert_eq!(view.attr("Offset"), Some("0"));
        assert_eq!(view.attr("BasePoint"), Some("Beginning"));
        let equal = &op.children[2].children[0];
        assert!(equal.is(&Ns::Types, "IsEqualTo"));
        assert_eq!(names(equal), ["ExtendedFieldURI", "FieldURIOrConstant"]);
        assert_eq!(
            equal.children[0].attr("PropertyName"),
            Some("RoomsBookingId")
        );
        let constant = &equal.children[1].children[0];
        assert!(constant.is(&Ns::Types, "Constant"));
        assert_eq!(constant.attr("Value"), Some("B-\"7\"&<x>"));
        let order = &op.children[3].children[0];
        assert_eq!(order.attr("Order"), Some("Ascending"));
        assert_eq!(
            order.children[0].attr("FieldURI"),
            Some("item:DateTimeCreated")
        );
        assert_eq!(op.children[4].children[0].attr("Id"), Some("calendar"));
    }

    #[test]
    fn several_tagged_items_give_the_first_and_a_warning_none_give_none() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_sample!("finditem-restriction-response.xml")[..]));
        let found = find_by_booking_id(&client, &mut platform, "a@c.com", "B").unwrap();
        assert_eq!(
            found,
            Some(("AAMkAGM2...".to_owned(), "CQAAABYA...".to_owned()))
        );
        assert!(
            platform
                .logs
                .borrow()
                .iter()
                .any(|(level, line)| *level == Level::Warn
                    && line
                        .starts_with("3 items in the calendar of a@c.com carry the booking tag B"))
        );
        let empty = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:FindItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder IndexedPagingOffset="0" TotalItemsInView="0" IncludesLastItemInRange="true"><t:Items/></m:RootFolder></m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse></s:Body></s:Envelope>"#;
        platform.answers.push_back(soap(empty));
        assert_eq!(
            find_by_booking_id(&client, &mut platform, "a@c.com", "B"),
            Ok(None)
        );
        platform.answers.push_back(soap(
            &ews_sample!("finditem-error-invalididmalformed.xml")[..],
        ));
        assert!(find_by_booking_id(&client, &mut platform, "a@c.com", "B").is_err());
    }

    #[test]
    fn the_occurrence_lookup_is_a_small_calendar_view() {
        let body = view_request_body(
            Addressing::Delegated,
            "room1@contoso.com",
            1_767_772_800,
            1_767_776_400,
        );
        let xml = crate::ews::soap::envelope(Addressing::Delegated, "room1@contoso.com", &body);
        let root = crate::ews::xml::parse(xml.as_bytes()).unwrap();
        let op = &root.child(&Ns::Soap, "Body").unwrap().children[0];
        assert_eq!(names(op), ["ItemShape", "CalendarView", "ParentFolderIds"]);
        let view = &op.children[1];
        assert_eq!(view.attr("StartDate"), Some("2026-01-07T08:00:00Z"));
        assert_eq!(view.attr("EndDate"), Some("2026-01-07T09:00:00Z"));
        assert_eq!(view.attr("MaxEntriesReturned"), Some("200"));
        let uris: Vec<&str> = op.children[0].children[1]
            .children
            .iter()
            .filter_map(|f| f.attr("FieldURI"))
            .collect();
        assert_eq!(
            uris,
            [
                "calendar:UID",
                "calendar:Start",
                "calendar:OriginalStart",
                "calendar:CalendarItemType"
            ]
        );
        let folder = &op.children[2].children[0];
        assert_eq!(folder.children[0].children[0].text, "room1@contoso.com");
        let _ = delegated();
    }

    #[test]
    fn the_occurrence_of_the_series_at_its_original_start_is_found() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        let view = &ews_derived!("finditem-calendarview-occurrences-response.xml")[..];
        platform.answers.push_back(soap(view));
        let at = parse_datetime("2026-01-07T08:00:00Z").unwrap();
        // The series' occurrence at 08:00 was moved to 08:30 (an exception);
        // three other series have an occurrence at 08:00.
        let found = occurrence_at(&client, &mut platform, "a@c.com", SERIES_UID, at, 3600).unwrap();
        assert_eq!(
            found,
            Some((
                "AAMkAAJ8M7Lm65gTSAAAAAAAAAACAAAAAGleEoBb12/GGtCTSf6X".to_owned(),
                "DwAAABYAAAAAAAAAAAAAEgAAAAI=".to_owned()
            ))
        );
        let sent = sent_operation(&platform, 0);
        assert_eq!(
            sent.children[1].attr("EndDate"),
            Some("2026-01-07T09:00:00Z")
        );
        // Another series, another start, or a zero duration.
        platform.answers.push_back(soap(view));
        assert_eq!(
            occurrence_at(&client, &mut platform, "a@c.com", "other", at, 3600),
            Ok(None)
        );
        platform.answers.push_back(soap(view));
        assert_eq!(
            occurrence_at(&client, &mut platform, "a@c.com", SERIES_UID, at + 60, 0),
            Ok(None)
        );
        let sent = sent_operation(&platform, 2);
        assert_eq!(
            sent.children[1].attr("EndDate"),
            Some("2026-01-07T08:01:01Z")
        );
        // Entries without UID (the documented truncated view) never match.
        platform.answers.push_back(soap(
            &ews_sample!("finditem-calendarview-response-truncated.xml")[..],
        ));
        let start = parse_datetime("2013-08-21T19:30:00Z").unwrap();
        assert_eq!(
            occurrence_at(&client, &mut platform, "a@c.com", "", start, 1800),
            Ok(None)
        );
    }

    #[test]
    fn view_entries_match_on_type_uid_and_original_start() {
        let entry = ViewEntry {
            item_id: "I".into(),
            change_key: "K".into(),
            uid: "U".into(),
            start: 100,
            original_start: Some(50),
            item_type: CalendarItemType::Exception,
        };
        assert!(entry.is_occurrence("U", 50));
        assert!(!entry.is_occurrence("U", 100));
        let plain = ViewEntry {
            original_start: None,
            item_type: CalendarItemType::Occurrence,
            ..entry.clone()
        };
        assert!(plain.is_occurrence("U", 100));
        let single = ViewEntry {
            item_type: CalendarItemType::Single,
            ..plain
        };
        assert!(!single.is_occurrence("U", 100));
    }
}
