//! The component's error type: one case per actionable cause.
//!
//! Every case can say what happened ([`Error::message`]) and what the operator
//! must change ([`Error::fix`]). The cases mirror the WIT `sync-error`
//! variant one to one; `component.rs` is the only place that converts. Where
//! the fix depends on context the error was found in (the auth mode, the app
//! id, the AADSTS code), the fix is worked out when the error is built and
//! travels with it.
//!
//! No case ever carries a secret: messages are built from settings keys,
//! addresses, codes and server texts, never from tokens or passwords.
//! Server texts are quoted through [`safe_text`] where they are embedded, and
//! [`Error::sanitized`] is the final pass the component edge applies to every
//! error it hands out.

use std::fmt;

use crate::platform::{CertificateError, TransportError, TransportKind};
use crate::safe_text;

/// How long an admin's change takes to apply, said in every fix it concerns,
/// so that an admin who has just made the fix is not misled by a check that
/// is still red.
pub mod apply_time {
    /// Entra ID: app registrations, API permissions, admin consent, user
    /// accounts. The component asks for a new token after an HTTP 401, so a
    /// cached token does not hide a new permission.
    pub const ENTRA: &str = "Changes in Entra ID apply within a few minutes.";

    /// Mailbox folder permissions (`Add-`/`Set-MailboxFolderPermission`).
    /// Microsoft documents no time; they usually apply within minutes and
    /// are observed to take hours now and then.
    pub const FOLDER_PERMISSIONS: &str = "Folder permissions usually apply within minutes but \
        sometimes take a few hours; if this check is still red right after the change, run it \
        again later before changing anything else.";

    /// Application access policies and RBAC for Applications. Microsoft:
    /// "Changes to application access policies can take longer than 1 hour
    /// to take effect" (learn.microsoft.com/graph/auth-limit-mailbox-access).
    pub const POLICIES: &str = "Application access policy and RBAC for Applications changes \
        take up to an hour to apply, sometimes longer.";

    /// `EWSEnabled` and `EWSAllowedAppIDs`. Microsoft's EWS support engineer:
    /// "Changes to EwsAllowedAppIDs can take up to 24 hours to take effect
    /// because Exchange Online servers refresh their in-memory configuration
    /// cache periodically" (github.com/David-Barrett-MS/PowerShell-EWS-Scripts/wiki/Testing-EWS-App-Access).
    pub const EWS_SWITCHES: &str = "EWSEnabled and EWSAllowedAppIDs changes can take up to 24 \
        hours to apply (Exchange Online servers refresh their configuration cache \
        periodically).";

    /// Settings and ROOMS person fields: read again on every run.
    pub const ROOMS: &str = "The change applies at the next check.";

    /// The tenant's certificate store of the rooms-sync host, and a
    /// certificate uploaded in Entra ID.
    pub const CERTIFICATE: &str = "The certificate store is read on every run, so an import \
        applies at the next check; a certificate uploaded in Entra ID is accepted within a few \
        minutes.";
}

/// The admin step that lets the delegated service user `user` see private
/// items in `mailbox`'s calendar (`CanViewPrivateItems`, which folder rights
/// such as `Editor` do not include), and how long it takes to apply. Shared
/// by the sync engine (`private-items-hidden`) and the sync test.
pub fn private_items_fix(mailbox: &str, user: &str) -> String {
    format!(
        "Give the service user CanViewPrivateItems on the calendar (Exchange Online \
         PowerShell): Set-MailboxFolderPermission -Identity {mailbox}:\\Calendar -User {user} \
         -AccessRights Editor -SharingPermissionFlags Delegate,CanViewPrivateItems. {}",
        apply_time::FOLDER_PERMISSIONS
    )
}

/// `fix` followed by the sentence `time`, unless it already says it.
fn with_time(fix: &str, time: &str) -> String {
    if time.is_empty() || fix.contains(time) {
        fix.to_owned()
    } else {
        format!("{} {time}", fix.trim_end())
    }
}

/// How long the admin step in an access fix (built by the EWS layer for the
/// auth mode in use) takes to apply: folder permissions for a delegate, Entra
/// ID and the access policies for app-only access.
fn access_fix_time(fix: &str) -> String {
    if fix.contains("MailboxFolderPermission") {
        apply_time::FOLDER_PERMISSIONS.to_owned()
    } else if fix.contains("Test-ApplicationAccessPolicy") {
        format!("{} {}", apply_time::ENTRA, apply_time::POLICIES)
    } else {
        apply_time::ENTRA.to_owned()
    }
}

/// A setting or person field that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The settings key (`ExchangeAppId`) or person field (`sync-url`).
    pub key: String,
    /// What is wrong, as a clause that follows the key ("is not set").
    pub problem: String,
    /// What to change.
    pub fix: String,
}

/// Entra ID refused to issue a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// The OAuth error (`invalid_client`, `invalid_grant`, ...).
    pub error: String,
    /// The `AADSTS` numbers from `error_codes`; the first decides the advice.
    pub aadsts: Vec<u32>,
    /// The cause, for the operator.
    pub message: String,
    /// What the admin must change.
    pub fix: String,
}

/// An EWS response code for one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EwsFailure {
    /// The EWS `ResponseCode` (or SOAP fault code, or `HTTP 401`).
    pub response_code: String,
    /// The server's `MessageText` (or `faultstring`), or our description.
    pub message: String,
    /// The mailbox the request was made for.
    pub mailbox: String,
}

/// Everything that can go wrong, one case per actionable cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A setting or person field is missing or wrong.
    Configuration(ConfigProblem),
    /// ROOMS has no person with this address.
    UnknownPerson(String),
    /// The certificate named by `ExchangeCertThumbprint` cannot be used.
    Certificate(CertificateError),
    /// Entra ID refused the sign-in.
    SignIn(AuthFailure),
    /// Exchange refused access to the mailbox or folder.
    AccessDenied {
        /// What Exchange said.
        failure: EwsFailure,
        /// The admin step for the auth mode in use.
        fix: String,
    },
    /// The folder is reachable, but the effective rights are too few for
    /// two-way sync.
    InsufficientRights {
        /// The mailbox.
        mailbox: String,
        /// The folder's display name.
        folder: String,
        /// The missing rights (EWS `EffectiveRights` names).
        missing: Vec<String>,
        /// The rights it has, of those needed.
        has: Vec<String>,
        /// The admin step for the auth mode in use.
        fix: String,
    },
    /// The address has no mailbox, or is not its primary SMTP address.
    MailboxNotFound(EwsFailure),
    /// HTTP 403 with an empty body: a tenant policy blocks EWS.
    EwsBlocked {
        /// The mailbox the request was made for.
        mailbox: String,
        /// The EWS URL that answered (without query).
        url: String,
        /// The Entra app id the policies must allow.
        app_id: String,
    },
    /// The server asked to slow down.
    Throttled {
        /// `ErrorServerBusy`, `ErrorExceededConnectionCount`, `HTTP 503`, ...
        response_code: String,
        /// How long to wait; 0 when the server gave no hint.
        retry_after_ms: u64,
    },
    /// An answer the component cannot use.
    Protocol {
        /// What was wrong with the answer.
        message: String,
        /// What to check.
        fix: String,
        /// The EWS response code of the answer, when it had one the
        /// component does not handle (`ErrorInternalServerError`): the
        /// stable code of the problem, so the service counts errors by it.
        response_code: Option<String>,
    },
    /// No usable HTTP answer.
    Transport(TransportError),
}

impl Error {
    /// A [`Error::Configuration`] for `key`.
    pub fn configuration(key: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::Configuration(ConfigProblem {
            key: key.to_owned(),
            problem: problem.into(),
            fix: fix.into(),
        })
    }

    /// A [`Error::Protocol`].
    pub fn protocol(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::Protocol {
            message: message.into(),
            fix: fix.into(),
            response_code: None,
        }
    }

    /// A [`Error::Protocol`] for an answer with an unhandled EWS response
    /// code.
    pub fn unhandled_response(
        response_code: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::Protocol {
            message: message.into(),
            fix: fix.into(),
            response_code: Some(response_code.to_owned()),
        }
    }

    /// The same error with every text in it made safe to show
    /// ([`safe_text::message`]): the final pass before an error leaves the
    /// component.
    pub fn sanitized(&self) -> Self {
        let safe = |text: &String| safe_text::message(text);
        let ews = |f: &EwsFailure| EwsFailure {
            response_code: safe(&f.response_code),
            message: safe(&f.message),
            mailbox: safe(&f.mailbox),
        };
        match self {
            Self::Configuration(p) => Self::Configuration(ConfigProblem {
                key: safe(&p.key),
                problem: safe(&p.problem),
                fix: safe(&p.fix),
            }),
            Self::UnknownPerson(email) => Self::UnknownPerson(safe(email)),
            Self::Certificate(e) => Self::Certificate(match e {
                CertificateError::NotFound(t) => CertificateError::NotFound(safe(t)),
                CertificateError::KeyNotReadable(r) => CertificateError::KeyNotReadable(safe(r)),
                CertificateError::Expired(d) => CertificateError::Expired(safe(d)),
            }),
            Self::SignIn(f) => Self::SignIn(AuthFailure {
                error: safe(&f.error),
                aadsts: f.aadsts.clone(),
                message: safe(&f.message),
                fix: safe(&f.fix),
            }),
            Self::AccessDenied { failure, fix } => Self::AccessDenied {
                failure: ews(failure),
                fix: safe(fix),
            },
            Self::InsufficientRights {
                mailbox,
                folder,
                missing,
                has,
                fix,
            } => Self::InsufficientRights {
                mailbox: safe(mailbox),
                folder: safe(folder),
                missing: missing.iter().map(safe).collect(),
                has: has.iter().map(safe).collect(),
                fix: safe(fix),
            },
            Self::MailboxNotFound(failure) => Self::MailboxNotFound(ews(failure)),
            Self::EwsBlocked {
                mailbox,
                url,
                app_id,
            } => Self::EwsBlocked {
                mailbox: safe(mailbox),
                url: safe(url),
                app_id: safe(app_id),
            },
            Self::Throttled {
                response_code,
                retry_after_ms,
            } => Self::Throttled {
                response_code: safe(response_code),
                retry_after_ms: *retry_after_ms,
            },
            Self::Protocol {
                message,
                fix,
                response_code,
            } => Self::Protocol {
                message: safe(message),
                fix: safe(fix),
                response_code: response_code.as_deref().map(safe_text::name),
            },
            Self::Transport(t) => Self::Transport(TransportError {
                kind: t.kind,
                detail: safe(&t.detail),
            }),
        }
    }

    /// One sentence naming the cause.
    pub fn message(&self) -> String {
        match self {
            Self::Configuration(p) => format!("{} {}.", p.key, p.problem),
            Self::UnknownPerson(email) => {
                format!("ROOMS has no person or room with the address {email}.")
            }
            Self::Certificate(CertificateError::NotFound(thumbprint)) => format!(
                "No certificate with the thumbprint {thumbprint} (ExchangeCertThumbprint) is in \
                 the tenant's certificate store."
            ),
            Self::Certificate(CertificateError::KeyNotReadable(reason)) => format!(
                "The private key of the certificate named by ExchangeCertThumbprint cannot be \
                 used: {reason}."
            ),
            Self::Certificate(CertificateError::Expired(date)) => format!(
                "The certificate named by ExchangeCertThumbprint is outside its validity period \
                 ({date})."
            ),
            Self::SignIn(failure) => failure.message.clone(),
            Self::AccessDenied { failure, .. } => format!(
                "Exchange refused access to the calendar of {}: {} ({}).",
                failure.mailbox,
                failure.response_code,
                failure.message.trim_end_matches('.')
            ),
            Self::InsufficientRights {
                mailbox,
                folder,
                missing,
                has,
                ..
            } => format!(
                "The calendar '{folder}' of {mailbox} is reachable, but two-way sync also needs {} \
                 (it has {}).",
                missing.join(", "),
                if has.is_empty() {
                    "none of them".to_owned()
                } else {
                    has.join(", ")
                }
            ),
            Self::MailboxNotFound(failure) => format!(
                "Exchange has no mailbox whose primary SMTP address is {}: {} ({}).",
                failure.mailbox,
                failure.response_code,
                failure.message.trim_end_matches('.')
            ),
            Self::EwsBlocked { mailbox, url, .. } => format!(
                "EWS access blocked by tenant policy: {url} answered HTTP 403 with an empty body \
                 for {mailbox}."
            ),
            Self::Throttled {
                response_code,
                retry_after_ms,
            } => match retry_after_ms {
                0 => format!(
                    "The server is throttling requests ({response_code}) and gave no retry time."
                ),
                ms => format!(
                    "The server is throttling requests ({response_code}) and asked to wait {}.",
                    describe_ms(*ms)
                ),
            },
            Self::Protocol { message, .. } => message.clone(),
            Self::Transport(e) => {
                let what = match e.kind {
                    TransportKind::Denied => "The host's HTTP policy refused the request",
                    TransportKind::Dns => "The host name did not resolve",
                    TransportKind::Connection => "The connection failed",
                    TransportKind::Timeout => "The server did not answer in time",
                    TransportKind::Tls => "The TLS connection failed",
                    TransportKind::ResponseTooLarge => "The answer exceeded the size cap",
                    TransportKind::Redirect => {
                        "The server answered with a redirect, which is never followed"
                    }
                    TransportKind::Other => "The request failed",
                };
                format!("{what}: {}.", e.detail.trim_end_matches('.'))
            }
        }
    }

    /// What the operator or admin must change to clear the error, and how
    /// long the change takes to apply ([`apply_time`]) where an admin changes
    /// something in Microsoft 365.
    pub fn fix(&self) -> String {
        let fix = self.bare_fix();
        let time = match self {
            Self::Configuration(_) | Self::UnknownPerson(_) | Self::MailboxNotFound(_) => {
                apply_time::ROOMS.to_owned()
            }
            Self::Certificate(_) => apply_time::CERTIFICATE.to_owned(),
            Self::SignIn(_) => apply_time::ENTRA.to_owned(),
            Self::AccessDenied { .. } | Self::InsufficientRights { .. } => access_fix_time(&fix),
            // Says it per policy itself.
            Self::EwsBlocked { .. } => String::new(),
            // Nothing for an admin to change.
            Self::Throttled { .. } | Self::Protocol { .. } | Self::Transport(_) => String::new(),
        };
        with_time(&fix, &time)
    }

    fn bare_fix(&self) -> String {
        match self {
            Self::Configuration(p) => p.fix.clone(),
            Self::UnknownPerson(_) => "Check the address, or add the person or room in ROOMS with \
                Sync mode O365 or O365Pull and its primary SMTP address."
                .into(),
            Self::Certificate(CertificateError::NotFound(_)) => {
                "Import the certificate with its private key into the tenant's certificate store \
                 of the rooms-sync host, or set ExchangeCertThumbprint to the thumbprint shown in \
                 Entra admin center → App registrations → <app> → Certificates & secrets → \
                 Certificates."
                    .into()
            }
            Self::Certificate(CertificateError::KeyNotReadable(_)) => {
                "Import the certificate together with its RSA private key (PFX/PKCS#12, or PEM \
                 with the key and its password configured) into the tenant's certificate store; \
                 this is the original product's \"Keyset does not exist\"."
                    .into()
            }
            Self::Certificate(CertificateError::Expired(_)) => {
                "Create a new certificate, upload its public part (.cer) in Entra admin center → \
                 App registrations → <app> → Certificates & secrets → Certificates, import it with \
                 its private key into the tenant's certificate store, and set \
                 ExchangeCertThumbprint to its thumbprint."
                    .into()
            }
            Self::SignIn(failure) => failure.fix.clone(),
            Self::AccessDenied { fix, .. } | Self::InsufficientRights { fix, .. } => fix.clone(),
            Self::MailboxNotFound(failure) => format!(
                "The person's address must be the mailbox's PRIMARY SMTP address, not an alias or \
                 a sign-in name (the most common setup mistake). Look it up in Exchange Online \
                 PowerShell with `Get-Mailbox {} | fl PrimarySmtpAddress` (or in the Exchange \
                 admin center → Recipients) and enter that address for the person in ROOMS.",
                failure.mailbox
            ),
            Self::EwsBlocked {
                mailbox, app_id, ..
            } => format!(
                "One of four tenant policies blocks EWS; check each in Exchange Online \
                 PowerShell. (1) Application Access Policy: `Test-ApplicationAccessPolicy \
                 -Identity {mailbox} -AppId {app_id}` must say Granted. (2) RBAC for Applications: \
                 `Get-ManagementRoleAssignment -Role \"Application EWS.AccessAsApp\"` must list an \
                 assignment for the app whose scope includes the mailbox; \
                 `Test-ServicePrincipalAuthorization -Identity {app_id} -Resource {mailbox}` shows \
                 whether it does. (3) \
                 EWSEnabled: `Get-OrganizationConfig | fl EwsEnabled` and `Get-CASMailbox \
                 {mailbox} | fl EwsEnabled` must both be True (or empty). (4) EWSAllowedAppIDs: \
                 when EwsEnabled is True for the organization, `Set-OrganizationConfig \
                 -EwsAllowedAppIDs` must contain {app_id} (required from 1 Oct 2026; EWS in \
                 Exchange Online ends on 1 Apr 2027). How long a change takes to apply: (1) \
                 and (2) up to an hour, sometimes longer (Entra ID permissions: a few minutes); \
                 (3) and (4) up to 24 hours, because Exchange Online servers refresh their \
                 configuration cache periodically. A check that is still red soon after a \
                 change does not mean the change was wrong."
            ),
            Self::Throttled { retry_after_ms, .. } => format!(
                "Nothing to change in the setup: try again {}. If it keeps happening, reduce \
                 the concurrent sync work of this account (Exchange Online allows 27 concurrent \
                 EWS requests per account).",
                match retry_after_ms {
                    0 => "in a minute".to_owned(),
                    ms => format!("after {}", describe_ms(*ms)),
                }
            ),
            Self::Protocol { fix, .. } => fix.clone(),
            Self::Transport(e) => match e.kind {
                TransportKind::Denied => "Allow the host of ExchangeAuthorityUrl and of the \
                    person's sync-url in the tenant's allowed hosts of the rooms-sync host \
                    (HTTPS only, except in loopback test mode)."
                    .into(),
                TransportKind::Dns => "Check the host name in the person's sync-url and in \
                    ExchangeAuthorityUrl, and the DNS resolver of the rooms-sync host."
                    .into(),
                TransportKind::Connection => "Check that the server is reachable from the \
                    rooms-sync host (firewall, outbound proxy) and that the URL's port is right."
                    .into(),
                TransportKind::Timeout => "Try again; if it persists, check the network path \
                    to the server and the host's HTTP timeouts."
                    .into(),
                TransportKind::Tls => "Check the server's certificate; a TLS-inspecting proxy \
                    needs its root certificate trusted by the rooms-sync host."
                    .into(),
                TransportKind::ResponseTooLarge => "Raise the response size cap of the \
                    rooms-sync host; no answer in this step should be that large, so also check \
                    that the URL points to Exchange Online or Entra ID."
                    .into(),
                TransportKind::Redirect => "Set the URL to its final address: the person's \
                    sync-url is normally https://outlook.office365.com/EWS/Exchange.asmx and \
                    ExchangeAuthorityUrl https://login.microsoftonline.com."
                    .into(),
                TransportKind::Other => "Check the rooms-sync host's log for the request.".into(),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

/// `1.5 s`, `5 s`, `4 min 58 s`.
fn describe_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    match (seconds / 60, seconds % 60, ms % 1000) {
        (0, s, 0) => format!("{s} s"),
        (0, s, rest) => format!("{s}.{} s", rest / 100),
        (m, 0, _) => format!("{m} min"),
        (m, s, _) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe_ms(5000), "5 s");
        assert_eq!(describe_ms(1500), "1.5 s");
        assert_eq!(describe_ms(297_749), "4 min 57 s");
        assert_eq!(describe_ms(120_000), "2 min");
    }

    #[test]
    fn blocked_names_the_four_policies_with_their_checks() {
        let error = Error::EwsBlocked {
            mailbox: "room1@contoso.com".into(),
            url: "https://outlook.office365.com/EWS/Exchange.asmx".into(),
            app_id: "11111111-2222-3333-4444-555555555555".into(),
        };
        assert!(
            error
                .message()
                .contains("EWS access blocked by tenant policy")
        );
        let fix = error.fix();
        for needle in [
            "Test-ApplicationAccessPolicy -Identity room1@contoso.com -AppId 11111111-2222-3333-4444-555555555555",
            "Get-ManagementRoleAssignment -Role \"Application EWS.AccessAsApp\"",
            "Test-ServicePrincipalAuthorization",
            "Get-OrganizationConfig | fl EwsEnabled",
            "Get-CASMailbox room1@contoso.com | fl EwsEnabled",
            "-EwsAllowedAppIDs",
            "1 Apr 2027",
        ] {
            assert!(fix.contains(needle), "missing {needle:?} in {fix}");
        }
    }

    #[test]
    fn every_admin_fix_says_how_long_it_takes_to_apply() {
        let ews = || EwsFailure {
            response_code: "ErrorAccessDenied".into(),
            message: "Access is denied".into(),
            mailbox: "room1@contoso.com".into(),
        };
        let delegated = crate::testing::delegated().grant_fix("room1@contoso.com");
        let app_only = crate::testing::app_only().grant_fix("room1@contoso.com");
        let cases = [
            (
                Error::AccessDenied {
                    failure: ews(),
                    fix: delegated,
                },
                vec![apply_time::FOLDER_PERMISSIONS],
            ),
            (
                Error::InsufficientRights {
                    mailbox: "room1@contoso.com".into(),
                    folder: "Calendar".into(),
                    missing: vec!["Modify".into()],
                    has: vec![],
                    fix: app_only,
                },
                vec![apply_time::ENTRA, apply_time::POLICIES],
            ),
            (
                Error::SignIn(AuthFailure {
                    error: "invalid_client".into(),
                    aadsts: vec![7000215],
                    message: "x".into(),
                    fix: "Create a new client secret.".into(),
                }),
                vec![apply_time::ENTRA],
            ),
            (
                Error::Certificate(CertificateError::Expired("2025-01-01".into())),
                vec![apply_time::CERTIFICATE],
            ),
            (
                Error::configuration("ExchangeAppId", "is not set", "Set it."),
                vec![apply_time::ROOMS],
            ),
            (Error::MailboxNotFound(ews()), vec![apply_time::ROOMS]),
        ];
        for (error, times) in cases {
            let fix = error.fix();
            for time in times {
                assert_eq!(fix.matches(time).count(), 1, "{time} in {fix}");
            }
        }
        // The shared private-items advice says it once, also through a cause.
        let private = private_items_fix("room1@contoso.com", "svc-rooms@contoso.com");
        assert!(private.contains(
            "Set-MailboxFolderPermission -Identity room1@contoso.com:\\Calendar -User \
             svc-rooms@contoso.com -AccessRights Editor -SharingPermissionFlags \
             Delegate,CanViewPrivateItems."
        ));
        let error = Error::AccessDenied {
            failure: ews(),
            fix: private,
        };
        assert_eq!(
            error.fix().matches(apply_time::FOLDER_PERMISSIONS).count(),
            1
        );
        // A policy block names each policy's time; throttling none.
        let blocked = Error::EwsBlocked {
            mailbox: "room1@contoso.com".into(),
            url: "https://outlook.office365.com/EWS/Exchange.asmx".into(),
            app_id: "11111111-2222-3333-4444-555555555555".into(),
        }
        .fix();
        assert!(blocked.contains("(1) and (2) up to an hour"), "{blocked}");
        assert!(blocked.contains("(3) and (4) up to 24 hours"), "{blocked}");
        let throttled = Error::Throttled {
            response_code: "ErrorServerBusy".into(),
            retry_after_ms: 0,
        }
        .fix();
        assert!(!throttled.contains("apply"), "{throttled}");
    }

    #[test]
    fn mailbox_not_found_explains_the_primary_address() {
        let error = Error::MailboxNotFound(EwsFailure {
            response_code: "ErrorNonExistentMailbox".into(),
            message: "The SMTP address has no mailbox associated with it.".into(),
            mailbox: "alias@contoso.com".into(),
        });
        assert!(error.fix().contains("PRIMARY SMTP address"));
        assert!(
            error
                .fix()
                .contains("Get-Mailbox alias@contoso.com | fl PrimarySmtpAddress")
        );
        assert_eq!(
            error.message(),
            "Exchange has no mailbox whose primary SMTP address is alias@contoso.com: \
             ErrorNonExistentMailbox (The SMTP address has no mailbox associated with it)."
        );
    }

    #[test]
    fn throttled_mentions_the_wait() {
        let error = Error::Throttled {
            response_code: "ErrorServerBusy".into(),
            retry_after_ms: 5000,
        };
        assert!(error.message().contains("asked to wait 5 s"));
        assert!(error.fix().contains("after 5 s"));
    }

    /// Every text field of every case, as `sanitized` must treat it.
    fn texts(error: &Error) -> Vec<String> {
        let mut texts = Vec::new();
        let ews = |f: &EwsFailure| {
            vec![
                f.response_code.clone(),
                f.message.clone(),
                f.mailbox.clone(),
            ]
        };
        texts.extend(match error {
            Error::Configuration(p) => vec![p.key.clone(), p.problem.clone(), p.fix.clone()],
            Error::UnknownPerson(e) => vec![e.clone()],
            Error::Certificate(
                CertificateError::NotFound(t)
                | CertificateError::KeyNotReadable(t)
                | CertificateError::Expired(t),
            ) => vec![t.clone()],
            Error::SignIn(f) => vec![f.error.clone(), f.message.clone(), f.fix.clone()],
            Error::AccessDenied { failure, fix } => {
                let mut t = ews(failure);
                t.push(fix.clone());
                t
            }
            Error::InsufficientRights {
                mailbox,
                folder,
                missing,
                has,
                fix,
            } => [mailbox, folder, fix]
                .into_iter()
                .chain(missing)
                .chain(has)
                .cloned()
                .collect(),
            Error::MailboxNotFound(f) => ews(f),
            Error::EwsBlocked {
                mailbox,
                url,
                app_id,
            } => vec![mailbox.clone(), url.clone(), app_id.clone()],
            Error::Throttled { response_code, .. } => vec![response_code.clone()],
            Error::Protocol { message, fix, .. } => vec![message.clone(), fix.clone()],
            Error::Transport(t) => vec![t.detail.clone()],
        });
        texts
    }

    #[test]
    fn sanitized_cleans_and_caps_every_text_of_every_case() {
        let hostile = format!(
            "\x1b]0;pwned\x07\x1b[2J\n[ OK ] forged {}",
            "A".repeat(3 << 20)
        );
        let h = || hostile.clone();
        let ews = || EwsFailure {
            response_code: h(),
            message: h(),
            mailbox: h(),
        };
        let cases = [
            Error::Configuration(ConfigProblem {
                key: h(),
                problem: h(),
                fix: h(),
            }),
            Error::UnknownPerson(h()),
            Error::Certificate(CertificateError::NotFound(h())),
            Error::Certificate(CertificateError::KeyNotReadable(h())),
            Error::Certificate(CertificateError::Expired(h())),
            Error::SignIn(AuthFailure {
                error: h(),
                aadsts: vec![50126],
                message: h(),
                fix: h(),
            }),
            Error::AccessDenied {
                failure: ews(),
                fix: h(),
            },
            Error::InsufficientRights {
                mailbox: h(),
                folder: h(),
                missing: vec![h()],
                has: vec![h(), h()],
                fix: h(),
            },
            Error::MailboxNotFound(ews()),
            Error::EwsBlocked {
                mailbox: h(),
                url: h(),
                app_id: h(),
            },
            Error::Throttled {
                response_code: h(),
                retry_after_ms: 5,
            },
            Error::protocol(h(), h()),
            Error::Transport(TransportError {
                kind: TransportKind::Other,
                detail: h(),
            }),
        ];
        for error in cases {
            let safe = error.sanitized();
            assert_eq!(
                std::mem::discriminant(&safe),
                std::mem::discriminant(&error)
            );
            let texts = texts(&safe);
            assert!(!texts.is_empty());
            for text in texts {
                assert!(safe_text::is_clean(&text), "{:?}", &text[..80]);
                assert!(!text.contains("\n[ OK ]"));
                assert!(
                    text.chars().count() <= safe_text::MESSAGE_MAX_CHARS,
                    "{} characters",
                    text.chars().count()
                );
                assert!(text.ends_with("more characters)"), "{:?}", &text[..80]);
            }
        }
    }

    #[test]
    fn sanitized_leaves_ordinary_errors_alone() {
        let error = Error::EwsBlocked {
            mailbox: "room1@contoso.com".into(),
            url: "https://outlook.office365.com/EWS/Exchange.asmx".into(),
            app_id: "11111111-2222-3333-4444-555555555555".into(),
        };
        assert_eq!(error.sanitized(), error);
        assert_eq!(error.sanitized().fix(), error.fix());
        let throttled = Error::Throttled {
            response_code: "ErrorServerBusy".into(),
            retry_after_ms: 297_749,
        };
        assert_eq!(throttled.sanitized(), throttled);
    }

    #[test]
    fn every_transport_kind_has_its_own_fix() {
        let kinds = [
            TransportKind::Denied,
            TransportKind::Dns,
            TransportKind::Connection,
            TransportKind::Timeout,
            TransportKind::Tls,
            TransportKind::ResponseTooLarge,
            TransportKind::Redirect,
            TransportKind::Other,
        ];
        let fixes: Vec<String> = kinds
            .iter()
            .map(|&kind| {
                Error::Transport(TransportError {
                    kind,
                    detail: "https://outlook.office365.com/EWS/Exchange.asmx: x".into(),
                })
                .fix()
            })
            .collect();
        for (i, a) in fixes.iter().enumerate() {
            for b in &fixes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
