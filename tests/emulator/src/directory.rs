//! The directory: tenants, apps (with loaded certificates), mailboxes, groups, folder
//! permissions and access policies, with the look-ups Entra ID and Exchange perform.
//!
//! It is built from a [`Seed`] and changed at run time by the admin API. Look-ups of addresses
//! are case-insensitive. Every mailbox gets a stable Exchange GUID and SID derived from its
//! primary address so folder ids stay the same across runs.

use std::collections::HashMap;
use std::path::Path;

use rsa::RsaPublicKey;
use sha1::Digest as _;

use crate::seed::{
    AccessPolicy, App, FolderName, FolderPermission, Group, Mailbox, PermissionFlag, PolicyAccess,
    RightsSpec, Seed, SeedError, Tenant,
};

/// A registered certificate of an app, ready to verify client assertions.
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    /// SHA-1 of the DER certificate (the classic thumbprint, `x5t`).
    pub sha1: [u8; 20],
    /// SHA-256 of the DER certificate (`x5t#S256`).
    pub sha256: [u8; 32],
    /// The RSA public key.
    pub key: RsaPublicKey,
}

impl LoadedCertificate {
    /// Parses a PEM certificate.
    pub fn from_pem(pem_text: &str) -> Result<Self, String> {
        use x509_cert::der::{Decode, Encode};
        let block = pem::parse(pem_text).map_err(|e| format!("not a PEM certificate: {e}"))?;
        if block.tag() != "CERTIFICATE" {
            return Err(format!(
                "the PEM block is a '{}', expected 'CERTIFICATE' (give the .crt, not the key)",
                block.tag()
            ));
        }
        let der = block.contents();
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("the certificate cannot be decoded: {e}"))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| format!("the certificate's public key cannot be encoded: {e}"))?;
        let key = <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki)
            .map_err(|e| format!("the certificate does not hold an RSA public key: {e}"))?;
        Ok(Self {
            sha1: sha1::Sha1::digest(der).into(),
            sha256: sha2::Sha256::digest(der).into(),
            key,
        })
    }

    /// The thumbprint as Windows shows it (upper-case hex of SHA-1).
    pub fn thumbprint_hex(&self) -> String {
        hex_upper(&self.sha1)
    }
}

/// Upper-case hex of bytes.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Rights a user has on a folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FolderRights {
    /// Read items (full details).
    pub read_items: bool,
    /// Create items.
    pub create_items: bool,
    /// Edit own items.
    pub edit_owned: bool,
    /// Edit all items.
    pub edit_all: bool,
    /// Delete own items.
    pub delete_owned: bool,
    /// Delete all items.
    pub delete_all: bool,
    /// Create subfolders.
    pub create_subfolders: bool,
    /// Folder owner (modify and delete the folder itself).
    pub folder_owner: bool,
    /// Folder contact.
    pub folder_contact: bool,
    /// See the folder.
    pub folder_visible: bool,
    /// Free/busy times only (calendar).
    pub free_busy_simple: bool,
    /// Free/busy with subject and location (calendar).
    pub free_busy_detailed: bool,
    /// Calendar delegate flag.
    pub delegate: bool,
    /// May see private items.
    pub view_private: bool,
}

impl FolderRights {
    /// Everything: the mailbox owner, or an app impersonating it.
    pub fn owner() -> Self {
        Self {
            read_items: true,
            create_items: true,
            edit_owned: true,
            edit_all: true,
            delete_owned: true,
            delete_all: true,
            create_subfolders: true,
            folder_owner: true,
            folder_contact: true,
            folder_visible: true,
            free_busy_simple: true,
            free_busy_detailed: true,
            delegate: false,
            view_private: true,
        }
    }

    /// Rights of a role or list of rights, plus flags (the `Add-MailboxFolderPermission` table).
    pub fn from_spec(spec: &RightsSpec, flags: &[PermissionFlag]) -> Result<Self, String> {
        let mut r = Self::default();
        let names: Vec<&str> = match spec {
            RightsSpec::Role(role) => match role.as_str() {
                "Owner" => vec![
                    "CreateItems",
                    "ReadItems",
                    "CreateSubfolders",
                    "FolderOwner",
                    "FolderContact",
                    "FolderVisible",
                    "EditOwnedItems",
                    "EditAllItems",
                    "DeleteOwnedItems",
                    "DeleteAllItems",
                ],
                "PublishingEditor" => vec![
                    "CreateItems",
                    "ReadItems",
                    "CreateSubfolders",
                    "FolderVisible",
                    "EditOwnedItems",
                    "EditAllItems",
                    "DeleteOwnedItems",
                    "DeleteAllItems",
                ],
                "Editor" => vec![
                    "CreateItems",
                    "ReadItems",
                    "FolderVisible",
                    "EditOwnedItems",
                    "EditAllItems",
                    "DeleteOwnedItems",
                    "DeleteAllItems",
                ],
                "PublishingAuthor" => vec![
                    "CreateItems",
                    "ReadItems",
                    "CreateSubfolders",
                    "FolderVisible",
                    "EditOwnedItems",
                    "DeleteOwnedItems",
                ],
                "Author" => vec![
                    "CreateItems",
                    "ReadItems",
                    "FolderVisible",
                    "EditOwnedItems",
                    "DeleteOwnedItems",
                ],
                "NonEditingAuthor" => vec![
                    "CreateItems",
                    "ReadItems",
                    "FolderVisible",
                    "DeleteOwnedItems",
                ],
                "Reviewer" => vec!["ReadItems", "FolderVisible"],
                "Contributor" => vec!["CreateItems", "FolderVisible"],
                "FolderVisible" => vec!["FolderVisible"],
                "AvailabilityOnly" => vec!["FreeBusyTimeOnly"],
                "LimitedDetails" => vec!["FreeBusyTimeAndSubjectAndLocation"],
                "None" => vec![],
                other => {
                    return Err(format!(
                        "unknown permission role '{other}'; use Owner, PublishingEditor, Editor, PublishingAuthor, Author, NonEditingAuthor, Reviewer, Contributor, FolderVisible, AvailabilityOnly, LimitedDetails or None, or a list of rights"
                    ));
                }
            },
            RightsSpec::Rights(list) => list.iter().map(String::as_str).collect(),
        };
        for name in names {
            match name {
                "ReadItems" => r.read_items = true,
                "CreateItems" => r.create_items = true,
                "EditOwnedItems" => r.edit_owned = true,
                "EditAllItems" => r.edit_all = true,
                "DeleteOwnedItems" => r.delete_owned = true,
                "DeleteAllItems" => r.delete_all = true,
                "CreateSubfolders" => r.create_subfolders = true,
                "FolderOwner" => r.folder_owner = true,
                "FolderContact" => r.folder_contact = true,
                "FolderVisible" => r.folder_visible = true,
                "FreeBusyTimeOnly" => r.free_busy_simple = true,
                "FreeBusyTimeAndSubjectAndLocation" => {
                    r.free_busy_simple = true;
                    r.free_busy_detailed = true;
                }
                "None" => {}
                other => {
                    return Err(format!(
                        "unknown folder right '{other}'; use ReadItems, CreateItems, EditOwnedItems, DeleteOwnedItems, EditAllItems, DeleteAllItems, CreateSubfolders, FolderOwner, FolderContact or FolderVisible"
                    ));
                }
            }
        }
        r.delegate = flags.contains(&PermissionFlag::Delegate);
        r.view_private = flags.contains(&PermissionFlag::CanViewPrivateItems);
        Ok(r)
    }
}

/// Why EWS access is blocked by tenant policy (the client only sees an empty 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyBlock {
    /// Org-level `EWSEnabled=False`.
    OrgEwsDisabled,
    /// Mailbox-level `EWSEnabled=False`.
    MailboxEwsDisabled,
    /// `EWSEnabled=True` and the app is not in `EWSAllowedAppIDs`.
    AppNotAllowed,
    /// An application access policy excludes the mailbox.
    AccessPolicy,
}

/// The directory of the emulated cloud.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Tenants.
    pub tenants: Vec<Tenant>,
    /// Apps.
    pub apps: Vec<App>,
    /// Mailboxes.
    pub mailboxes: Vec<Mailbox>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Folder permissions.
    pub folder_permissions: Vec<FolderPermission>,
    /// Access policies.
    pub access_policies: Vec<AccessPolicy>,
    certificates: HashMap<String, Vec<LoadedCertificate>>,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Strips an `smtp:` / `SMTP:` prefix of a proxy address.
pub fn strip_smtp(address: &str) -> &str {
    address
        .strip_prefix("smtp:")
        .or_else(|| address.strip_prefix("SMTP:"))
        .unwrap_or(address)
        .trim()
}

impl Directory {
    /// Builds the directory from a validated seed, loading certificates.
    pub fn from_seed(seed: &Seed) -> Result<Self, SeedError> {
        seed.validate()?;
        let mut dir = Directory {
            tenants: seed.tenants.clone(),
            apps: Vec::new(),
            mailboxes: seed.mailboxes.clone(),
            groups: seed.groups.clone(),
            folder_permissions: seed.folder_permissions.clone(),
            access_policies: seed.access_policies.clone(),
            certificates: HashMap::new(),
        };
        for app in &seed.apps {
            dir.upsert_app(app.clone(), seed.base_dir.as_deref())
                .map_err(SeedError::Invalid)?;
        }
        Ok(dir)
    }

    /// Adds or replaces an app (by client id), loading its certificates.
    pub fn upsert_app(&mut self, app: App, base_dir: Option<&Path>) -> Result<(), String> {
        if !crate::seed::is_guid(&app.client_id) {
            return Err(format!("client_id '{}' is not a GUID", app.client_id));
        }
        if self.tenant(&app.tenant).is_none() {
            return Err(format!(
                "app '{}': tenant '{}' does not exist",
                app.display_name, app.tenant
            ));
        }
        let mut certs = Vec::new();
        for entry in &app.certificates {
            let text = if entry.trim_start().starts_with("-----BEGIN") {
                entry.clone()
            } else {
                let path = match base_dir {
                    Some(dir) if Path::new(entry).is_relative() => dir.join(entry),
                    _ => Path::new(entry).to_path_buf(),
                };
                std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "app '{}': cannot read certificate {}: {e}; paths are relative to the seed file",
                        app.display_name,
                        path.display()
                    )
                })?
            };
            let cert = LoadedCertificate::from_pem(&text)
                .map_err(|e| format!("app '{}': certificate '{entry}': {e}", app.display_name))?;
            certs.push(cert);
        }
        let key = app.client_id.to_ascii_lowercase();
        self.certificates.insert(key, certs);
        self.apps.retain(|a| !eq(&a.client_id, &app.client_id));
        self.apps.push(app);
        Ok(())
    }

    /// Loaded certificates of an app.
    pub fn certificates(&self, client_id: &str) -> &[LoadedCertificate] {
        self.certificates
            .get(&client_id.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// A tenant by id or by any of its domains.
    pub fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenants
            .iter()
            .find(|t| eq(&t.id, id_or_domain) || t.domains().any(|d| eq(d, id_or_domain)))
    }

    /// Mutable tenant by id or domain.
    pub fn tenant_mut(&mut self, id_or_domain: &str) -> Option<&mut Tenant> {
        self.tenants
            .iter_mut()
            .find(|t| eq(&t.id, id_or_domain) || t.domains().any(|d| eq(d, id_or_domain)))
    }

    /// An app registered in a tenant.
    pub fn app_in_tenant(&self, tenant_id: &str, client_id: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| eq(&a.tenant, tenant_id) && eq(&a.client_id, client_id))
    }

    /// An app by client id.
    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| eq(&a.client_id, client_id))
    }

    /// The tenant a mailbox belongs to (by its domain).
    pub fn tenant_of(&self, mailbox: &Mailbox) -> Option<&Tenant> {
        let domain = mailbox.domain();
        self.tenants
            .iter()
            .find(|t| t.domains().any(|d| eq(d, &domain)))
    }

    /// A mailbox by its primary SMTP address only.
    pub fn by_primary(&self, address: &str) -> Option<&Mailbox> {
        let address = strip_smtp(address);
        self.mailboxes.iter().find(|m| eq(&m.address, address))
    }

    /// A mailbox by any proxy address (primary or alias).
    pub fn by_any_address(&self, address: &str) -> Option<&Mailbox> {
        let address = strip_smtp(address);
        self.mailboxes.iter().find(|m| {
            eq(&m.address, address) || m.aliases.iter().any(|a| eq(strip_smtp(a), address))
        })
    }

    /// A mailbox by user principal name.
    pub fn by_upn(&self, upn: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| eq(m.upn(), upn.trim()))
    }

    /// A mailbox by SID.
    pub fn by_sid(&self, sid: &str) -> Option<&Mailbox> {
        self.mailboxes
            .iter()
            .find(|m| eq(&mailbox_sid(m), sid.trim()))
    }

    /// Mutable mailbox by primary address.
    pub fn mailbox_mut(&mut self, address: &str) -> Option<&mut Mailbox> {
        self.mailboxes.iter_mut().find(|m| eq(&m.address, address))
    }

    /// Adds or replaces a mailbox (by primary address).
    pub fn upsert_mailbox(&mut self, mailbox: Mailbox) -> Result<(), String> {
        if !mailbox.address.contains('@') {
            return Err(format!("'{}' is not an SMTP address", mailbox.address));
        }
        if self.tenant_of(&mailbox).is_none() {
            return Err(format!(
                "mailbox '{}': its domain belongs to no tenant; add the domain to a tenant first",
                mailbox.address
            ));
        }
        for a in std::iter::once(&mailbox.address).chain(mailbox.aliases.iter()) {
            if let Some(other) = self.by_any_address(a)
                && !eq(&other.address, &mailbox.address)
            {
                return Err(format!(
                    "address '{a}' is already used by mailbox '{}'",
                    other.address
                ));
            }
        }
        self.mailboxes.retain(|m| !eq(&m.address, &mailbox.address));
        self.mailboxes.push(mailbox);
        Ok(())
    }

    /// True if `address` names `member` directly or through (nested) groups.
    pub fn is_member(&self, list_entry: &str, member: &Mailbox) -> bool {
        self.is_member_depth(list_entry, member, 0)
    }

    fn is_member_depth(&self, entry: &str, member: &Mailbox, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        if eq(entry, &member.address) || member.aliases.iter().any(|a| eq(a, entry)) {
            return true;
        }
        self.groups
            .iter()
            .find(|g| eq(&g.address, entry))
            .is_some_and(|g| {
                g.members
                    .iter()
                    .any(|m| self.is_member_depth(m, member, depth + 1))
            })
    }

    /// Rights of `user` on `folder` of `owner`. The owner has every right; otherwise the explicit
    /// permission for the user applies, else the `Default` entry, else Exchange's defaults
    /// (`AvailabilityOnly` on the calendar, nothing elsewhere).
    pub fn folder_rights(
        &self,
        owner: &Mailbox,
        folder: FolderName,
        user: &Mailbox,
    ) -> FolderRights {
        if eq(&owner.address, &user.address) {
            return FolderRights::owner();
        }
        let on_folder = |who: &str| {
            self.folder_permissions
                .iter()
                .find(|p| eq(&p.mailbox, &owner.address) && p.folder == folder && eq(&p.user, who))
        };
        let explicit = on_folder(&user.address)
            .or_else(|| user.aliases.iter().find_map(|a| on_folder(a)))
            .or_else(|| on_folder("Default"));
        match explicit {
            Some(p) => FolderRights::from_spec(&p.rights, &p.flags).unwrap_or_default(),
            None if folder == FolderName::Calendar => FolderRights {
                free_busy_simple: true,
                ..FolderRights::default()
            },
            None => FolderRights::default(),
        }
    }

    /// Replaces the permission of `user` on a folder (or removes it when `rights` is `None`).
    pub fn set_folder_permission(&mut self, permission: FolderPermission) -> Result<(), String> {
        if self.by_primary(&permission.mailbox).is_none() {
            return Err(format!(
                "no mailbox has the primary address '{}'",
                permission.mailbox
            ));
        }
        let special = eq(&permission.user, "Default") || eq(&permission.user, "Anonymous");
        if !special && self.by_any_address(&permission.user).is_none() {
            return Err(format!(
                "unknown user '{}'; use a mailbox address, Default or Anonymous",
                permission.user
            ));
        }
        FolderRights::from_spec(&permission.rights, &permission.flags)?;
        self.remove_folder_permission(&permission.mailbox, permission.folder, &permission.user);
        self.folder_permissions.push(permission);
        Ok(())
    }

    /// Removes the permission of `user` on a folder; returns whether one existed.
    pub fn remove_folder_permission(
        &mut self,
        mailbox: &str,
        folder: FolderName,
        user: &str,
    ) -> bool {
        let before = self.folder_permissions.len();
        self.folder_permissions
            .retain(|p| !(eq(&p.mailbox, mailbox) && p.folder == folder && eq(&p.user, user)));
        before != self.folder_permissions.len()
    }

    /// Checks the EWS policies for `app_id` (the token's app) reaching `mailbox`.
    /// `app_only` selects whether application access policies apply (they only scope
    /// application permissions).
    pub fn ews_policy_block(
        &self,
        app_id: &str,
        mailbox: &Mailbox,
        app_only: bool,
    ) -> Option<PolicyBlock> {
        let tenant = self.tenant_of(mailbox)?;
        match tenant.ews_enabled {
            Some(false) => return Some(PolicyBlock::OrgEwsDisabled),
            Some(true) => {
                if let Some(list) = &tenant.ews_allowed_app_ids
                    && !list.iter().any(|a| eq(a, app_id))
                {
                    return Some(PolicyBlock::AppNotAllowed);
                }
            }
            None => {}
        }
        if mailbox.ews_enabled == Some(false) {
            return Some(PolicyBlock::MailboxEwsDisabled);
        }
        if app_only {
            for policy in self
                .access_policies
                .iter()
                .filter(|p| eq(&p.app_id, app_id))
            {
                let member = policy.members.iter().any(|m| self.is_member(m, mailbox));
                let blocked = match policy.access {
                    PolicyAccess::RestrictAccess => !member,
                    PolicyAccess::DenyAccess => member,
                };
                if blocked {
                    return Some(PolicyBlock::AccessPolicy);
                }
            }
        }
        None
    }
}

fn digest(address: &str) -> [u8; 32] {
    sha2::Sha256::digest(address.to_ascii_lowercase().as_bytes()).into()
}

/// The stable Exchange GUID of a mailbox.
pub fn mailbox_guid(mailbox: &Mailbox) -> String {
    let d = digest(&mailbox.address);
    format!(
        "{}-{}-{}-{}-{}",
        hex_lower(&d[0..4]),
        hex_lower(&d[4..6]),
        hex_lower(&d[6..8]),
        hex_lower(&d[8..10]),
        hex_lower(&d[10..16])
    )
}

/// The SID of a mailbox (configured or derived).
pub fn mailbox_sid(mailbox: &Mailbox) -> String {
    if let Some(sid) = &mailbox.sid {
        return sid.clone();
    }
    let d = digest(&mailbox.address);
    let n = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]) & 0x7fff_ffff;
    format!(
        "S-1-5-21-{}-{}-{}-{}",
        n(0),
        n(4),
        n(8),
        1000 + (n(12) % 100_000)
    )
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        let seed = Seed::from_toml_str(
            r#"
[[tenants]]
id = "11111111-2222-3333-4444-555555555555"
domain = "contoso.com"

[[mailboxes]]
address = "owner@contoso.com"
aliases = ["boss@contoso.com"]

[[mailboxes]]
address = "svc@contoso.com"

[[mailboxes]]
address = "other@contoso.com"

[[groups]]
address = "rooms@contoso.com"
members = ["owner@contoso.com"]

[[folder_permissions]]
mailbox = "owner@contoso.com"
folder = "calendar"
user = "svc@contoso.com"
rights = "Editor"
flags = ["Delegate", "CanViewPrivateItems"]

[[access_policies]]
app_id = "aaaaaaaa-0000-0000-0000-000000000000"
members = ["rooms@contoso.com"]
access = "RestrictAccess"
"#,
        )
        .unwrap();
        Directory::from_seed(&seed).unwrap()
    }

    #[test]
    fn rights_follow_roles_and_defaults() {
        let d = dir();
        let owner = d.by_primary("owner@contoso.com").unwrap().clone();
        let svc = d.by_primary("svc@contoso.com").unwrap().clone();
        let other = d.by_primary("other@contoso.com").unwrap().clone();
        let r = d.folder_rights(&owner, FolderName::Calendar, &svc);
        assert!(r.read_items && r.edit_all && r.delegate && r.view_private && !r.folder_owner);
        let r = d.folder_rights(&owner, FolderName::Calendar, &other);
        assert!(r.free_busy_simple && !r.folder_visible && !r.read_items);
        assert_eq!(
            d.folder_rights(&owner, FolderName::Inbox, &svc),
            FolderRights::default()
        );
        assert_eq!(
            d.folder_rights(&owner, FolderName::Inbox, &owner),
            FolderRights::owner()
        );
    }

    #[test]
    fn addresses_resolve_primary_alias_upn_and_sid() {
        let d = dir();
        assert!(d.by_primary("boss@contoso.com").is_none());
        assert_eq!(
            d.by_any_address("SMTP:Boss@Contoso.com").unwrap().address,
            "owner@contoso.com"
        );
        let owner = d.by_primary("owner@contoso.com").unwrap();
        assert_eq!(
            d.by_sid(&mailbox_sid(owner)).unwrap().address,
            owner.address
        );
        assert_eq!(
            d.by_upn("OWNER@contoso.com").unwrap().address,
            owner.address
        );
    }

    #[test]
    fn policies_restrict_deny_and_ews_enabled() {
        let mut d = dir();
        let app = "aaaaaaaa-0000-0000-0000-000000000000";
        let owner = d.by_primary("owner@contoso.com").unwrap().clone();
        let other = d.by_primary("other@contoso.com").unwrap().clone();
        assert_eq!(d.ews_policy_block(app, &owner, true), None);
        assert_eq!(
            d.ews_policy_block(app, &other, true),
            Some(PolicyBlock::AccessPolicy)
        );
        assert_eq!(
            d.ews_policy_block(app, &other, false),
            None,
            "policies scope app-only access"
        );
        d.tenants[0].ews_enabled = Some(true);
        d.tenants[0].ews_allowed_app_ids = Some(vec![]);
        assert_eq!(
            d.ews_policy_block(app, &owner, true),
            Some(PolicyBlock::AppNotAllowed)
        );
        d.tenants[0].ews_allowed_app_ids = Some(vec![app.to_uppercase()]);
        assert_eq!(d.ews_policy_block(app, &owner, true), None);
        d.mailbox_mut("owner@contoso.com").unwrap().ews_enabled = Some(false);
        let owner = d.by_primary("owner@contoso.com").unwrap().clone();
        assert_eq!(
            d.ews_policy_block(app, &owner, true),
            Some(PolicyBlock::MailboxEwsDisabled)
        );
        d.tenants[0].ews_enabled = Some(false);
        assert_eq!(
            d.ews_policy_block(app, &owner, true),
            Some(PolicyBlock::OrgEwsDisabled)
        );
    }

    #[test]
    fn loads_the_demo_certificate() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../certs/demo-app.crt"
        ))
        .unwrap();
        let cert = LoadedCertificate::from_pem(&pem).unwrap();
        assert_eq!(
            cert.thumbprint_hex(),
            "332459433B54FC0C2185F75A618FD3C83C7B9584"
        );
        let key = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../certs/demo-app.key"
        ))
        .unwrap();
        assert!(
            LoadedCertificate::from_pem(&key)
                .unwrap_err()
                .contains("CERTIFICATE")
        );
    }
}
