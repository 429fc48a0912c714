//! GetFolder: distinguished folders and folder ids, with `FolderShape` and `EffectiveRights`.
//!
//! Each folder id gets one response message, in order. The caller needs at least
//! `FolderVisible` (or `ReadItems`) on another mailbox's folder, else `ErrorAccessDenied`.
//! `EffectiveRights` reflects the caller's folder permission: full rights for the owner and for
//! impersonation; for a delegate `CreateContents` = CreateItems, `CreateHierarchy` =
//! CreateSubfolders, `Modify`/`Delete`/`CreateAssociated` = FolderOwner, `Read` = FolderVisible,
//! `ViewPrivateItems` = the `CanViewPrivateItems` flag (sent from Exchange2010_SP1 on).

use super::context::{Need, OpContext, OpError, ServerVersion};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::EwsFault;
use super::writer::{OpResponse, ResponseBuilder, XmlWriter};
use crate::directory::FolderRights;
use crate::seed::FolderName;

/// Folder properties the schema allows in `t:FieldURI` for folders.
const FOLDER_FIELDS: &[&str] = &[
    "folder:FolderId",
    "folder:ParentFolderId",
    "folder:DisplayName",
    "folder:UnreadCount",
    "folder:TotalCount",
    "folder:ChildFolderCount",
    "folder:FolderClass",
    "folder:SearchParameters",
    "folder:ManagedFolderInformation",
    "folder:PermissionSet",
    "folder:EffectiveRights",
    "folder:SharingEffectiveRights",
    "folder:DistinguishedFolderId",
    "folder:PolicyTag",
    "folder:ArchiveTag",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseShape {
    IdOnly,
    Default,
    AllProperties,
}

#[derive(Debug, Default)]
struct Shape {
    all: bool,
    default: bool,
    extra: Vec<String>,
}

impl Shape {
    fn wants(&self, field: &str, in_default: bool) -> bool {
        self.all || (self.default && in_default) || self.extra.iter().any(|f| f == field)
    }
}

fn parse_shape(op: &Element) -> Result<Shape, EwsFault> {
    let shape_el = op
        .m("FolderShape")
        .ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "FolderShape"))?;
    let base_el = shape_el
        .t("BaseShape")
        .ok_or_else(|| EwsFault::missing_child(shape_el, TYPES_NS, "BaseShape"))?;
    let base = match base_el.trimmed_text() {
        "IdOnly" => BaseShape::IdOnly,
        "Default" => BaseShape::Default,
        "AllProperties" => BaseShape::AllProperties,
        other => {
            return Err(EwsFault::schema(
                base_el,
                &format!(
                    "The element 'BaseShape' has an invalid value '{other}' according to its data type '{TYPES_NS}:DefaultShapeNamesType' - The Enumeration constraint failed."
                ),
            ));
        }
    };
    let mut shape = Shape {
        all: base == BaseShape::AllProperties,
        default: base == BaseShape::Default,
        extra: Vec::new(),
    };
    for child in &shape_el.children {
        if child.is(TYPES_NS, "BaseShape") {
            continue;
        }
        if !child.is(TYPES_NS, "AdditionalProperties") {
            return Err(EwsFault::unexpected_child(shape_el, child));
        }
        for prop in &child.children {
            if prop.is(TYPES_NS, "FieldURI") {
                let uri = prop
                    .attr("FieldURI")
                    .ok_or_else(|| EwsFault::missing_attribute(prop, "FieldURI"))?;
                if !FOLDER_FIELDS.contains(&uri) {
                    return Err(EwsFault::invalid_enum(
                        prop,
                        "FieldURI",
                        uri,
                        "UnindexedFieldURIType",
                    ));
                }
                shape.extra.push(uri.to_string());
            } else if prop.is(TYPES_NS, "ExtendedFieldURI") {
                // Extended properties are not stored on folders; nothing to return.
            } else {
                return Err(EwsFault::unexpected_child(child, prop));
            }
        }
    }
    Ok(shape)
}

/// Handles `m:GetFolder`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    for child in &op.children {
        if !(child.is(MESSAGES_NS, "FolderShape") || child.is(MESSAGES_NS, "FolderIds")) {
            return Err(EwsFault::unexpected_child(op, child));
        }
    }
    let shape = parse_shape(op)?;
    let ids = op
        .m("FolderIds")
        .ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "FolderIds"))?;
    if ids.children.is_empty() {
        return Err(EwsFault::missing_child(ids, TYPES_NS, "FolderId"));
    }
    let mut out = ResponseBuilder::new("GetFolder");
    for id_el in &ids.children {
        let resolved = cx.resolve_folder(id_el).and_then(|f| {
            cx.require(&f, Need::Visible)
                .map(|r| (f, r))
                .map_err(OpError::Item)
        });
        out.outcome(
            resolved,
            |w, (folder, rights)| {
                let count = folder_item_count(cx, &folder.mailbox, folder.folder);
                w.start("m:Folders", &[]);
                write_folder(w, &folder, rights, &shape, cx.version, count);
                w.end("m:Folders");
            },
            |_| {},
        )?;
    }
    Ok(out.finish())
}

/// Number of items in a folder (from the calendar store).
fn folder_item_count(cx: &OpContext<'_>, mailbox: &str, folder: FolderName) -> usize {
    use crate::calendar::FolderKind;
    let kind = match folder {
        FolderName::Root | FolderName::Msgfolderroot => FolderKind::Root,
        FolderName::Calendar => FolderKind::Calendar,
        FolderName::Drafts => FolderKind::Drafts,
        FolderName::Inbox => FolderKind::Inbox,
        FolderName::Deleteditems => FolderKind::DeletedItems,
        FolderName::Sentitems => FolderKind::SentItems,
    };
    cx.state
        .calendar
        .mailbox(mailbox)
        .map(|m| m.folder_count(kind))
        .unwrap_or(0)
}

fn write_folder(
    w: &mut XmlWriter,
    folder: &super::context::FolderRef,
    rights: FolderRights,
    shape: &Shape,
    version: ServerVersion,
    count: usize,
) {
    let element = if folder.folder == FolderName::Calendar {
        "t:CalendarFolder"
    } else {
        "t:Folder"
    };
    w.start(element, &[]);
    w.empty(
        "t:FolderId",
        &[("Id", &folder.id()), ("ChangeKey", &folder.change_key())],
    );
    if shape.wants("folder:ParentFolderId", false) && folder.folder != FolderName::Root {
        let parent = match folder.folder {
            FolderName::Msgfolderroot => FolderName::Root,
            _ => FolderName::Msgfolderroot,
        };
        let p = super::context::FolderRef {
            mailbox: folder.mailbox.clone(),
            folder: parent,
        };
        w.empty(
            "t:ParentFolderId",
            &[("Id", &p.id()), ("ChangeKey", &p.change_key())],
        );
    }
    if shape.wants("folder:FolderClass", false) {
        match folder.folder {
            FolderName::Calendar => {
                w.leaf("t:FolderClass", "IPF.Appointment");
            }
            FolderName::Root => {}
            _ => {
                w.leaf("t:FolderClass", "IPF.Note");
            }
        }
    }
    if shape.wants("folder:DisplayName", true) {
        w.leaf("t:DisplayName", folder.folder.display_name());
    }
    if shape.wants("folder:TotalCount", true) {
        w.leaf("t:TotalCount", &count.to_string());
    }
    if shape.wants("folder:ChildFolderCount", true) {
        let children = match folder.folder {
            FolderName::Root => 1,
            FolderName::Msgfolderroot => 4,
            _ => 0,
        };
        w.leaf("t:ChildFolderCount", &children.to_string());
    }
    if shape.wants("folder:EffectiveRights", false) {
        let b = |v: bool| if v { "true" } else { "false" };
        w.start("t:EffectiveRights", &[]);
        w.leaf("t:CreateAssociated", b(rights.folder_owner));
        w.leaf("t:CreateContents", b(rights.create_items));
        w.leaf("t:CreateHierarchy", b(rights.create_subfolders));
        w.leaf("t:Delete", b(rights.folder_owner));
        w.leaf("t:Modify", b(rights.folder_owner));
        w.leaf("t:Read", b(rights.folder_visible || rights.read_items));
        if version >= ServerVersion::Exchange2010Sp1 {
            w.leaf("t:ViewPrivateItems", b(rights.view_private));
        }
        w.end("t:EffectiveRights");
    }
    if shape.wants("folder:DistinguishedFolderId", false) && version >= ServerVersion::Exchange2013
    {
        w.leaf("t:DistinguishedFolderId", folder.folder.id());
    }
    if element == "t:Folder"
        && folder.folder != FolderName::Root
        && shape.wants("folder:UnreadCount", true)
    {
        w.leaf("t:UnreadCount", "0");
    }
    w.end(element);
}
