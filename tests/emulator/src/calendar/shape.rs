//! Property paths (`t:FieldURI`, `t:ExtendedFieldURI`) and response shapes (`m:ItemShape`).
//!
//! The emulator knows every item-level `FieldURI` value of `UnindexedFieldURIType` in the EWS
//! reference ("FieldURI": item, message, meeting, calendar, task, contacts, distributionlist,
//! postitem), and refuses unknown values with `ErrorSchemaValidation` (Exchange validates the
//! enumeration). A known property that an item does not have (a `contacts:` property of a
//! calendar item, one the emulator does not model) is simply not returned. Which properties a base shape includes:
//! - `IdOnly`: `ItemId`;
//! - `Default`: the summary properties Exchange returns by default for the item type (for
//!   `GetItem` also `Body` and the attendee lists);
//! - `AllProperties`: every modelled first-class property, except in `FindItem` and
//!   `SyncFolderItems`, which never return `Body`, attachments or recipient lists (asking for
//!   them explicitly there is `ErrorInvalidPropertyRequest`).
//!
//! Extended properties are returned only when named in `AdditionalProperties`, and only when
//! set on the item with the requested type.

use super::item::{
    BodyType, ExtendedFieldUri, PROPERTY_TYPES, PropertySet, is_distinguished_property_set,
};
use crate::ews::dom::{Element, TYPES_NS};
use crate::ews::fault::{EwsFault, MessageXml, ResponseError};

/// Which operation a shape serves (decides what may be returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeUse {
    /// `GetItem`: everything may be returned.
    GetItem,
    /// `FindItem`: no body, no recipients.
    FindItem,
    /// `SyncFolderItems`: no body, no recipients.
    SyncFolderItems,
}

/// `BaseShape`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseShape {
    /// Only the id.
    IdOnly,
    /// The default set.
    Default,
    /// All first-class properties.
    AllProperties,
}

/// `BodyType` of a shape (`Best` = as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyTypeWanted {
    /// As stored.
    Best,
    /// Convert to this type.
    Exactly(BodyType),
}

/// A parsed `m:ItemShape`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemShape {
    /// Base shape.
    pub base: BaseShape,
    /// Body type wanted.
    pub body_type: BodyTypeWanted,
    /// Additional first-class properties (canonical `FieldURI` values).
    pub fields: Vec<&'static str>,
    /// Additional extended properties.
    pub extended: Vec<ExtendedFieldUri>,
    /// The operation it serves.
    pub usage: ShapeUse,
}

/// Properties in `Default` for every item.
const DEFAULT_ITEM: &[&str] = &[
    "item:ItemId",
    "item:ParentFolderId",
    "item:ItemClass",
    "item:Subject",
    "item:Sensitivity",
    "item:DateTimeReceived",
    "item:Size",
    "item:Importance",
    "item:IsSubmitted",
    "item:IsDraft",
    "item:IsFromMe",
    "item:IsResend",
    "item:IsUnmodified",
    "item:DateTimeSent",
    "item:DateTimeCreated",
    "item:ReminderDueBy",
    "item:ReminderIsSet",
    "item:ReminderMinutesBeforeStart",
    "item:DisplayCc",
    "item:DisplayTo",
    "item:HasAttachments",
    "item:Culture",
    "calendar:Start",
    "calendar:End",
    "calendar:IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus",
    "calendar:Location",
    "calendar:IsMeeting",
    "calendar:IsCancelled",
    "calendar:IsRecurring",
    "calendar:MeetingRequestWasSent",
    "calendar:IsResponseRequested",
    "calendar:CalendarItemType",
    "calendar:MyResponseType",
    "calendar:Organizer",
    "calendar:Duration",
    "calendar:TimeZone",
    "calendar:AppointmentReplyTime",
    "calendar:AppointmentSequenceNumber",
    "calendar:AppointmentState",
    "message:Sender",
    "message:From",
    "message:IsRead",
    "meeting:AssociatedCalendarItemId",
    "meeting:IsOutOfDate",
    "meeting:HasBeenProcessed",
    "meeting:ResponseType",
    "meetingRequest:MeetingRequestType",
    "meetingRequest:IntendedFreeBusyStatus",
];

/// Added to `Default` in `GetItem`.
const DEFAULT_GET_ITEM: &[&str] = &[
    "item:Body",
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Resources",
    "message:ToRecipients",
];

/// Properties `FindItem` and `SyncFolderItems` cannot return.
const NOT_IN_FIND: &[&str] = &[
    "item:Body",
    "item:Attachments",
    "item:MimeContent",
    "item:UniqueBody",
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Resources",
    "calendar:ConflictingMeetings",
    "calendar:AdjacentMeetings",
    "message:ToRecipients",
    "message:CcRecipients",
    "message:BccRecipients",
    "message:ApprovalRequestData",
    "message:VotingInformation",
    "message:ReminderMessageData",
];

/// Every item-level `FieldURI` the schema allows (modelled or not). Unmodelled ones are
/// accepted in shapes and simply not returned.
pub const KNOWN_FIELD_URIS: &[&str] = &[
    "item:ItemId",
    "item:ParentFolderId",
    "item:ItemClass",
    "item:MimeContent",
    "item:Attachments",
    "item:Subject",
    "item:DateTimeReceived",
    "item:Size",
    "item:Categories",
    "item:HasAttachments",
    "item:Importance",
    "item:InReplyTo",
    "item:InternetMessageHeaders",
    "item:IsAssociated",
    "item:IsDraft",
    "item:IsFromMe",
    "item:IsResend",
    "item:IsSubmitted",
    "item:IsUnmodified",
    "item:DateTimeSent",
    "item:DateTimeCreated",
    "item:Body",
    "item:ResponseObjects",
    "item:Sensitivity",
    "item:ReminderDueBy",
    "item:ReminderIsSet",
    "item:ReminderNextTime",
    "item:ReminderMinutesBeforeStart",
    "item:DisplayTo",
    "item:DisplayCc",
    "item:Culture",
    "item:EffectiveRights",
    "item:LastModifiedName",
    "item:LastModifiedTime",
    "item:ConversationId",
    "item:UniqueBody",
    "item:Flag",
    "item:StoreEntryId",
    "item:InstanceKey",
    "item:NormalizedBody",
    "item:EntityExtractionResult",
    "item:PolicyTag",
    "item:ArchiveTag",
    "item:RetentionDate",
    "item:Preview",
    "item:TextBody",
    "item:IconIndex",
    "item:WebClientReadFormQueryString",
    "item:WebClientEditFormQueryString",
    "item:NextPredictedAction",
    "item:GroupingAction",
    "item:PredictedActionReasons",
    "item:IsClutter",
    "item:RightsManagementLicenseData",
    "item:BlockStatus",
    "item:HasBlockedImages",
    "item:MimeContentUTF8",
    "message:ConversationIndex",
    "message:ConversationTopic",
    "message:InternetMessageId",
    "message:IsRead",
    "message:IsResponseRequested",
    "message:IsReadReceiptRequested",
    "message:IsDeliveryReceiptRequested",
    "message:ReceivedBy",
    "message:ReceivedRepresenting",
    "message:References",
    "message:ReplyTo",
    "message:From",
    "message:Sender",
    "message:ToRecipients",
    "message:CcRecipients",
    "message:BccRecipients",
    "message:ApprovalRequestData",
    "message:VotingInformation",
    "message:ReminderMessageData",
    "meeting:AssociatedCalendarItemId",
    "meeting:IsDelegated",
    "meeting:IsOutOfDate",
    "meeting:HasBeenProcessed",
    "meeting:ResponseType",
    "meeting:ProposedStart",
    "meeting:ProposedEnd",
    "meetingRequest:MeetingRequestType",
    "meetingRequest:IntendedFreeBusyStatus",
    "meetingRequest:ChangeHighlights",
    "calendar:Start",
    "calendar:End",
    "calendar:OriginalStart",
    "calendar:StartWallClock",
    "calendar:EndWallClock",
    "calendar:StartTimeZoneId",
    "calendar:EndTimeZoneId",
    "calendar:IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus",
    "calendar:Location",
    "calendar:EnhancedLocation",
    "calendar:When",
    "calendar:IsMeeting",
    "calendar:IsCancelled",
    "calendar:IsRecurring",
    "calendar:MeetingRequestWasSent",
    "calendar:IsResponseRequested",
    "calendar:CalendarItemType",
    "calendar:MyResponseType",
    "calendar:Organizer",
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Resources",
    "calendar:ConflictingMeetingCount",
    "calendar:AdjacentMeetingCount",
    "calendar:ConflictingMeetings",
    "calendar:AdjacentMeetings",
    "calendar:Duration",
    "calendar:TimeZone",
    "calendar:AppointmentReplyTime",
    "calendar:AppointmentSequenceNumber",
    "calendar:AppointmentState",
    "calendar:Recurrence",
    "calendar:FirstOccurrence",
    "calendar:LastOccurrence",
    "calendar:ModifiedOccurrences",
    "calendar:DeletedOccurrences",
    "calendar:MeetingTimeZone",
    "calendar:ConferenceType",
    "calendar:AllowNewTimeProposal",
    "calendar:IsOnlineMeeting",
    "calendar:MeetingWorkspaceUrl",
    "calendar:NetShowUrl",
    "calendar:UID",
    "calendar:RecurrenceId",
    "calendar:DateTimeStamp",
    "calendar:StartTimeZone",
    "calendar:EndTimeZone",
    "calendar:JoinOnlineMeetingUrl",
    "calendar:OnlineMeetingSettings",
    "calendar:IsOrganizer",
    // Other item types (tasks, contacts, distribution lists, posts): valid everywhere a
    // FieldURI is; a property that does not apply to an item is not returned.
    "task:ActualWork",
    "task:AssignedTime",
    "task:BillingInformation",
    "task:ChangeCount",
    "task:Companies",
    "task:CompleteDate",
    "task:Contacts",
    "task:DelegationState",
    "task:Delegator",
    "task:DueDate",
    "task:IsAssignmentEditable",
    "task:IsComplete",
    "task:IsRecurring",
    "task:IsTeamTask",
    "task:Mileage",
    "task:Owner",
    "task:PercentComplete",
    "task:Recurrence",
    "task:StartDate",
    "task:Status",
    "task:StatusDescription",
    "task:TotalWork",
    "contacts:Alias",
    "contacts:AssistantName",
    "contacts:Birthday",
    "contacts:BusinessHomePage",
    "contacts:Children",
    "contacts:Companies",
    "contacts:CompanyName",
    "contacts:CompleteName",
    "contacts:ContactSource",
    "contacts:Culture",
    "contacts:Department",
    "contacts:DisplayName",
    "contacts:DirectoryId",
    "contacts:DirectReports",
    "contacts:EmailAddresses",
    "contacts:FileAs",
    "contacts:FileAsMapping",
    "contacts:Generation",
    "contacts:GivenName",
    "contacts:ImAddresses",
    "contacts:Initials",
    "contacts:JobTitle",
    "contacts:Manager",
    "contacts:ManagerMailbox",
    "contacts:MiddleName",
    "contacts:Mileage",
    "contacts:MSExchangeCertificate",
    "contacts:Nickname",
    "contacts:Notes",
    "contacts:OfficeLocation",
    "contacts:PhoneNumbers",
    "contacts:PhoneticFullName",
    "contacts:PhoneticFirstName",
    "contacts:PhoneticLastName",
    "contacts:Photo",
    "contacts:PhysicalAddresses",
    "contacts:PostalAddressIndex",
    "contacts:Profession",
    "contacts:SpouseName",
    "contacts:Surname",
    "contacts:WeddingAnniversary",
    "contacts:UserSMIMECertificate",
    "contacts:HasPicture",
    "distributionlist:Members",
    "postitem:PostedTime",
];

/// The canonical `FieldURI` string for a value the schema allows.
pub fn canonical_field_uri(value: &str) -> Option<&'static str> {
    KNOWN_FIELD_URIS.iter().copied().find(|k| *k == value)
}

/// Parses a `t:FieldURI` element into its canonical value.
pub fn parse_field_uri(el: &Element) -> Result<&'static str, EwsFault> {
    let value = el
        .attr("FieldURI")
        .ok_or_else(|| EwsFault::missing_attribute(el, "FieldURI"))?;
    canonical_field_uri(value)
        .ok_or_else(|| EwsFault::invalid_enum(el, "FieldURI", value, "UnindexedFieldURIType"))
}

/// Parses a `t:ExtendedFieldURI` element, checking the attribute combinations Exchange
/// allows: (`DistinguishedPropertySetId` | `PropertySetId`) with (`PropertyName` |
/// `PropertyId`), or `PropertyTag` alone; `PropertyType` always.
pub fn parse_extended_field_uri(el: &Element) -> Result<ExtendedFieldUri, EwsFault> {
    let property_type = el
        .attr("PropertyType")
        .ok_or_else(|| EwsFault::missing_attribute(el, "PropertyType"))?;
    if !PROPERTY_TYPES.contains(&property_type) {
        return Err(EwsFault::invalid_enum(
            el,
            "PropertyType",
            property_type,
            "MapiPropertyTypeType",
        ));
    }
    let property_type = property_type.to_owned();
    let distinguished = el.attr("DistinguishedPropertySetId");
    let guid = el.attr("PropertySetId");
    let name = el.attr("PropertyName");
    let id = el.attr("PropertyId");
    let tag = el.attr("PropertyTag");
    if let Some(d) = distinguished
        && !is_distinguished_property_set(d)
    {
        return Err(EwsFault::invalid_enum(
            el,
            "DistinguishedPropertySetId",
            d,
            "DistinguishedPropertySetType",
        ));
    }
    let invalid = |what: &str| {
        EwsFault::from(
            ResponseError::new(
                "ErrorInvalidExtendedProperty",
                &format!("The extended property attribute combination is invalid: {what}."),
            )
            .with(MessageXml::value(
                "PropertyType",
                el.attr("PropertyType").unwrap_or(""),
            )),
        )
    };
    let set = match (distinguished, guid) {
        (Some(d), None) => Some(PropertySet::Distinguished(d.to_owned())),
        (None, Some(g)) => {
            let trimmed = g.trim_matches(|c| c == '{' || c == '}');
            let valid = trimmed.len() == 36
                && trimmed.chars().enumerate().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                });
            if !valid {
                return Err(EwsFault::schema(
                    el,
                    &format!(
                        "The 'PropertySetId' attribute is invalid - The value '{g}' is invalid according to its datatype '{TYPES_NS}:GuidType'."
                    ),
                ));
            }
            Some(PropertySet::Guid(g.to_owned()))
        }
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(invalid(
                "DistinguishedPropertySetId and PropertySetId together",
            ));
        }
    };
    match (set, name, id, tag) {
        (Some(set), Some(name), None, None) => Ok(ExtendedFieldUri::Named {
            set,
            name: name.to_owned(),
            property_type,
        }),
        (Some(set), None, Some(id), None) => {
            let id = parse_number(id).ok_or_else(|| invalid("PropertyId is not a number"))?;
            Ok(ExtendedFieldUri::Id {
                set,
                id,
                property_type,
            })
        }
        (None, None, None, Some(tag)) => {
            let tag = parse_number(tag).ok_or_else(|| invalid("PropertyTag is not a number"))?;
            if tag > 0xffff {
                return Err(invalid("PropertyTag must be a 16-bit property id"));
            }
            Ok(ExtendedFieldUri::Tag { tag, property_type })
        }
        (Some(_), None, None, None) => {
            Err(invalid("a property set needs PropertyName or PropertyId"))
        }
        (None, _, _, None) => Err(invalid("PropertyName/PropertyId need a property set")),
        _ => Err(invalid(
            "PropertyTag cannot be combined with a property set, name or id",
        )),
    }
}

fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Writes an `ExtendedFieldURI` element with the same attributes it was requested with.
pub fn write_extended_field_uri(w: &mut crate::ews::writer::XmlWriter, uri: &ExtendedFieldUri) {
    let mut attrs: Vec<(&str, String)> = Vec::new();
    let set_attr = |set: &PropertySet| match set {
        PropertySet::Distinguished(d) => ("DistinguishedPropertySetId", d.clone()),
        PropertySet::Guid(g) => ("PropertySetId", g.clone()),
    };
    match uri {
        ExtendedFieldUri::Named { set, name, .. } => {
            attrs.push(set_attr(set));
            attrs.push(("PropertyName", name.clone()));
        }
        ExtendedFieldUri::Id { set, id, .. } => {
            attrs.push(set_attr(set));
            attrs.push(("PropertyId", id.to_string()));
        }
        ExtendedFieldUri::Tag { tag, .. } => attrs.push(("PropertyTag", format!("{tag:#06x}"))),
    }
    attrs.push(("PropertyType", uri.property_type().to_owned()));
    let borrowed: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.empty("t:ExtendedFieldURI", &borrowed);
}

impl ItemShape {
    /// `IdOnly` with nothing else.
    pub fn id_only(usage: ShapeUse) -> ItemShape {
        ItemShape {
            base: BaseShape::IdOnly,
            body_type: BodyTypeWanted::Best,
            fields: Vec::new(),
            extended: Vec::new(),
            usage,
        }
    }

    /// Parses `m:ItemShape`. Explicitly requesting a property the operation cannot return
    /// is an `ErrorInvalidPropertyRequest` (returned as `Err(Ok(..))` for the caller to put in
    /// the response message); schema problems are faults.
    pub fn parse(el: &Element, usage: ShapeUse) -> Result<ItemShape, ShapeError> {
        let mut base = None;
        let mut body_type = BodyTypeWanted::Best;
        let mut fields = Vec::new();
        let mut extended = Vec::new();
        for child in &el.children {
            if child.namespace != TYPES_NS {
                return Err(ShapeError::Fault(EwsFault::unexpected_child(el, child)));
            }
            match child.name.as_str() {
                "BaseShape" => {
                    base = Some(match child.trimmed_text() {
                        "IdOnly" => BaseShape::IdOnly,
                        "Default" => BaseShape::Default,
                        "AllProperties" => BaseShape::AllProperties,
                        other => {
                            return Err(ShapeError::Fault(EwsFault::schema(
                                child,
                                &format!(
                                    "The element 'BaseShape' has an invalid value '{other}' according to its data type '{TYPES_NS}:DefaultShapeNamesType' - The Enumeration constraint failed."
                                ),
                            )));
                        }
                    });
                }
                "IncludeMimeContent"
                | "FilterHtmlContent"
                | "ConvertHtmlCodePageToUTF8"
                | "AddBlankTargetToLinks"
                | "MaximumBodySize"
                | "InlineImageUrlTemplate"
                | "BlockExternalImages" => {}
                "BodyType" => {
                    body_type = match child.trimmed_text() {
                        "Best" => BodyTypeWanted::Best,
                        "Text" => BodyTypeWanted::Exactly(BodyType::Text),
                        "HTML" => BodyTypeWanted::Exactly(BodyType::Html),
                        other => {
                            return Err(ShapeError::Fault(EwsFault::schema(
                                child,
                                &format!(
                                    "The element 'BodyType' has an invalid value '{other}' according to its data type '{TYPES_NS}:BodyTypeResponseType' - The Enumeration constraint failed."
                                ),
                            )));
                        }
                    };
                }
                "AdditionalProperties" => {
                    for path in &child.children {
                        match (path.namespace.as_str(), path.name.as_str()) {
                            (TYPES_NS, "FieldURI") => {
                                let uri = parse_field_uri(path).map_err(ShapeError::Fault)?;
                                if usage != ShapeUse::GetItem && NOT_IN_FIND.contains(&uri) {
                                    return Err(ShapeError::InvalidProperty(
                                        invalid_property_request(uri, usage),
                                    ));
                                }
                                fields.push(uri);
                            }
                            (TYPES_NS, "ExtendedFieldURI") => extended
                                .push(parse_extended_field_uri(path).map_err(ShapeError::Fault)?),
                            (TYPES_NS, "IndexedFieldURI") => {
                                // Indexed properties (contacts' addresses, phone numbers) do not
                                // exist on calendar items; accepted and never returned.
                                if path.attr("FieldURI").is_none() {
                                    return Err(ShapeError::Fault(EwsFault::missing_attribute(
                                        path, "FieldURI",
                                    )));
                                }
                            }
                            _ => {
                                return Err(ShapeError::Fault(EwsFault::unexpected_child(
                                    child, path,
                                )));
                            }
                        }
                    }
                }
                _ => return Err(ShapeError::Fault(EwsFault::unexpected_child(el, child))),
            }
        }
        let base = base
            .ok_or_else(|| ShapeError::Fault(EwsFault::missing_child(el, TYPES_NS, "BaseShape")))?;
        Ok(ItemShape {
            base,
            body_type,
            fields,
            extended,
            usage,
        })
    }

    /// Whether a first-class property is part of this shape.
    pub fn wants(&self, uri: &str) -> bool {
        if uri == "item:ItemId" {
            return true;
        }
        if self.fields.contains(&uri) {
            return true;
        }
        let findish = self.usage != ShapeUse::GetItem;
        match self.base {
            BaseShape::IdOnly => false,
            BaseShape::Default => {
                DEFAULT_ITEM.contains(&uri) || (!findish && DEFAULT_GET_ITEM.contains(&uri))
            }
            BaseShape::AllProperties => !(findish && NOT_IN_FIND.contains(&uri)),
        }
    }
}

/// A shape problem: a fault for the whole request, or an error for the response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    /// Schema violation.
    Fault(EwsFault),
    /// A property the operation cannot return.
    InvalidProperty(ResponseError),
}

fn invalid_property_request(uri: &str, usage: ShapeUse) -> ResponseError {
    let op = match usage {
        ShapeUse::FindItem => "FindItem",
        ShapeUse::SyncFolderItems => "SyncFolderItems",
        ShapeUse::GetItem => "GetItem",
    };
    ResponseError::new(
        "ErrorInvalidPropertyRequest",
        &format!("The property {uri} can't be used in {op} requests."),
    )
    .with(MessageXml::field_uri(uri))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::dom::parse;

    fn shape(xml: &str, usage: ShapeUse) -> Result<ItemShape, ShapeError> {
        let doc = format!(
            "<m:ItemShape xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" xmlns:t=\"{TYPES_NS}\">{xml}</m:ItemShape>"
        );
        let el = parse(doc.as_bytes()).unwrap();
        ItemShape::parse(&el, usage)
    }

    #[test]
    fn parses_the_batch_fixture_shape() {
        let s = shape(
            r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="calendar:Start"/><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/></t:AdditionalProperties>"#,
            ShapeUse::GetItem,
        )
        .unwrap();
        assert_eq!(s.base, BaseShape::IdOnly);
        assert!(s.wants("item:Subject") && s.wants("calendar:Start") && s.wants("item:ItemId"));
        assert!(!s.wants("calendar:End"));
        assert_eq!(s.extended.len(), 1);
    }

    #[test]
    fn find_item_never_returns_body_or_attendees() {
        let all = shape(
            "<t:BaseShape>AllProperties</t:BaseShape>",
            ShapeUse::FindItem,
        )
        .unwrap();
        assert!(!all.wants("item:Body"));
        assert!(!all.wants("calendar:RequiredAttendees"));
        assert!(all.wants("calendar:Start"));
        let asked = shape(
            r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties>"#,
            ShapeUse::FindItem,
        )
        .unwrap_err();
        assert!(
            matches!(asked, ShapeError::InvalidProperty(e) if e.code == "ErrorInvalidPropertyRequest")
        );
        let get = shape("<t:BaseShape>Default</t:BaseShape>", ShapeUse::GetItem).unwrap();
        assert!(get.wants("item:Body") && get.wants("calendar:RequiredAttendees"));
    }

    #[test]
    fn rejects_unknown_field_uris_and_bad_extended_combinations() {
        let bad = shape(
            r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Nonsense"/></t:AdditionalProperties>"#,
            ShapeUse::GetItem,
        )
        .unwrap_err();
        assert!(matches!(bad, ShapeError::Fault(f) if f.code == "ErrorSchemaValidation"));
        let tag_and_name = shape(
            r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x1000" PropertyName="x" PropertyType="String"/></t:AdditionalProperties>"#,
            ShapeUse::GetItem,
        )
        .unwrap_err();
        assert!(
            matches!(tag_and_name, ShapeError::Fault(f) if f.code == "ErrorInvalidExtendedProperty")
        );
        let missing_base = shape("<t:BodyType>Text</t:BodyType>", ShapeUse::GetItem).unwrap_err();
        assert!(matches!(missing_base, ShapeError::Fault(f) if f.code == "ErrorSchemaValidation"));
    }
}
