//! The seed file: tenants, apps, mailboxes, folder permissions, access policies and settings.
//!
//! A seed is TOML (see `tests/emulator/README.md` and `seeds/demo.toml`). The same structures are
//! accepted as JSON by the admin API, so a test can add an app or a mailbox at run time with the
//! fields it would write in a seed. [`Seed::validate`] checks the references between sections and
//! names the offending entry and the fix.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A string that never appears in `Debug` output (client secrets, passwords).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Redacted {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The whole seed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Emulator-wide settings.
    #[serde(default)]
    pub settings: Settings,
    /// Entra ID tenants (each is also an Exchange Online organization).
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    /// App registrations.
    #[serde(default)]
    pub apps: Vec<App>,
    /// Users and resource mailboxes.
    #[serde(default)]
    pub mailboxes: Vec<Mailbox>,
    /// Distribution/security groups, usable as access-policy members.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Folder permissions (delegate access).
    #[serde(default)]
    pub folder_permissions: Vec<FolderPermission>,
    /// Application access policies.
    #[serde(default)]
    pub access_policies: Vec<AccessPolicy>,
    /// Directory against which relative certificate paths resolve (the seed file's directory).
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

/// Emulator-wide settings (`[settings]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Access-token lifetime (`expires_in`), seconds.
    pub token_lifetime_seconds: u64,
    /// Refresh-token lifetime, seconds.
    pub refresh_token_lifetime_seconds: u64,
    /// Allowed clock skew when checking client assertions' `nbf`/`exp`, seconds.
    pub assertion_clock_skew_seconds: u64,
    /// Longest accepted client-assertion validity (`exp - nbf`), seconds.
    pub assertion_max_lifetime_seconds: u64,
    /// Concurrent EWS requests per account before `ErrorExceededConnectionCount` (EXO: 27).
    pub max_concurrent_requests: usize,
    /// Largest accepted request body, bytes.
    pub max_request_bytes: usize,
    /// The EWS budget (token bucket per account).
    pub budget: Budget,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_lifetime_seconds: 3599,
            refresh_token_lifetime_seconds: 90 * 24 * 3600,
            assertion_clock_skew_seconds: 300,
            assertion_max_lifetime_seconds: 600,
            max_concurrent_requests: 27,
            max_request_bytes: 16 * 1024 * 1024,
            budget: Budget::default(),
        }
    }
}

/// How an exhausted budget answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum BusyShape {
    /// HTTP 200, `ResponseClass="Error"` `ErrorServerBusy` with `BackOffMilliseconds`.
    #[default]
    ResponseMessage,
    /// HTTP 500 SOAP fault `a:ErrorServerBusy` with `BackOffMilliseconds`.
    SoapFault,
    /// HTTP 503 with `Retry-After` and an empty body.
    Http503,
}

/// A token bucket per account (app or user): each EWS request costs one token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    /// Off by default.
    pub enabled: bool,
    /// Bucket size (requests in a burst).
    pub burst: u32,
    /// Tokens added per second.
    pub recharge_per_second: f64,
    /// The `BackOffMilliseconds` reported when the bucket is empty (0 = computed from the rate).
    pub back_off_ms: u64,
    /// The answer's shape.
    pub shape: BusyShape,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            enabled: false,
            burst: 1000,
            recharge_per_second: 100.0,
            back_off_ms: 0,
            shape: BusyShape::ResponseMessage,
        }
    }
}

/// A tenant (`[[tenants]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Tenant id (GUID).
    pub id: String,
    /// Primary verified domain (e.g. `contoso.com`).
    pub domain: String,
    /// Further accepted domains (e.g. `contoso.onmicrosoft.com`).
    #[serde(default)]
    pub extra_domains: Vec<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Org-level `EWSEnabled`: true, false, or absent (`$null`).
    #[serde(default)]
    pub ews_enabled: Option<bool>,
    /// `EWSAllowedAppIDs`; when `ews_enabled = true` only these apps may use EWS.
    #[serde(default)]
    pub ews_allowed_app_ids: Option<Vec<String>>,
}

impl Tenant {
    /// All domains of the tenant (primary first).
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.domain.as_str()).chain(self.extra_domains.iter().map(String::as_str))
    }
}

/// A client secret of an app.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientSecret {
    /// The secret value.
    pub value: Redacted,
    /// Expiry (RFC 3339); absent = never.
    #[serde(default)]
    pub expires: Option<jiff::Timestamp>,
}

/// An app registration (`[[apps]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Home tenant id.
    pub tenant: String,
    /// Application (client) id, a GUID.
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// Client secrets.
    #[serde(default)]
    pub secrets: Vec<ClientSecret>,
    /// PEM certificates: paths (relative to the seed file) or inline PEM text.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Application permissions on Exchange Online (e.g. `full_access_as_app`).
    #[serde(default)]
    pub application_permissions: Vec<String>,
    /// Delegated permissions on Exchange Online (e.g. `EWS.AccessAsUser.All`).
    #[serde(default)]
    pub delegated_permissions: Vec<String>,
    /// "Allow public client flows" (ROPC without a secret).
    #[serde(default)]
    pub allow_public_client_flows: bool,
    /// Admin consent granted (default true).
    #[serde(default = "yes")]
    pub admin_consent: bool,
}

fn yes() -> bool {
    true
}

/// Kind of a mailbox.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailboxKind {
    /// A person.
    #[default]
    User,
    /// A room resource.
    Room,
    /// An equipment resource.
    Equipment,
    /// A shared mailbox.
    Shared,
}

/// A user or resource (`[[mailboxes]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mailbox {
    /// Primary SMTP address.
    pub address: String,
    /// Further proxy addresses.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// User principal name (default: the primary address).
    #[serde(default)]
    pub upn: Option<String>,
    /// Kind.
    #[serde(default)]
    pub kind: MailboxKind,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Password for ROPC sign-in (absent = cannot sign in).
    #[serde(default)]
    pub password: Option<Redacted>,
    /// Sign-in needs MFA (AADSTS50076).
    #[serde(default)]
    pub mfa_required: bool,
    /// Blocked by Conditional Access (AADSTS53003).
    #[serde(default)]
    pub conditional_access_blocked: bool,
    /// Password expired (AADSTS50055).
    #[serde(default)]
    pub password_expired: bool,
    /// Mailbox-level `EWSEnabled`: true, false or absent (`$null`).
    #[serde(default)]
    pub ews_enabled: Option<bool>,
    /// The account has an Exchange mailbox (default true).
    #[serde(default = "yes")]
    pub has_mailbox: bool,
    /// Windows SID (default: derived from the address).
    #[serde(default)]
    pub sid: Option<String>,
}

impl Mailbox {
    /// The display name, or the local part of the address.
    pub fn name(&self) -> &str {
        self.display_name
            .as_deref()
            .unwrap_or_else(|| self.address.split('@').next().unwrap_or(&self.address))
    }

    /// The user principal name.
    pub fn upn(&self) -> &str {
        self.upn.as_deref().unwrap_or(&self.address)
    }

    /// Domain part of the primary address, lower-cased.
    pub fn domain(&self) -> String {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// A group (`[[groups]]`): a name for a list of member addresses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group address.
    pub address: String,
    /// Member addresses (mailboxes or other groups).
    #[serde(default)]
    pub members: Vec<String>,
}

/// A distinguished folder that permissions can be set on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum FolderName {
    /// The mailbox root (`root`).
    Root,
    /// Top of the information store (`msgfolderroot`).
    Msgfolderroot,
    /// `calendar`.
    Calendar,
    /// `drafts`.
    Drafts,
    /// `inbox`.
    Inbox,
    /// `deleteditems`.
    Deleteditems,
    /// `sentitems`.
    Sentitems,
}

impl FolderName {
    /// All modelled folders.
    pub const ALL: [FolderName; 7] = [
        Self::Root,
        Self::Msgfolderroot,
        Self::Calendar,
        Self::Drafts,
        Self::Inbox,
        Self::Deleteditems,
        Self::Sentitems,
    ];

    /// The `DistinguishedFolderId` value.
    pub fn id(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Msgfolderroot => "msgfolderroot",
            Self::Calendar => "calendar",
            Self::Drafts => "drafts",
            Self::Inbox => "inbox",
            Self::Deleteditems => "deleteditems",
            Self::Sentitems => "sentitems",
        }
    }

    /// Parses a `DistinguishedFolderId` value of a modelled folder.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.id() == id)
    }

    /// English display name as Exchange shows it.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Root => "",
            Self::Msgfolderroot => "Top of Information Store",
            Self::Calendar => "Calendar",
            Self::Drafts => "Drafts",
            Self::Inbox => "Inbox",
            Self::Deleteditems => "Deleted Items",
            Self::Sentitems => "Sent Items",
        }
    }
}

/// Permission roles and single rights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum RightsSpec {
    /// A role: `Owner`, `PublishingEditor`, `Editor`, `PublishingAuthor`, `Author`,
    /// `NonEditingAuthor`, `Reviewer`, `Contributor`, `FolderVisible`, `AvailabilityOnly`,
    /// `LimitedDetails`, `None`.
    Role(String),
    /// Explicit rights: `ReadItems`, `CreateItems`, `EditOwnedItems`, `DeleteOwnedItems`,
    /// `EditAllItems`, `DeleteAllItems`, `CreateSubfolders`, `FolderOwner`, `FolderContact`,
    /// `FolderVisible`.
    Rights(Vec<String>),
}

/// Flags of a folder permission.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PermissionFlag {
    /// The user is a calendar delegate (receives meeting requests).
    Delegate,
    /// The user sees private items.
    CanViewPrivateItems,
}

/// A folder permission (`[[folder_permissions]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FolderPermission {
    /// Address of the mailbox that owns the folder.
    pub mailbox: String,
    /// The folder.
    pub folder: FolderName,
    /// Address of the user granted the permission, or `Default` / `Anonymous`.
    pub user: String,
    /// A role name or a list of rights.
    pub rights: RightsSpec,
    /// Flags.
    #[serde(default)]
    pub flags: Vec<PermissionFlag>,
}

/// Access right of an application access policy.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PolicyAccess {
    /// Only members may be accessed.
    RestrictAccess,
    /// Members may not be accessed.
    DenyAccess,
}

/// An application access policy (`[[access_policies]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    /// The app the policy applies to.
    pub app_id: String,
    /// Member addresses (mailboxes or groups).
    pub members: Vec<String>,
    /// Restrict or deny.
    pub access: PolicyAccess,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A seed that could not be read or is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read seed file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML is invalid.
    #[error("invalid seed TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// The content is inconsistent.
    #[error("invalid seed: {0}")]
    Invalid(String),
}

impl Seed {
    /// Parses a seed from TOML text; relative certificate paths resolve against the current
    /// directory.
    pub fn from_toml_str(text: &str) -> Result<Self, SeedError> {
        let seed: Seed = toml::from_str(text)?;
        seed.validate()?;
        Ok(seed)
    }

    /// Reads a seed file; relative certificate paths resolve against the file's directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SeedError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut seed: Seed = toml::from_str(&text)?;
        seed.base_dir = path.parent().map(Path::to_path_buf);
        seed.validate()?;
        Ok(seed)
    }

    /// Checks the references between sections. Certificates are checked when the directory
    /// loads them.
    pub fn validate(&self) -> Result<(), SeedError> {
        let invalid = |m: String| Err(SeedError::Invalid(m));
        let mut tenant_ids = std::collections::HashSet::new();
        let mut domains = std::collections::HashSet::new();
        for t in &self.tenants {
            if !is_guid(&t.id) {
                return invalid(format!(
                    "tenant id '{}' is not a GUID; write it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                    t.id
                ));
            }
            if !tenant_ids.insert(t.id.to_ascii_lowercase()) {
                return invalid(format!(
                    "tenant '{}' is listed twice; keep one [[tenants]] entry",
                    t.id
                ));
            }
            for d in t.domains() {
                if !d.contains('.') || d.contains('@') {
                    return invalid(format!("tenant '{}': '{d}' is not a domain name", t.id));
                }
                if !domains.insert(d.to_ascii_lowercase()) {
                    return invalid(format!(
                        "domain '{d}' belongs to two tenants; a domain is verified in one tenant only"
                    ));
                }
            }
            for app in t.ews_allowed_app_ids.iter().flatten() {
                if !is_guid(app) {
                    return invalid(format!(
                        "tenant '{}': ews_allowed_app_ids entry '{app}' is not a GUID",
                        t.id
                    ));
                }
            }
        }
        let mut client_ids = std::collections::HashSet::new();
        for a in &self.apps {
            if !is_guid(&a.client_id) {
                return invalid(format!(
                    "app '{}': client_id '{}' is not a GUID",
                    a.display_name, a.client_id
                ));
            }
            if !tenant_ids.contains(&a.tenant.to_ascii_lowercase()) {
                return invalid(format!(
                    "app '{}': tenant '{}' is not defined; add a [[tenants]] entry with that id",
                    a.display_name, a.tenant
                ));
            }
            if !client_ids.insert(a.client_id.to_ascii_lowercase()) {
                return invalid(format!("app client_id '{}' is listed twice", a.client_id));
            }
        }
        let mut addresses = std::collections::HashSet::new();
        for m in &self.mailboxes {
            if !m.address.contains('@') {
                return invalid(format!("mailbox '{}' is not an SMTP address", m.address));
            }
            if !domains.contains(&m.domain()) {
                return invalid(format!(
                    "mailbox '{}': its domain is not a domain of any tenant; add it to a tenant's domain or extra_domains",
                    m.address
                ));
            }
            for a in std::iter::once(&m.address).chain(m.aliases.iter()) {
                if !addresses.insert(a.to_ascii_lowercase()) {
                    return invalid(format!(
                        "address '{a}' is used by two mailboxes; proxy addresses are unique"
                    ));
                }
            }
        }
        for g in &self.groups {
            if !addresses.insert(g.address.to_ascii_lowercase()) {
                return invalid(format!("group address '{}' is already used", g.address));
            }
        }
        let known = |a: &str| addresses.contains(&a.to_ascii_lowercase());
        for p in &self.folder_permissions {
            if !self
                .mailboxes
                .iter()
                .any(|m| m.address.eq_ignore_ascii_case(&p.mailbox))
            {
                return invalid(format!(
                    "folder permission on '{}': no mailbox has that primary address",
                    p.mailbox
                ));
            }
            let special =
                p.user.eq_ignore_ascii_case("default") || p.user.eq_ignore_ascii_case("anonymous");
            if !special && !known(&p.user) {
                return invalid(format!(
                    "folder permission on '{}' for '{}': unknown user; use a mailbox address, Default or Anonymous",
                    p.mailbox, p.user
                ));
            }
            crate::directory::FolderRights::from_spec(&p.rights, &p.flags)
                .map_err(SeedError::Invalid)?;
        }
        for p in &self.access_policies {
            if !is_guid(&p.app_id) {
                return invalid(format!(
                    "access policy: app_id '{}' is not a GUID",
                    p.app_id
                ));
            }
            for m in &p.members {
                if !known(m) {
                    return invalid(format!(
                        "access policy for app '{}': member '{m}' is neither a mailbox nor a group",
                        p.app_id
                    ));
                }
            }
        }
        Ok(())
    }
}

/// True for a GUID in the usual 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[tenants]]
id = "11111111-2222-3333-4444-555555555555"
domain = "contoso.com"

[[mailboxes]]
address = "a@contoso.com"
password = "pw"
"#;

    #[test]
    fn parses_minimal_seed_with_defaults() {
        let seed = Seed::from_toml_str(MINIMAL).unwrap();
        assert_eq!(seed.settings.token_lifetime_seconds, 3599);
        assert_eq!(seed.settings.max_concurrent_requests, 27);
        assert!(seed.mailboxes[0].has_mailbox);
        assert_eq!(seed.tenants[0].ews_enabled, None);
        assert_eq!(
            format!("{:?}", seed.mailboxes[0].password),
            "Some([redacted])"
        );
    }

    #[test]
    fn rejects_unknown_keys_and_bad_references() {
        let err = Seed::from_toml_str(&format!("{MINIMAL}\nbogus = 1\n")).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = Seed::from_toml_str(&format!(
            "{MINIMAL}\n[[mailboxes]]\naddress = \"x@fabrikam.com\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("x@fabrikam.com"), "{err}");
        let err = Seed::from_toml_str(&format!(
            "{MINIMAL}\n[[folder_permissions]]\nmailbox = \"a@contoso.com\"\nfolder = \"calendar\"\nuser = \"nobody@contoso.com\"\nrights = \"Editor\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("nobody@contoso.com"), "{err}");
        let err = Seed::from_toml_str(&format!(
            "{MINIMAL}\n[[folder_permissions]]\nmailbox = \"a@contoso.com\"\nfolder = \"calendar\"\nuser = \"Default\"\nrights = \"Boss\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("Boss"), "{err}");
    }

    #[test]
    fn guid_check() {
        assert!(is_guid("11111111-2222-3333-4444-555555555555"));
        assert!(!is_guid("11111111-2222-3333-4444-55555555555"));
        assert!(!is_guid("contoso.com"));
    }
}
