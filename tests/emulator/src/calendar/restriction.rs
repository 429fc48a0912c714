//! Search restrictions (`m:Restriction`) of `FindItem`: parsing and evaluation on items.
//!
//! Supported expressions: `And`, `Or`, `Not`, `Exists`, `IsEqualTo`, `IsNotEqualTo`,
//! `IsGreaterThan`, `IsGreaterThanOrEqualTo`, `IsLessThan`, `IsLessThanOrEqualTo` (with
//! `FieldURIOrConstant/Constant` or another `FieldURI`) and `Contains` (`ContainmentMode`,
//! `ContainmentComparison`), on the searchable first-class properties listed in
//! [`SEARCHABLE`] and on extended properties (`ExtendedFieldURI`). A property that cannot be
//! searched is `ErrorUnsupportedPathForQuery`; a constant that does not fit the property's type
//! is `ErrorInvalidValueForProperty`; more than 255 expressions is `ErrorRestrictionTooLong`.

use jiff::Timestamp;

use super::datetime::parse_xs_datetime;
use super::item::{ExtendedFieldUri, Item, ItemKind};
use super::service::extended_text;
use super::shape::{parse_extended_field_uri, parse_field_uri};
use super::timezone::WindowsZone;
use crate::ews::dom::{Element, TYPES_NS};
use crate::ews::fault::{EwsFault, MessageXml, ResponseError};

/// Most expressions in one restriction.
pub const MAX_NODES: usize = 255;

/// First-class properties that can be searched.
pub const SEARCHABLE: &[&str] = &[
    "item:Subject",
    "item:ItemClass",
    "item:Sensitivity",
    "item:Importance",
    "item:DateTimeCreated",
    "item:DateTimeReceived",
    "item:LastModifiedTime",
    "item:Categories",
    "item:Body",
    "calendar:Start",
    "calendar:End",
    "calendar:UID",
    "calendar:Location",
    "calendar:IsAllDayEvent",
    "calendar:IsMeeting",
    "calendar:IsCancelled",
    "calendar:IsRecurring",
    "calendar:CalendarItemType",
    "calendar:LegacyFreeBusyStatus",
    "calendar:Organizer",
    "message:IsRead",
    "message:From",
    "message:Sender",
];

/// `ContainmentComparison` values of the schema.
const COMPARISONS: &[&str] = &[
    "Exact",
    "IgnoreCase",
    "IgnoreNonSpacingCharacters",
    "Loose",
    "IgnoreCaseAndNonSpacingCharacters",
    "LooseAndIgnoreCase",
    "LooseAndIgnoreNonSpace",
    "LooseAndIgnoreCaseAndIgnoreNonSpace",
];

/// A property operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A first-class property.
    Field(&'static str),
    /// An extended property.
    Extended(ExtendedFieldUri),
    /// A constant.
    Constant(String),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `IsEqualTo`.
    Equal,
    /// `IsNotEqualTo`.
    NotEqual,
    /// `IsGreaterThan`.
    Greater,
    /// `IsGreaterThanOrEqualTo`.
    GreaterOrEqual,
    /// `IsLessThan`.
    Less,
    /// `IsLessThanOrEqualTo`.
    LessOrEqual,
}

/// `ContainmentMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Containment {
    /// `FullString`.
    FullString,
    /// `Prefixed`.
    Prefixed,
    /// `Substring`.
    Substring,
    /// `PrefixOnWords`.
    PrefixOnWords,
    /// `ExactPhrase`.
    ExactPhrase,
}

/// A parsed restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// All must hold.
    And(Vec<Restriction>),
    /// One must hold.
    Or(Vec<Restriction>),
    /// Negation.
    Not(Box<Restriction>),
    /// The property is set.
    Exists(Operand),
    /// A comparison.
    Compare(Comparison, Operand, Operand),
    /// A text search.
    Contains {
        /// The property.
        path: Operand,
        /// The text.
        constant: String,
        /// How to match.
        mode: Containment,
        /// Case-insensitive when true.
        ignore_case: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Number(f64),
    Bool(bool),
    Time(Timestamp),
}

fn unsupported_path(path: &str) -> ResponseError {
    ResponseError::new(
        "ErrorUnsupportedPathForQuery",
        "The property path can not be used for a query restriction.",
    )
    .with(MessageXml::field_uri(path))
}

/// A restriction problem: schema (fault) or semantic (response message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestrictionError {
    /// Schema violation.
    Fault(EwsFault),
    /// Response-message error.
    Item(ResponseError),
}

fn parse_path(el: &Element) -> Result<Operand, RestrictionError> {
    match el.name.as_str() {
        "FieldURI" => {
            let uri = parse_field_uri(el).map_err(RestrictionError::Fault)?;
            if !SEARCHABLE.contains(&uri) {
                return Err(RestrictionError::Item(unsupported_path(uri)));
            }
            Ok(Operand::Field(uri))
        }
        "ExtendedFieldURI" => Ok(Operand::Extended(
            parse_extended_field_uri(el).map_err(RestrictionError::Fault)?,
        )),
        "IndexedFieldURI" => Err(RestrictionError::Item(unsupported_path(
            el.attr("FieldURI").unwrap_or("IndexedFieldURI"),
        ))),
        _ => Err(RestrictionError::Fault(EwsFault::schema(
            el,
            &format!(
                "The element '{}' is not a property path; expected FieldURI or ExtendedFieldURI.",
                el.name
            ),
        ))),
    }
}

/// Parses `m:Restriction` (its single child expression).
pub fn parse_restriction(el: &Element) -> Result<Restriction, RestrictionError> {
    let mut nodes = 0usize;
    let [expression] = el.children.as_slice() else {
        return Err(RestrictionError::Fault(EwsFault::schema(
            el,
            "The element 'Restriction' must contain exactly one search expression.",
        )));
    };
    parse_expression(expression, &mut nodes)
}

fn parse_expression(el: &Element, nodes: &mut usize) -> Result<Restriction, RestrictionError> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(RestrictionError::Item(ResponseError::new(
            "ErrorRestrictionTooLong",
            "The restriction contains too many elements.",
        )));
    }
    if el.namespace != TYPES_NS {
        return Err(RestrictionError::Fault(EwsFault::schema(
            el,
            &format!(
                "The element '{}' in namespace '{}' is not a search expression.",
                el.name, el.namespace
            ),
        )));
    }
    let comparison = match el.name.as_str() {
        "IsEqualTo" => Some(Comparison::Equal),
        "IsNotEqualTo" => Some(Comparison::NotEqual),
        "IsGreaterThan" => Some(Comparison::Greater),
        "IsGreaterThanOrEqualTo" => Some(Comparison::GreaterOrEqual),
        "IsLessThan" => Some(Comparison::Less),
        "IsLessThanOrEqualTo" => Some(Comparison::LessOrEqual),
        _ => None,
    };
    if let Some(op) = comparison {
        let [path, right] = el.children.as_slice() else {
            return Err(RestrictionError::Fault(EwsFault::schema(
                el,
                &format!(
                    "The element '{}' must contain a property path and FieldURIOrConstant.",
                    el.name
                ),
            )));
        };
        let left = parse_path(path)?;
        if !right.is(TYPES_NS, "FieldURIOrConstant") {
            return Err(RestrictionError::Fault(EwsFault::unexpected_child(
                el, right,
            )));
        }
        let [value] = right.children.as_slice() else {
            return Err(RestrictionError::Fault(EwsFault::missing_child(
                right, TYPES_NS, "Constant",
            )));
        };
        let right = if value.is(TYPES_NS, "Constant") {
            Operand::Constant(
                value
                    .attr("Value")
                    .ok_or_else(|| {
                        RestrictionError::Fault(EwsFault::missing_attribute(value, "Value"))
                    })?
                    .to_owned(),
            )
        } else {
            parse_path(value)?
        };
        return Ok(Restriction::Compare(op, left, right));
    }
    match el.name.as_str() {
        "And" | "Or" => {
            let mut parts = Vec::new();
            for child in &el.children {
                parts.push(parse_expression(child, nodes)?);
            }
            if parts.is_empty() {
                return Err(RestrictionError::Fault(EwsFault::schema(
                    el,
                    &format!("The element '{}' has incomplete content.", el.name),
                )));
            }
            Ok(if el.name == "And" {
                Restriction::And(parts)
            } else {
                Restriction::Or(parts)
            })
        }
        "Not" => {
            let [inner] = el.children.as_slice() else {
                return Err(RestrictionError::Fault(EwsFault::schema(
                    el,
                    "The element 'Not' must contain one search expression.",
                )));
            };
            Ok(Restriction::Not(Box::new(parse_expression(inner, nodes)?)))
        }
        "Exists" => {
            let [path] = el.children.as_slice() else {
                return Err(RestrictionError::Fault(EwsFault::schema(
                    el,
                    "The element 'Exists' must contain one property path.",
                )));
            };
            Ok(Restriction::Exists(parse_path(path)?))
        }
        "Contains" => {
            let [path, constant] = el.children.as_slice() else {
                return Err(RestrictionError::Fault(EwsFault::schema(
                    el,
                    "The element 'Contains' must contain a property path and a Constant.",
                )));
            };
            let path = parse_path(path)?;
            if !constant.is(TYPES_NS, "Constant") {
                return Err(RestrictionError::Fault(EwsFault::unexpected_child(
                    el, constant,
                )));
            }
            let text = constant.attr("Value").ok_or_else(|| {
                RestrictionError::Fault(EwsFault::missing_attribute(constant, "Value"))
            })?;
            let mode = match el.attr("ContainmentMode").unwrap_or("Substring") {
                "FullString" => Containment::FullString,
                "Prefixed" => Containment::Prefixed,
                "Substring" => Containment::Substring,
                "PrefixOnWords" => Containment::PrefixOnWords,
                "ExactPhrase" => Containment::ExactPhrase,
                other => {
                    return Err(RestrictionError::Fault(EwsFault::invalid_enum(
                        el,
                        "ContainmentMode",
                        other,
                        "ContainmentModeType",
                    )));
                }
            };
            let comparison = el.attr("ContainmentComparison").unwrap_or("Exact");
            if !COMPARISONS.contains(&comparison) {
                return Err(RestrictionError::Fault(EwsFault::invalid_enum(
                    el,
                    "ContainmentComparison",
                    comparison,
                    "ContainmentComparisonType",
                )));
            }
            let ignore_case = comparison.contains("IgnoreCase") || comparison.starts_with("Loose");
            Ok(Restriction::Contains {
                path,
                constant: text.to_owned(),
                mode,
                ignore_case,
            })
        }
        "Excludes" => Err(RestrictionError::Item(ResponseError::new(
            "ErrorUnsupportedQueryFilter",
            "The Excludes (bitmask) restriction is not supported on calendar properties.",
        ))),
        _ => Err(RestrictionError::Fault(EwsFault::schema(
            el,
            &format!(
                "The element '{}' in namespace '{}' is not a search expression.",
                el.name, el.namespace
            ),
        ))),
    }
}

fn field_values(item: &Item, field: &str) -> Vec<Value> {
    let cal = match &item.kind {
        ItemKind::Calendar(c) => Some(c),
        ItemKind::MeetingMessage(m) => Some(&m.meeting),
        ItemKind::Message(_) => None,
    };
    let text = |s: &str| vec![Value::Text(s.to_owned())];
    match field {
        "item:Subject" => text(&item.subject),
        "item:ItemClass" => text(&item.item_class),
        "item:Sensitivity" => text(item.sensitivity.as_str()),
        "item:Importance" => text(item.importance.as_str()),
        "item:DateTimeCreated" => vec![Value::Time(item.created)],
        "item:DateTimeReceived" => vec![Value::Time(item.received)],
        "item:LastModifiedTime" => vec![Value::Time(item.last_modified)],
        "item:Categories" => item
            .categories
            .iter()
            .map(|c| Value::Text(c.clone()))
            .collect(),
        "item:Body" => text(&item.body.content),
        "calendar:Start" => cal.map(|c| vec![Value::Time(c.start)]).unwrap_or_default(),
        "calendar:End" => cal.map(|c| vec![Value::Time(c.end)]).unwrap_or_default(),
        "calendar:UID" => cal
            .filter(|c| !c.uid.is_empty())
            .map(|c| text(&c.uid))
            .unwrap_or_default(),
        "calendar:Location" => cal
            .and_then(|c| c.location.as_deref())
            .map(text)
            .unwrap_or_default(),
        "calendar:IsAllDayEvent" => cal
            .map(|c| vec![Value::Bool(c.is_all_day)])
            .unwrap_or_default(),
        "calendar:IsMeeting" => cal
            .map(|c| vec![Value::Bool(c.is_meeting)])
            .unwrap_or_default(),
        "calendar:IsCancelled" => cal
            .map(|c| vec![Value::Bool(c.is_cancelled)])
            .unwrap_or_default(),
        "calendar:IsRecurring" => cal
            .map(|c| vec![Value::Bool(c.recurrence.is_some())])
            .unwrap_or_default(),
        "calendar:CalendarItemType" => cal.map(|c| text(c.item_type.as_str())).unwrap_or_default(),
        "calendar:LegacyFreeBusyStatus" => {
            cal.map(|c| text(c.free_busy.as_str())).unwrap_or_default()
        }
        "calendar:Organizer" => cal
            .and_then(|c| c.organizer.as_ref())
            .map(|o| text(&o.email))
            .unwrap_or_default(),
        "message:IsRead" => match &item.kind {
            ItemKind::Message(m) => vec![Value::Bool(m.is_read)],
            ItemKind::MeetingMessage(m) => vec![Value::Bool(m.is_read)],
            ItemKind::Calendar(_) => Vec::new(),
        },
        "message:From" | "message:Sender" => match &item.kind {
            ItemKind::Message(m) => m.from.as_ref().map(|f| text(&f.email)).unwrap_or_default(),
            ItemKind::MeetingMessage(m) => {
                m.from.as_ref().map(|f| text(&f.email)).unwrap_or_default()
            }
            ItemKind::Calendar(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn operand_values(item: &Item, operand: &Operand) -> Vec<Value> {
    match operand {
        Operand::Field(f) => field_values(item, f),
        Operand::Extended(uri) => item
            .extended_property(&uri.key())
            .filter(|p| p.uri.property_type() == uri.property_type())
            .map(|p| {
                let base = uri.property_type().trim_end_matches("Array");
                extended_text(&p.value)
                    .into_iter()
                    .map(|v| typed(base, v).unwrap_or_else(|| Value::Text(v.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
        Operand::Constant(c) => vec![Value::Text(c.clone())],
    }
}

fn typed(base: &str, text: &str) -> Option<Value> {
    match base {
        "Integer" | "Long" | "Short" | "Double" | "Float" | "Currency" => {
            text.trim().parse().ok().map(Value::Number)
        }
        "Boolean" => match text.trim() {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        "SystemTime" => parse_xs_datetime(text.trim(), &WindowsZone::utc())
            .ok()
            .map(Value::Time),
        _ => Some(Value::Text(text.to_owned())),
    }
}

/// Converts a constant to the type of `like`.
fn coerce(constant: &str, like: &Value) -> Option<Value> {
    match like {
        Value::Text(_) => Some(Value::Text(constant.to_owned())),
        Value::Number(_) => constant.trim().parse().ok().map(Value::Number),
        Value::Bool(_) => typed("Boolean", constant),
        Value::Time(_) => parse_xs_datetime(constant.trim(), &WindowsZone::utc())
            .ok()
            .map(Value::Time),
    }
}

fn compare(op: Comparison, a: &Value, b: &Value) -> bool {
    let ordering = match (a, b) {
        (Value::Text(x), Value::Text(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Number(x), Value::Number(y)) => {
            x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal)
        }
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        _ => return op == Comparison::NotEqual,
    };
    match op {
        Comparison::Equal => ordering.is_eq(),
        Comparison::NotEqual => !ordering.is_eq(),
        Comparison::Greater => ordering.is_gt(),
        Comparison::GreaterOrEqual => ordering.is_ge(),
        Comparison::Less => ordering.is_lt(),
        Comparison::LessOrEqual => ordering.is_le(),
    }
}

/// Checks constants against the property types once, before evaluation
/// (`ErrorInvalidValueForProperty`).
pub fn validate(restriction: &Restriction) -> Result<(), ResponseError> {
    match restriction {
        Restriction::And(parts) | Restriction::Or(parts) => parts.iter().try_for_each(validate),
        Restriction::Not(inner) => validate(inner),
        Restriction::Exists(_) | Restriction::Contains { .. } => Ok(()),
        Restriction::Compare(_, left, Operand::Constant(c)) => {
            let kind = match left {
                Operand::Field(f)
                    if matches!(
                        *f,
                        "item:DateTimeCreated"
                            | "item:DateTimeReceived"
                            | "item:LastModifiedTime"
                            | "calendar:Start"
                            | "calendar:End"
                    ) =>
                {
                    Some(Value::Time(Timestamp::UNIX_EPOCH))
                }
                Operand::Field(f)
                    if matches!(
                        *f,
                        "calendar:IsAllDayEvent"
                            | "calendar:IsMeeting"
                            | "calendar:IsCancelled"
                            | "calendar:IsRecurring"
                            | "message:IsRead"
                    ) =>
                {
                    Some(Value::Bool(false))
                }
                Operand::Extended(uri) => typed(
                    uri.property_type().trim_end_matches("Array"),
                    match uri.property_type().trim_end_matches("Array") {
                        "Integer" | "Long" | "Short" | "Double" | "Float" | "Currency" => "0",
                        "Boolean" => "false",
                        "SystemTime" => "1970-01-01T00:00:00Z",
                        _ => "",
                    },
                ),
                _ => None,
            };
            match kind {
                Some(like) if coerce(c, &like).is_none() => Err(ResponseError::new(
                    "ErrorInvalidValueForProperty",
                    &format!("The value '{c}' is invalid for the property it is compared with."),
                )),
                _ => Ok(()),
            }
        }
        Restriction::Compare(..) => Ok(()),
    }
}

/// An index lookup that yields every item the restriction can match: an `IsEqualTo` of a
/// `String` extended property with a constant, alone or inside an `And`.
pub fn indexed_equality(restriction: &Restriction) -> Option<(super::item::PropertyKey, &str)> {
    match restriction {
        Restriction::Compare(Comparison::Equal, Operand::Extended(uri), Operand::Constant(c))
        | Restriction::Compare(Comparison::Equal, Operand::Constant(c), Operand::Extended(uri))
            if uri.property_type() == "String" =>
        {
            Some((uri.key(), c.as_str()))
        }
        Restriction::And(parts) => parts.iter().find_map(indexed_equality),
        _ => None,
    }
}

/// Evaluates a restriction on an item.
pub fn matches(restriction: &Restriction, item: &Item) -> bool {
    match restriction {
        Restriction::And(parts) => parts.iter().all(|p| matches(p, item)),
        Restriction::Or(parts) => parts.iter().any(|p| matches(p, item)),
        Restriction::Not(inner) => !matches(inner, item),
        Restriction::Exists(path) => !operand_values(item, path).is_empty(),
        Restriction::Compare(op, left, right) => {
            let lefts = operand_values(item, left);
            if lefts.is_empty() {
                return *op == Comparison::NotEqual;
            }
            lefts.iter().any(|l| {
                let rights: Vec<Value> = match right {
                    Operand::Constant(c) => coerce(c, l).into_iter().collect(),
                    other => operand_values(item, other),
                };
                rights.iter().any(|r| compare(*op, l, r))
            })
        }
        Restriction::Contains {
            path,
            constant,
            mode,
            ignore_case,
        } => operand_values(item, path).iter().any(|v| {
            let Value::Text(text) = v else { return false };
            let (text, needle) = if *ignore_case {
                (text.to_lowercase(), constant.to_lowercase())
            } else {
                (text.clone(), constant.clone())
            };
            match mode {
                Containment::FullString => text == needle,
                Containment::Prefixed => text.starts_with(&needle),
                Containment::Substring | Containment::ExactPhrase => text.contains(&needle),
                Containment::PrefixOnWords => {
                    text.split_whitespace().any(|w| w.starts_with(&needle))
                }
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::item::{CalendarItem, ExtendedProperty, ExtendedValue, PropertySet};
    use crate::ews::dom::parse;

    fn restriction(xml: &str) -> Result<Restriction, RestrictionError> {
        let doc = format!(
            "<m:Restriction xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" xmlns:t=\"{TYPES_NS}\">{xml}</m:Restriction>"
        );
        parse_restriction(&parse(doc.as_bytes()).unwrap())
    }

    fn tagged(id: &str) -> Item {
        let mut item = Item::new(ItemKind::Calendar(CalendarItem::new(
            "2026-01-01T09:00:00Z".parse().unwrap(),
            "2026-01-01T10:00:00Z".parse().unwrap(),
        )));
        item.subject = "Weekly Meeting Notes".into();
        item.set_extended_property(ExtendedProperty {
            uri: ExtendedFieldUri::Named {
                set: PropertySet::Distinguished("PublicStrings".into()),
                name: "RoomsBookingId".into(),
                property_type: "String".into(),
            },
            value: ExtendedValue::Single(id.into()),
        });
        item
    }

    #[test]
    fn is_equal_to_on_an_extended_property_finds_the_tagged_item() {
        let r = restriction(
            r#"<t:IsEqualTo><t:ExtendedFieldURI PropertySetId="00020329-0000-0000-C000-000000000046" PropertyName="RoomsBookingId" PropertyType="String"/><t:FieldURIOrConstant><t:Constant Value="B-7"/></t:FieldURIOrConstant></t:IsEqualTo>"#,
        )
        .unwrap();
        assert!(matches(&r, &tagged("B-7")));
        assert!(!matches(&r, &tagged("B-8")));
        // The equality can be answered from the property index.
        let (_, value) = indexed_equality(&r).expect("an indexable restriction");
        assert_eq!(value, "B-7");
        let or = Restriction::Or(vec![r.clone()]);
        assert!(indexed_equality(&or).is_none());
    }

    #[test]
    fn the_fixture_restriction_parses_and_evaluates() {
        let r = restriction(
            r#"<t:And><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="item:Subject"/><t:Constant Value="meeting notes"/></t:Contains><t:Not><t:IsGreaterThan><t:FieldURI FieldURI="calendar:Start"/><t:FieldURIOrConstant><t:Constant Value="2026-06-01T00:00:00Z"/></t:FieldURIOrConstant></t:IsGreaterThan></t:Not></t:And>"#,
        )
        .unwrap();
        assert!(matches(&r, &tagged("x")));
    }

    #[test]
    fn unsupported_paths_and_bad_constants_are_reported() {
        let path = restriction(
            r#"<t:IsEqualTo><t:FieldURI FieldURI="item:Size"/><t:FieldURIOrConstant><t:Constant Value="1"/></t:FieldURIOrConstant></t:IsEqualTo>"#,
        )
        .unwrap_err();
        assert!(
            matches!(path, RestrictionError::Item(e) if e.code == "ErrorUnsupportedPathForQuery")
        );
        let bad = restriction(
            r#"<t:IsEqualTo><t:FieldURI FieldURI="calendar:Start"/><t:FieldURIOrConstant><t:Constant Value="soon"/></t:FieldURIOrConstant></t:IsEqualTo>"#,
        )
        .unwrap();
        assert_eq!(
            validate(&bad).unwrap_err().code,
            "ErrorInvalidValueForProperty"
        );
        let exists = r#"<t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists>"#;
        let wide = format!("<t:Or>{}</t:Or>", exists.repeat(300));
        assert!(
            matches!(restriction(&wide).unwrap_err(), RestrictionError::Item(e) if e.code == "ErrorRestrictionTooLong")
        );
    }
}
