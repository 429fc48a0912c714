//! ResolveNames: finds mailboxes (and groups) of the caller's organization by address, alias
//! or name.
//!
//! An entry with `@` (optionally prefixed `smtp:`/`SMTP:`) matches any proxy address exactly; other
//! entries match the start of the display name, of a word in it, or of the address's local part
//! (case-insensitive). One match: `Success`; several: `Warning`
//! `ErrorNameResolutionMultipleResults` with all of them; none: `Error`
//! `ErrorNameResolutionNoResults`. The `t:Mailbox/t:EmailAddress` of a resolution is always the
//! PRIMARY SMTP address, which is how an operator finds it from an alias.

use super::context::OpContext;
use super::dom::{Element, MESSAGES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder, ResponseClass, XmlWriter};

/// Handles `m:ResolveNames`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let full = match op.attr("ReturnFullContactData") {
        Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            return Err(EwsFault::schema(
                op,
                &format!(
                    "The 'ReturnFullContactData' attribute is invalid - The value '{other}' is invalid according to its datatype 'http://www.w3.org/2001/XMLSchema:boolean' - The string '{other}' is not a valid Boolean value."
                ),
            ));
        }
        None => return Err(EwsFault::missing_attribute(op, "ReturnFullContactData")),
    };
    if let Some(scope) = op.attr("SearchScope")
        && !matches!(
            scope,
            "ActiveDirectory" | "ActiveDirectoryContacts" | "Contacts" | "ContactsActiveDirectory"
        )
    {
        return Err(EwsFault::invalid_enum(
            op,
            "SearchScope",
            scope,
            "ResolveNamesSearchScopeType",
        ));
    }
    let mut entry = None;
    for child in &op.children {
        if child.is(MESSAGES_NS, "UnresolvedEntry") && entry.is_none() {
            entry = Some(child);
        } else if !(child.is(MESSAGES_NS, "ParentFolderIds")
            || child.is(MESSAGES_NS, "ContactDataShape"))
        {
            return Err(EwsFault::unexpected_child(op, child));
        }
    }
    let entry = entry.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "UnresolvedEntry"))?;
    let text = entry.trimmed_text();
    if text.is_empty() {
        return Err(EwsFault::schema(
            entry,
            "The 'UnresolvedEntry' element is invalid - The value '' is invalid according to its datatype 'NonEmptyStringType' - The actual length is less than the MinLength value.",
        ));
    }

    let dir = &cx.state.directory;
    let tenant = cx.caller.tenant_id().to_ascii_lowercase();
    let in_tenant = |address: &str| {
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        dir.tenant(domain)
            .is_some_and(|t| t.id.to_ascii_lowercase() == tenant)
    };
    let needle = crate::directory::strip_smtp(text).to_ascii_lowercase();
    let mut hits: Vec<(String, String, &'static str)> = Vec::new();
    for m in dir
        .mailboxes
        .iter()
        .filter(|m| m.has_mailbox && in_tenant(&m.address))
    {
        let matched = if needle.contains('@') {
            m.address.eq_ignore_ascii_case(&needle)
                || m.aliases
                    .iter()
                    .any(|a| crate::directory::strip_smtp(a).eq_ignore_ascii_case(&needle))
        } else {
            let name = m.name().to_ascii_lowercase();
            let local = m
                .address
                .split('@')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            name.starts_with(&needle)
                || name.split_whitespace().any(|w| w.starts_with(&needle))
                || local.starts_with(&needle)
        };
        if matched {
            hits.push((m.name().to_string(), m.address.clone(), "Mailbox"));
        }
    }
    for g in dir.groups.iter().filter(|g| in_tenant(&g.address)) {
        let local = g
            .address
            .split('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if g.address.eq_ignore_ascii_case(&needle)
            || (!needle.contains('@') && local.starts_with(&needle))
        {
            hits.push((local.clone(), g.address.clone(), "PublicDL"));
        }
    }
    hits.sort_by_key(|a| a.0.to_ascii_lowercase());

    let mut out = ResponseBuilder::new("ResolveNames");
    let write_set = |w: &mut XmlWriter| {
        let total = hits.len().to_string();
        w.start(
            "m:ResolutionSet",
            &[
                ("TotalItemsInView", &total),
                ("IncludesLastItemInRange", "true"),
            ],
        );
        for (name, address, kind) in &hits {
            w.start("t:Resolution", &[]);
            w.start("t:Mailbox", &[]);
            w.leaf("t:Name", name);
            w.leaf("t:EmailAddress", address);
            w.leaf("t:RoutingType", "SMTP");
            w.leaf("t:MailboxType", kind);
            w.end("t:Mailbox");
            if full {
                w.start("t:Contact", &[]);
                w.leaf("t:DisplayName", name);
                w.start("t:EmailAddresses", &[]);
                w.leaf_with(
                    "t:Entry",
                    &[("Key", "EmailAddress1")],
                    &format!("SMTP:{address}"),
                );
                w.end("t:EmailAddresses");
                w.leaf("t:ContactSource", "ActiveDirectory");
                w.end("t:Contact");
            }
            w.end("t:Resolution");
        }
        w.end("m:ResolutionSet");
    };
    match hits.len() {
        0 => {
            out.error(&ResponseError::new(
                "ErrorNameResolutionNoResults",
                "No results were found.",
            ));
        }
        1 => {
            out.success(write_set);
        }
        _ => {
            out.failure(
                ResponseClass::Warning,
                &ResponseError::new(
                    "ErrorNameResolutionMultipleResults",
                    "Multiple results were found.",
                ),
                write_set,
            );
        }
    }
    Ok(out.finish())
}
