//! FindItem: `CalendarView` (expanded occurrences) and `IndexedPageItemView` (stored items,
//! with `Restriction` and `SortOrder`), one response message per parent folder.
//!
//! `CalendarView` (`StartDate`, `EndDate`, optional `MaxEntriesReturned`): single items,
//! occurrences and exceptions overlapping `[StartDate, EndDate)` (an item ending exactly at
//! `StartDate` is included, one starting at `EndDate` is not), ordered by start. Without
//! `MaxEntriesReturned`, more than the `EWSFindCountLimit` of 1000 entries in the range is
//! `ErrorExceededFindCountLimit` (an unpaged request over the policy limit fails; Exchange
//! Online's policy value is 1000). With `MaxEntriesReturned`, when more entries exist than it
//! (or than 1000), the first ones are returned with `TotalItemsInView` = all of them and
//! `IncludesLastItemInRange="false"`.
//! Errors: `EndDate` before `StartDate` → `ErrorCalendarEndDateIsEarlierThanStartDate`; more
//! than two years → `ErrorCalendarViewRangeTooBig`; a folder other than a calendar →
//! `ErrorCalendarFolderIsInvalidForCalendarView`; with `Restriction` or `SortOrder` →
//! `ErrorInvalidOperation` ("Restrictions and sort order may not be specified for a
//! CalendarView."; Exchange's wording, the code is the emulator's choice: the documented
//! `ErrorInvalidRestriction` is "not used").
//!
//! `IndexedPageItemView` (`MaxEntriesReturned`, `Offset`, `BasePoint`) and no view at all list
//! the folder's stored items — recurring masters, not occurrences — filtered by the
//! restriction, with `IndexedPagingOffset`, `TotalItemsInView` and `IncludesLastItemInRange`.
//! An `IsEqualTo` on a `String` extended property (the usual booking-tag lookup) is answered
//! from the mailbox's property index; other restrictions scan the folder.
//!
//! `FindItem` never returns `Body`, attachments or attendee lists (asking for them is
//! `ErrorInvalidPropertyRequest`). Private items are left out for delegates without
//! `CanViewPrivateItems`. `GroupBy`, `QueryString` and the fractional/seek views are not
//! emulated (`ErrorInvalidOperation` naming the element).

use jiff::{Span, Timestamp};

use super::context::{Need, OpContext, OpError};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder, XmlWriter};
use crate::calendar::datetime::parse_xs_datetime;
use crate::calendar::item::{FolderKind, Item};
use crate::calendar::render::{RenderContext, folder_kind, write_item};
use crate::calendar::restriction::{
    Restriction, RestrictionError, indexed_equality, matches, parse_restriction, validate,
};
use crate::calendar::service::can_see;
use crate::calendar::shape::{ItemShape, ShapeError, ShapeUse, parse_field_uri};
use crate::calendar::timezone::WindowsZone;

/// `EWSFindCountLimit` of Exchange Online.
pub const FIND_COUNT_LIMIT: usize = 1000;

/// An unpaged find over the `EWSFindCountLimit` (Exchange's wording).
fn find_count_exceeded() -> ResponseError {
    ResponseError::new(
        "ErrorExceededFindCountLimit",
        "You have exceeded the maximum number of objects that can be returned for the find operation. Use paging to reduce the result size and try your request again.",
    )
}

#[derive(Debug, Clone)]
enum View {
    Calendar {
        start: Timestamp,
        end: Timestamp,
        max: Option<usize>,
    },
    Indexed {
        max: Option<usize>,
        offset: usize,
        from_end: bool,
    },
    All,
}

#[derive(Debug, Clone)]
struct SortKey {
    field: &'static str,
    descending: bool,
}

struct Request {
    /// A problem every folder's message reports (paging parameters, unsupported elements).
    error: Option<ResponseError>,
    shape: Result<ItemShape, ResponseError>,
    view: View,
    restriction: Option<Result<Restriction, ResponseError>>,
    sort: Vec<SortKey>,
    folders: Vec<Element>,
}

fn max_rows_error() -> ResponseError {
    ResponseError::new(
        "ErrorInvalidPagingMaxRows",
        "The MaxEntriesReturned value must be greater than zero.",
    )
}

fn parse_count(el: &Element, attr: &str) -> Result<Option<i64>, EwsFault> {
    match el.attr(attr) {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| {
            EwsFault::schema(
                el,
                &format!("The '{attr}' attribute is invalid - The value '{text}' is invalid according to its datatype 'http://www.w3.org/2001/XMLSchema:int'."),
            )
        }),
    }
}

fn parse_date_attr(el: &Element, attr: &str) -> Result<Timestamp, EwsFault> {
    let text = el
        .attr(attr)
        .ok_or_else(|| EwsFault::missing_attribute(el, attr))?;
    parse_xs_datetime(text, &WindowsZone::utc())
        .map_err(|e| EwsFault::schema(el, &format!("The '{attr}' attribute is invalid - {e}.")))
}

fn parse_request(op: &Element) -> Result<Request, EwsFault> {
    let traversal = op
        .attr("Traversal")
        .ok_or_else(|| EwsFault::missing_attribute(op, "Traversal"))?;
    if !matches!(traversal, "Shallow" | "SoftDeleted" | "Associated") {
        return Err(EwsFault::invalid_enum(
            op,
            "Traversal",
            traversal,
            "ItemQueryTraversalType",
        ));
    }
    const ORDER: &[&str] = &[
        "ItemShape",
        "View",
        "GroupBy",
        "Restriction",
        "SortOrder",
        "ParentFolderIds",
        "QueryString",
    ];
    let mut last = None;
    let mut shape = None;
    let mut view = View::All;
    let mut restriction = None;
    let mut sort = Vec::new();
    let mut folders = None;
    let mut error = None;
    for child in &op.children {
        if child.namespace != MESSAGES_NS {
            return Err(EwsFault::unexpected_child(op, child));
        }
        let slot = match child.name.as_str() {
            "IndexedPageItemView"
            | "FractionalPageItemView"
            | "SeekToConditionPageItemView"
            | "CalendarView"
            | "ContactsView" => "View",
            "GroupBy" | "DistinguishedGroupBy" => "GroupBy",
            other => other,
        };
        let Some(index) = ORDER.iter().position(|s| *s == slot) else {
            return Err(EwsFault::unexpected_child(op, child));
        };
        if last.is_some_and(|l| index <= l) {
            return Err(EwsFault::unexpected_child(op, child));
        }
        last = Some(index);
        match child.name.as_str() {
            "ItemShape" => {
                shape = Some(match ItemShape::parse(child, ShapeUse::FindItem) {
                    Ok(s) => Ok(s),
                    Err(ShapeError::Fault(f)) => return Err(f),
                    Err(ShapeError::InvalidProperty(e)) => Err(e),
                })
            }
            "CalendarView" => {
                let max = parse_count(child, "MaxEntriesReturned")?;
                if max.is_some_and(|m| m <= 0) {
                    error = Some(max_rows_error());
                }
                view = View::Calendar {
                    start: parse_date_attr(child, "StartDate")?,
                    end: parse_date_attr(child, "EndDate")?,
                    max: max.map(|m| m.max(0) as usize),
                };
            }
            "IndexedPageItemView" => {
                let max = parse_count(child, "MaxEntriesReturned")?;
                if max.is_some_and(|m| m <= 0) {
                    error = Some(max_rows_error());
                }
                let offset = parse_count(child, "Offset")?
                    .ok_or_else(|| EwsFault::missing_attribute(child, "Offset"))?;
                if offset < 0 {
                    error = Some(ResponseError::new(
                        "ErrorInvalidIndexedPagingParameters",
                        "The offset for indexed paging cannot be negative.",
                    ));
                }
                let base = child
                    .attr("BasePoint")
                    .ok_or_else(|| EwsFault::missing_attribute(child, "BasePoint"))?;
                let from_end = match base {
                    "Beginning" => false,
                    "End" => true,
                    other => {
                        return Err(EwsFault::invalid_enum(
                            child,
                            "BasePoint",
                            other,
                            "IndexBasePointType",
                        ));
                    }
                };
                view = View::Indexed {
                    max: max.map(|m| m.max(0) as usize),
                    offset: offset.max(0) as usize,
                    from_end,
                };
            }
            "Restriction" => {
                restriction = Some(match parse_restriction(child) {
                    Ok(r) => validate(&r).map(|()| r),
                    Err(RestrictionError::Fault(f)) => return Err(f),
                    Err(RestrictionError::Item(e)) => Err(e),
                });
            }
            "SortOrder" => {
                for order in &child.children {
                    if !order.is(TYPES_NS, "FieldOrder") {
                        return Err(EwsFault::unexpected_child(child, order));
                    }
                    let descending = match order.attr("Order").unwrap_or("Ascending") {
                        "Ascending" => false,
                        "Descending" => true,
                        other => {
                            return Err(EwsFault::invalid_enum(
                                order,
                                "Order",
                                other,
                                "SortDirectionType",
                            ));
                        }
                    };
                    let path = order
                        .t("FieldURI")
                        .ok_or_else(|| EwsFault::missing_child(order, TYPES_NS, "FieldURI"))?;
                    sort.push(SortKey {
                        field: parse_field_uri(path)?,
                        descending,
                    });
                }
            }
            "ParentFolderIds" => {
                if child.children.is_empty() {
                    return Err(EwsFault::missing_child(child, TYPES_NS, "FolderId"));
                }
                folders = Some(child.children.clone());
            }
            other => {
                error = Some(ResponseError::new(
                    "ErrorInvalidOperation",
                    &format!(
                        "The emulator does not support {other} in FindItem; use CalendarView or IndexedPageItemView."
                    ),
                ));
            }
        }
    }
    let shape = shape.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "ItemShape"))?;
    let folders =
        folders.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "ParentFolderIds"))?;
    Ok(Request {
        error,
        shape,
        view,
        restriction,
        sort,
        folders,
    })
}

/// Handles `m:FindItem`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let request = parse_request(op)?;
    let mut response = ResponseBuilder::new("FindItem");
    for folder_el in &request.folders {
        let result = find_in_folder(cx, &request, folder_el);
        response.outcome(
            result,
            |w, xml| {
                w.raw(&xml);
            },
            |_| {},
        )?;
    }
    Ok(response.finish())
}

fn sort_value(item: &Item, field: &str) -> (Option<Timestamp>, String) {
    let cal = item.calendar();
    match field {
        "calendar:Start" => (cal.map(|c| c.start), String::new()),
        "calendar:End" => (cal.map(|c| c.end), String::new()),
        "item:DateTimeCreated" => (Some(item.created), String::new()),
        "item:DateTimeReceived" => (Some(item.received), String::new()),
        "item:LastModifiedTime" => (Some(item.last_modified), String::new()),
        "item:Subject" => (None, item.subject.to_lowercase()),
        "calendar:Location" => (
            None,
            cal.and_then(|c| c.location.clone())
                .unwrap_or_default()
                .to_lowercase(),
        ),
        _ => (None, String::new()),
    }
}

fn find_in_folder(
    cx: &OpContext<'_>,
    request: &Request,
    folder_el: &Element,
) -> Result<String, OpError> {
    let folder = cx.resolve_folder(folder_el)?;
    let rights = cx.require(&folder, Need::ReadItems)?;
    if let Some(error) = &request.error {
        return Err(error.clone().into());
    }
    let shape = request.shape.clone()?;
    let kind = folder_kind(folder.folder);
    let store = &cx.state.calendar;
    let empty = crate::calendar::Mailbox::new(&folder.mailbox);
    let mailbox = store.mailbox(&folder.mailbox).unwrap_or(&empty);
    let render = RenderContext {
        store,
        mailbox,
        rights: &rights,
    };
    let mut w = XmlWriter::new();
    match request.view {
        View::Calendar { start, end, max } => {
            if request.restriction.is_some() || !request.sort.is_empty() {
                return Err(ResponseError::new(
                    "ErrorInvalidOperation",
                    "Restrictions and sort order may not be specified for a CalendarView.",
                )
                .into());
            }
            if kind != FolderKind::Calendar {
                return Err(ResponseError::new(
                    "ErrorCalendarFolderIsInvalidForCalendarView",
                    "The specified folder is not a calendar folder; CalendarView requires a calendar folder.",
                )
                .into());
            }
            if end < start {
                return Err(ResponseError::new(
                    "ErrorCalendarEndDateIsEarlierThanStartDate",
                    "EndDate is earlier than StartDate",
                )
                .into());
            }
            let two_years = start
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .checked_add(Span::new().years(2))
                .map(|z| z.timestamp())
                .unwrap_or(Timestamp::MAX);
            if end > two_years {
                return Err(ResponseError::new(
                    "ErrorCalendarViewRangeTooBig",
                    "The time range between StartDate and EndDate of the calendar view is more than the maximum of 2 years.",
                )
                .into());
            }
            let entries = mailbox.calendar_view(start, end, |item| can_see(item, &rights));
            let total = entries.len();
            if max.is_none() && total > FIND_COUNT_LIMIT {
                return Err(find_count_exceeded().into());
            }
            let limit = max.unwrap_or(FIND_COUNT_LIMIT).min(FIND_COUNT_LIMIT);
            let shown = &entries[..total.min(limit)];
            let includes_last = shown.len() == total;
            w.start(
                "m:RootFolder",
                &[
                    ("TotalItemsInView", &total.to_string()),
                    (
                        "IncludesLastItemInRange",
                        if includes_last { "true" } else { "false" },
                    ),
                ],
            );
            w.start("t:Items", &[]);
            for entry in shown {
                write_item(&mut w, &render, &entry.id, &entry.item, &shape);
            }
            w.end("t:Items");
            w.end("m:RootFolder");
        }
        View::Indexed { .. } | View::All => {
            let restriction = match &request.restriction {
                Some(Ok(r)) => Some(r),
                Some(Err(e)) => return Err(e.clone().into()),
                None => None,
            };
            let candidates: Box<dyn Iterator<Item = &Item>> =
                match restriction.and_then(indexed_equality) {
                    Some((property, value)) => {
                        Box::new(mailbox.find_by_extended(kind, &property, value))
                    }
                    None => Box::new(mailbox.folder_items(kind)),
                };
            let mut items: Vec<&Item> = candidates
                .filter(|item| can_see(item, &rights))
                .filter(|item| restriction.is_none_or(|r| matches(r, item)))
                .collect();
            if !request.sort.is_empty() {
                items.sort_by(|a, b| {
                    for key in &request.sort {
                        let ordering = sort_value(a, key.field).cmp(&sort_value(b, key.field));
                        let ordering = if key.descending {
                            ordering.reverse()
                        } else {
                            ordering
                        };
                        if !ordering.is_eq() {
                            return ordering;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
            }
            let total = items.len();
            let (max, offset, from_end) = match request.view {
                View::Indexed {
                    max,
                    offset,
                    from_end,
                } => (max, offset, from_end),
                _ => (None, 0, false),
            };
            let limit = max.unwrap_or(FIND_COUNT_LIMIT).min(FIND_COUNT_LIMIT);
            let (first, last) = if from_end {
                let end = total.saturating_sub(offset);
                (end.saturating_sub(limit), end)
            } else {
                let begin = offset.min(total);
                (begin, (begin + limit).min(total))
            };
            let page = &items[first..last];
            let includes_last = if from_end { first == 0 } else { last == total };
            let next_offset = if from_end { total - first } else { last };
            w.start(
                "m:RootFolder",
                &[
                    ("IndexedPagingOffset", &next_offset.to_string()),
                    ("TotalItemsInView", &total.to_string()),
                    (
                        "IncludesLastItemInRange",
                        if includes_last { "true" } else { "false" },
                    ),
                ],
            );
            w.start("t:Items", &[]);
            for item in page {
                write_item(&mut w, &render, &mailbox.item_ref(item.key), item, &shape);
            }
            w.end("t:Items");
            w.end("m:RootFolder");
        }
    }
    Ok(w.into_string())
}
