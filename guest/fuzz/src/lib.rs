//! What the fuzz targets share: the fixed request context, answers built
//! from the input, and the checks every outcome must pass besides not
//! panicking: whatever the component makes of an answer is safe to show.
//!
//! The targets (`fuzz_targets/`):
//!
//! - `ews_answer`: an EWS answer, from the XML parse through the response
//!   and fault classification to the calendar check;
//! - `token_answer`: an Entra ID token-endpoint answer (tokens, refusals,
//!   anything else);
//! - `safe_text`: the cleaning itself (clean, capped, idempotent).

use std::sync::LazyLock;

use rooms_sync_guest::auth::AuthContext;
use rooms_sync_guest::config::{RawSettings, keys};
use rooms_sync_guest::diagnostics::Check;
use rooms_sync_guest::error::{Error, EwsFailure};
use rooms_sync_guest::ews::Access;
use rooms_sync_guest::platform::{CertificateError, HttpResponse};
use rooms_sync_guest::safe_text;

/// The EWS endpoint the answers come from.
pub const EWS_URL: &str = "https://outlook.office365.com/EWS/Exchange.asmx";

/// The token endpoint the answers come from.
pub const TOKEN_URL: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

/// The mailbox of the request.
pub const MAILBOX: &str = "room1@contoso.com";

/// HTTP statuses an answer is classified under, besides 200.
pub const STATUSES: [u16; 9] = [500, 401, 403, 429, 503, 302, 400, 404, 502];

/// The longest message a server text may grow one of ours to: every server
/// text in it is quoted with a cap.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// App-only or delegated access, picked by `selector`.
pub fn access(selector: usize) -> Access {
    let app_id = "00001111-aaaa-2222-bbbb-3333cccc4444".to_owned();
    match selector % 2 {
        0 => Access::AppOnly { app_id },
        _ => Access::Delegated {
            app_id,
            user: "svc-rooms@contoso.com".into(),
        },
    }
}

/// The sign-in contexts of the three flows.
pub static CONTEXTS: LazyLock<Vec<AuthContext>> = LazyLock::new(|| {
    let base = [
        (keys::TENANT_ID, "contoso.onmicrosoft.com"),
        (keys::APP_ID, "00001111-aaaa-2222-bbbb-3333cccc4444"),
    ];
    let flows: [&[(&'static str, &str)]; 3] = [
        &[],
        &[(
            keys::CERT_THUMBPRINT,
            "332459433B54FC0C2185F75A618FD3C83C7B9584",
        )],
        &[
            (keys::USE_IMPERSONATION, "false"),
            (keys::SERVICE_USER, "svc-rooms@contoso.com"),
        ],
    ];
    flows
        .iter()
        .map(|extra| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            let settings = RawSettings::from_pairs(&pairs).validate().unwrap();
            AuthContext::new(&settings, "https://outlook.office365.com")
        })
        .collect()
});

/// An answer with `body`; its headers are taken from the start of the body,
/// so that header texts are fuzzed too.
pub fn answer(status: u16, content_type: &str, body: &[u8]) -> HttpResponse {
    let head = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    let mut headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
    if body.len().is_multiple_of(3) {
        headers.extend([
            ("x-ms-diagnostics".to_owned(), head.clone()),
            ("Location".to_owned(), head.clone()),
            ("Retry-After".to_owned(), head.chars().take(12).collect()),
            ("Content-Type".to_owned(), head),
        ]);
    }
    HttpResponse {
        status,
        headers,
        body: body.to_vec(),
    }
}

/// Asserts that `text`, one of our messages, holds server text only quoted.
pub fn assert_quoted(text: &str) {
    assert!(safe_text::is_clean(text), "unsafe text: {text:?}");
    assert!(
        text.chars().count() <= MAX_MESSAGE_CHARS,
        "{} characters",
        text.chars().count()
    );
}

/// Asserts that `text` is fit to leave the component.
pub fn assert_shown(text: &str) {
    assert!(safe_text::is_clean(text), "unsafe text: {text:?}");
    assert!(
        text.chars().count() <= safe_text::MESSAGE_MAX_CHARS,
        "{} characters",
        text.chars().count()
    );
}

/// Asserts that an error quotes server text where it embeds it, and that
/// every text of its final form is fit to leave the component.
pub fn check_error(error: &Error) {
    assert_quoted(&error.message());
    assert_shown(&error.fix());
    let shown = error.sanitized();
    assert_shown(&shown.message());
    for text in texts(&shown) {
        assert_shown(text);
    }
}

/// Asserts the same of a check.
pub fn check_check(check: &Check) {
    assert_quoted(&check.message);
    let shown = check.clone().sanitized();
    assert_shown(&shown.message);
    if let Some(fix) = &shown.fix {
        assert_shown(fix);
    }
    if let Some(cause) = &check.cause {
        check_error(cause);
    }
}

/// Every text field of an error.
fn texts(error: &Error) -> Vec<&str> {
    fn ews(f: &EwsFailure) -> [&str; 3] {
        [&f.response_code, &f.message, &f.mailbox]
    }
    match error {
        Error::Configuration(p) => vec![&p.key, &p.problem, &p.fix],
        Error::UnknownPerson(e) => vec![e],
        Error::Certificate(
            CertificateError::NotFound(t)
            | CertificateError::KeyNotReadable(t)
            | CertificateError::Expired(t),
        ) => vec![t],
        Error::SignIn(f) => vec![&f.error, &f.message, &f.fix],
        Error::AccessDenied { failure, fix } => {
            let mut t = ews(failure).to_vec();
            t.push(fix);
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
            .map(String::as_str)
            .collect(),
        Error::MailboxNotFound(f) => ews(f).to_vec(),
        Error::EwsBlocked {
            mailbox,
            url,
            app_id,
        } => vec![mailbox, url, app_id],
        Error::Throttled { response_code, .. } => vec![response_code],
        Error::Protocol { message, fix } => vec![message, fix],
        Error::Transport(t) => vec![&t.detail],
    }
}
