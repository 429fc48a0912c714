//! The context an operation handler runs in: who calls, for which mailbox, with which rights.
//!
//! The pipeline in [`super`] authenticates the bearer token, applies the impersonation rules
//! and the tenant policies, and then hands each handler an [`OpContext`]:
//! - [`OpContext::caller`]: app-only impersonating a mailbox, or a delegated user;
//! - [`OpContext::resolve_folder`]: parses a `t:DistinguishedFolderId` (with optional
//!   `t:Mailbox`) or `t:FolderId` into a [`FolderRef`];
//! - [`OpContext::rights`] / [`OpContext::require`]: the caller's rights on a folder, computed
//!   from folder permissions (full rights for the owner and for impersonation);
//! - [`OpContext::state`]: the shared state, including `state.calendar` (E2's store);
//! - [`OpContext::now`]: the emulator clock; [`OpContext::take_fault`]: fault-injection hooks.

use std::sync::Arc;

use jiff::Timestamp;

use super::dom::{Element, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::folders;
use crate::directory::FolderRights;
use crate::faults::{FaultAction, FaultEndpoint};
use crate::seed::{FolderName, Mailbox};
use crate::state::{Shared, State};

/// The `RequestServerVersion` of a request, ordered by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServerVersion {
    /// `Exchange2007` (also what a request without the header is processed as).
    Exchange2007,
    /// `Exchange2007_SP1`.
    Exchange2007Sp1,
    /// `Exchange2010`.
    Exchange2010,
    /// `Exchange2010_SP1`.
    Exchange2010Sp1,
    /// `Exchange2010_SP2`.
    Exchange2010Sp2,
    /// `Exchange2013`.
    Exchange2013,
    /// `Exchange2013_SP1`.
    Exchange2013Sp1,
    /// `Exchange2015`.
    Exchange2015,
    /// `Exchange2016` (and `V2015_10_05` and later values).
    Exchange2016,
}

impl ServerVersion {
    /// Parses a `Version` attribute value.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "Exchange2007" => Self::Exchange2007,
            "Exchange2007_SP1" => Self::Exchange2007Sp1,
            "Exchange2010" => Self::Exchange2010,
            "Exchange2010_SP1" => Self::Exchange2010Sp1,
            "Exchange2010_SP2" => Self::Exchange2010Sp2,
            "Exchange2013" => Self::Exchange2013,
            "Exchange2013_SP1" => Self::Exchange2013Sp1,
            "Exchange2015" => Self::Exchange2015,
            "Exchange2016" | "V2015_10_05" | "V2016_01_06" | "V2016_04_13" | "V2016_07_13"
            | "V2016_10_10" | "V2017_01_07" | "V2017_04_14" | "V2017_07_11" | "V2017_10_09"
            | "V2018_01_08" => Self::Exchange2016,
            _ => return None,
        })
    }
}

/// The authenticated caller of an EWS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An app-only token (`full_access_as_app`) impersonating a mailbox.
    App {
        /// Tenant id.
        tenant_id: String,
        /// Client id.
        app_id: String,
        /// Primary address of the impersonated mailbox.
        mailbox: String,
    },
    /// A delegated token of a signed-in user.
    User {
        /// Tenant id.
        tenant_id: String,
        /// Client id.
        app_id: String,
        /// Primary address of the user.
        mailbox: String,
    },
}

impl Caller {
    /// Primary address of the mailbox the request acts as (impersonated or signed-in user).
    pub fn acting_mailbox(&self) -> &str {
        match self {
            Self::App { mailbox, .. } | Self::User { mailbox, .. } => mailbox,
        }
    }

    /// The token's app.
    pub fn app_id(&self) -> &str {
        match self {
            Self::App { app_id, .. } | Self::User { app_id, .. } => app_id,
        }
    }

    /// The token's tenant.
    pub fn tenant_id(&self) -> &str {
        match self {
            Self::App { tenant_id, .. } | Self::User { tenant_id, .. } => tenant_id,
        }
    }

    /// The throttling account: `app:<client id>` for app-only tokens, `user:<address>` for
    /// delegated ones (the key of the connection count and the budget; use it for per-account
    /// limits such as `ConcurrentSyncCalls`).
    pub fn account(&self) -> String {
        match self {
            Self::App { app_id, .. } => format!("app:{}", app_id.to_ascii_lowercase()),
            Self::User { mailbox, .. } => format!("user:{}", mailbox.to_ascii_lowercase()),
        }
    }

    /// True for app-only impersonation.
    pub fn is_impersonation(&self) -> bool {
        matches!(self, Self::App { .. })
    }

    /// For the request log: `app <id> as <mailbox>` or `<user> via <app id>`.
    pub fn describe(&self) -> String {
        match self {
            Self::App {
                app_id, mailbox, ..
            } => format!("app {app_id} impersonating {mailbox}"),
            Self::User {
                app_id, mailbox, ..
            } => format!("{mailbox} via app {app_id}"),
        }
    }
}

/// A folder of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FolderRef {
    /// Primary SMTP address of the owning mailbox.
    pub mailbox: String,
    /// Which folder.
    pub folder: FolderName,
}

impl FolderRef {
    /// The opaque `FolderId` `Id` of this folder.
    pub fn id(&self) -> String {
        folders::encode_folder_id(&self.mailbox, self.folder)
    }

    /// The folder's `ChangeKey`.
    pub fn change_key(&self) -> String {
        folders::folder_change_key(&self.mailbox, self.folder)
    }
}

/// What a handler needs on a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// See the folder (GetFolder).
    Visible,
    /// Read items (FindItem, GetItem, SyncFolderItems).
    ReadItems,
    /// Create items.
    CreateItems,
    /// Modify an item; `own` = the caller created it.
    EditItems {
        /// Whether the caller owns the item.
        own: bool,
    },
    /// Delete an item; `own` = the caller created it.
    DeleteItems {
        /// Whether the caller owns the item.
        own: bool,
    },
}

/// Either a whole-request fault or a per-item error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// Answer the whole request with a SOAP fault.
    Fault(EwsFault),
    /// Answer this item with an error response message.
    Item(ResponseError),
}

impl From<EwsFault> for OpError {
    fn from(f: EwsFault) -> Self {
        Self::Fault(f)
    }
}

impl From<ResponseError> for OpError {
    fn from(e: ResponseError) -> Self {
        Self::Item(e)
    }
}

/// Everything an operation handler gets.
pub struct OpContext<'a> {
    /// Mutable state (directory, calendar store, faults, log...). Locked for the whole handler.
    pub state: &'a mut State,
    /// The shared server state (clock, base URL), e.g. to spawn background tasks.
    pub shared: &'a Arc<Shared>,
    /// The caller.
    pub caller: Caller,
    /// Emulator time at the start of the request.
    pub now: Timestamp,
    /// The request's `RequestServerVersion`.
    pub version: ServerVersion,
    /// The SOAP header element, if any (for `TimeZoneContext` and the like).
    pub header: Option<&'a Element>,
    /// The operation name (`GetFolder`, ...).
    pub operation: &'a str,
}

impl OpContext<'_> {
    /// The acting mailbox (impersonated or signed-in user).
    pub fn acting_mailbox(&self) -> Option<&Mailbox> {
        self.state
            .directory
            .by_primary(self.caller.acting_mailbox())
    }

    /// Resolves an address as `t:Mailbox/t:EmailAddress` would: any proxy address of a mailbox
    /// of the caller's tenant. Unknown → `ErrorNonExistentMailbox`.
    pub fn resolve_mailbox(&self, address: &str) -> Result<&Mailbox, ResponseError> {
        let dir = &self.state.directory;
        let found = dir.by_any_address(address).filter(|m| {
            m.has_mailbox
                && dir
                    .tenant_of(m)
                    .is_some_and(|t| t.id.eq_ignore_ascii_case(self.caller.tenant_id()))
        });
        found.ok_or_else(|| ResponseError::non_existent_mailbox(address.trim()))
    }

    /// Parses `t:DistinguishedFolderId` (optionally with `t:Mailbox`) or `t:FolderId`.
    pub fn resolve_folder(&self, el: &Element) -> Result<FolderRef, OpError> {
        if el.is(TYPES_NS, "DistinguishedFolderId") {
            let id = el
                .attr("Id")
                .ok_or_else(|| EwsFault::missing_attribute(el, "Id"))?;
            if !folders::is_distinguished_folder_name(id) {
                return Err(
                    EwsFault::invalid_enum(el, "Id", id, "DistinguishedFolderIdNameType").into(),
                );
            }
            let mailbox = match el.t("Mailbox") {
                Some(mb) => {
                    let address = mb
                        .t("EmailAddress")
                        .map(|e| e.trimmed_text())
                        .filter(|a| !a.is_empty())
                        .ok_or_else(|| ResponseError::new(
                            "ErrorMissingEmailAddress",
                            "When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folders.",
                        ))?;
                    self.resolve_mailbox(address)?.address.clone()
                }
                None => self.caller.acting_mailbox().to_string(),
            };
            let folder = FolderName::from_id(id).ok_or_else(ResponseError::folder_not_found)?;
            Ok(FolderRef { mailbox, folder })
        } else if el.is(TYPES_NS, "FolderId") {
            let id = el
                .attr("Id")
                .ok_or_else(|| EwsFault::missing_attribute(el, "Id"))?;
            let (guid, folder) =
                folders::decode_folder_id(id).ok_or_else(ResponseError::id_malformed)?;
            let dir = &self.state.directory;
            let mailbox = dir
                .mailboxes
                .iter()
                .find(|m| crate::directory::mailbox_guid(m) == guid && m.has_mailbox)
                .ok_or_else(ResponseError::folder_not_found)?;
            Ok(FolderRef {
                mailbox: mailbox.address.clone(),
                folder,
            })
        } else {
            Err(EwsFault::schema(
                el,
                &format!(
                    "The element '{}' in namespace '{}' is not a folder id; expected 'FolderId' or 'DistinguishedFolderId' in namespace '{TYPES_NS}'.",
                    el.name, el.namespace
                ),
            )
            .into())
        }
    }

    /// The caller's rights on a folder.
    pub fn rights(&self, folder: &FolderRef) -> FolderRights {
        let dir = &self.state.directory;
        let acting = self.caller.acting_mailbox();
        if acting.eq_ignore_ascii_case(&folder.mailbox) {
            return FolderRights::owner();
        }
        match (dir.by_primary(&folder.mailbox), dir.by_primary(acting)) {
            (Some(owner), Some(user)) => dir.folder_rights(owner, folder.folder, user),
            _ => FolderRights::default(),
        }
    }

    /// Checks a need; `ErrorAccessDenied` when the rights do not allow it.
    pub fn require(&self, folder: &FolderRef, need: Need) -> Result<FolderRights, ResponseError> {
        let r = self.rights(folder);
        let ok = match need {
            Need::Visible => r.folder_visible || r.read_items,
            Need::ReadItems => r.read_items,
            Need::CreateItems => r.create_items,
            Need::EditItems { own } => r.edit_all || (own && r.edit_owned),
            Need::DeleteItems { own } => r.delete_all || (own && r.delete_owned),
        };
        if ok {
            Ok(r)
        } else {
            Err(ResponseError::access_denied())
        }
    }

    /// Consumes one firing of an injected hook fault (e.g. [`FaultAction::InvalidSyncState`])
    /// for this operation and `mailbox`; true if one fired.
    pub fn take_fault(&mut self, hook: &FaultAction, mailbox: &str) -> bool {
        self.state
            .faults
            .take(
                FaultEndpoint::Ews,
                Some(self.operation),
                Some(mailbox),
                |a| a == hook,
            )
            .is_some()
    }
}
