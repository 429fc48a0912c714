//! Exchange Web Services: the client that sends one operation for one
//! mailbox, and the classification of everything EWS can answer into an
//! [`Error`] case with a fix.
//!
//! [`EwsClient::call`] wraps the operation in a SOAP envelope (addressing by
//! impersonation or by mailbox, see [`soap`]), sends it with a bearer token
//! and `X-AnchorMailbox`, and on an HTTP 401 drops the token, signs in again
//! and retries once. [`classify`] then maps the answer:
//!
//! | answer | error |
//! |---|---|
//! | 401 (after the retry) | `access-denied`: Exchange refused the token |
//! | 403 with an empty body | `ews-blocked`: a tenant policy |
//! | 429, 503 | `throttled` with `Retry-After` |
//! | 3xx | `transport` (redirect, never followed) |
//! | SOAP fault / error response message | by response code ([`classify_code`]) |
//! | anything else | `protocol` |
//!
//! One file per operation sits beside this module: [`get_folder`] (the
//! access check), and for the calendar sync [`sync_folder_items`] (changes
//! since a sync state), [`get_item`] (a batch of calendar items with every
//! synced property), [`create_item`], [`update_item`] (`NeverOverwrite`, one
//! occurrence too), [`delete_item`] and [`find_item`] (an item by its booking
//! tag, an occurrence by its series and original start). [`calendar_item`]
//! reads a calendar item and writes a booking as one; [`time`] converts
//! `xs:dateTime` and `xs:date`.
//!
//! For change notifications: [`subscribe`] (pull and push subscriptions on
//! the calendar, with the `X-BackEndOverrideCookie` affinity),
//! [`get_events`] (polling a pull subscription, and the `Notification` both
//! kinds deliver), [`unsubscribe`], and [`send_notification`] (the push
//! request Exchange sends to the webhook, and its answer). Operations that
//! need extra HTTP headers or the answer's headers use
//! [`EwsClient::call_with`].

pub mod calendar_item;
pub mod create_item;
pub mod delete_item;
pub mod find_item;
pub mod get_events;
pub mod get_folder;
pub mod get_item;
pub mod resolve_names;
pub mod response;
pub mod send_notification;
pub mod soap;
pub mod subscribe;
pub mod sync_folder_items;
pub mod time;
pub mod unsubscribe;
pub mod update_item;
pub mod xml;

use crate::auth::TokenProvider;
use crate::auth::endpoint::{describe_body, redirect_detail};
use crate::auth::token::AccessToken;
use crate::config::{Credential, Settings};
use crate::error::{Error, EwsFailure};
use crate::platform::{HttpRequest, HttpResponse, Level, Platform, TransportError, TransportKind};
use crate::safe_text;
use crate::url::HttpUrl;
use response::{Content, MessageXml, ResponseMessage, read_envelope};
use soap::Addressing;
use xml::Element;

/// The Exchange Online EWS endpoint, used when a person has no `sync-url`.
pub const DEFAULT_EWS_URL: &str = "https://outlook.office365.com/EWS/Exchange.asmx";

/// The `User-Agent` of every EWS request, so that an EWS application access
/// policy can name the product.
pub const USER_AGENT: &str = concat!("rooms-sync/", env!("CARGO_PKG_VERSION"));

/// Who calls EWS: decides the addressing and the admin steps in fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// App-only (`full_access_as_app`), impersonating each mailbox.
    AppOnly {
        /// `ExchangeAppId`.
        app_id: String,
    },
    /// Delegated: the service user works through folder permissions.
    Delegated {
        /// `ExchangeAppId`.
        app_id: String,
        /// `ExchangeServiceUser`.
        user: String,
    },
}

impl Access {
    /// The access the settings describe.
    pub fn from_settings(settings: &Settings) -> Self {
        match &settings.credential {
            Credential::Password { user } => Self::Delegated {
                app_id: settings.app_id.clone(),
                user: user.clone(),
            },
            _ => Self::AppOnly {
                app_id: settings.app_id.clone(),
            },
        }
    }

    /// Impersonation for app-only, mailbox addressing for delegated.
    pub fn addressing(&self) -> Addressing {
        match self {
            Self::AppOnly { .. } => Addressing::Impersonation,
            Self::Delegated { .. } => Addressing::Delegated,
        }
    }

    /// `ExchangeAppId`.
    pub fn app_id(&self) -> &str {
        match self {
            Self::AppOnly { app_id } | Self::Delegated { app_id, .. } => app_id,
        }
    }

    /// The admin step that gives this caller access to `mailbox`'s calendar.
    pub fn grant_fix(&self, mailbox: &str) -> String {
        match self {
            Self::AppOnly { app_id } => format!(
                "Entra admin center → App registrations → <app {app_id}> → API permissions: add \
                 Office 365 Exchange Online → Application permissions → full_access_as_app and \
                 click \"Grant admin consent\". If an Application Access Policy or RBAC for \
                 Applications limits the app, include {mailbox} in its scope \
                 (`Test-ApplicationAccessPolicy -Identity {mailbox} -AppId {app_id}`)."
            ),
            Self::Delegated { user, .. } => format!(
                "Give {user} access in Exchange Online PowerShell: `Add-MailboxFolderPermission \
                 -Identity \"{mailbox}:\\Calendar\" -User {user} -AccessRights Editor \
                 -SharingPermissionFlags Delegate,CanViewPrivateItems` and \
                 `Add-MailboxFolderPermission -Identity \"{mailbox}:\\Drafts\" -User {user} \
                 -AccessRights FolderVisible` (Set-MailboxFolderPermission when {user} already \
                 has an entry; a mailbox in another language uses its folder names, e.g. \
                 :\\Kalender and :\\Entwürfe)."
            ),
        }
    }
}

/// Sends EWS operations to one endpoint with tokens from one provider.
#[derive(Debug)]
pub struct EwsClient<'a> {
    url: HttpUrl,
    tokens: &'a TokenProvider,
    access: Access,
}

impl<'a> EwsClient<'a> {
    /// A client for the EWS endpoint `url`.
    pub fn new(url: HttpUrl, tokens: &'a TokenProvider, access: Access) -> Self {
        Self {
            url,
            tokens,
            access,
        }
    }

    /// The caller's access.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Sends the operation element `body` (e.g. `<m:GetFolder>…`) for
    /// `mailbox` and returns the operation's response element
    /// (`m:<Op>Response`). Every failure is classified.
    pub fn call(
        &self,
        platform: &mut dyn Platform,
        mailbox: &str,
        body: &str,
    ) -> Result<Element, Error> {
        self.call_with(platform, mailbox, body, &[])
            .map(|answer| answer.element)
    }

    /// [`call`](Self::call) with `extra` HTTP headers on the request (the
    /// affinity headers of the notification operations), returning the
    /// answer's HTTP headers too (its `Set-Cookie` fields).
    pub fn call_with(
        &self,
        platform: &mut dyn Platform,
        mailbox: &str,
        body: &str,
        extra: &[(String, String)],
    ) -> Result<Answer, Error> {
        let envelope = soap::envelope(self.access.addressing(), mailbox, body);
        let token = self.tokens.token(platform)?;
        let mut response = self.send(platform, &token.access_token, mailbox, &envelope, extra)?;
        if response.status == 401 {
            platform.log(
                Level::Info,
                &format!(
                    "EWS answered HTTP 401 ({}); signing in again and retrying once",
                    describe_body(&response)
                ),
            );
            self.tokens.invalidate(platform);
            let token = self.tokens.token(platform)?;
            response = self.send(platform, &token.access_token, mailbox, &envelope, extra)?;
        }
        let url = self.url.without_query();
        let classified = classify(&url, &response, mailbox, &self.access);
        // One debug line per answer: its status and body, and on success the
        // server's version.
        let version = match &classified {
            Ok((Some(version), _)) => format!(", Exchange {version}"),
            _ => String::new(),
        };
        platform.log(
            Level::Debug,
            &format!(
                "EWS answered HTTP {} ({}{version})",
                response.status,
                describe_body(&response)
            ),
        );
        match classified {
            Ok((_, element)) => Ok(Answer {
                element,
                headers: response.headers,
            }),
            Err(error) => {
                platform.log(
                    Level::Info,
                    &format!("EWS request for {mailbox} failed: {}", error.message()),
                );
                Err(error)
            }
        }
    }

    fn send(
        &self,
        platform: &mut dyn Platform,
        token: &AccessToken,
        mailbox: &str,
        envelope: &str,
        extra: &[(String, String)],
    ) -> Result<HttpResponse, Error> {
        platform.log(
            Level::Debug,
            &format!("POST {} for {mailbox}", self.url.without_query()),
        );
        let mut request = request(&self.url, token, mailbox, envelope);
        request.headers.extend(extra.iter().cloned());
        platform.http(request).map_err(Error::Transport)
    }
}

/// A successful answer of [`EwsClient::call_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The operation's response element (`m:<Op>Response`).
    pub element: Element,
    /// The HTTP header fields of the answer, in order (a name may repeat).
    pub headers: Vec<(String, String)>,
}

/// The HTTP request for one SOAP envelope.
pub fn request(url: &HttpUrl, token: &AccessToken, mailbox: &str, envelope: &str) -> HttpRequest {
    HttpRequest::post(
        &url.to_string(),
        vec![
            ("Content-Type".into(), "text/xml; charset=utf-8".into()),
            ("Accept".into(), "text/xml".into()),
            ("Authorization".into(), format!("Bearer {}", token.expose())),
            ("X-AnchorMailbox".into(), mailbox.to_owned()),
            ("User-Agent".into(), USER_AGENT.into()),
        ],
        envelope.as_bytes().to_vec(),
    )
}

/// Classifies an EWS answer for `mailbox`. Success is the operation's
/// response element (and the server version, for the log).
pub fn classify(
    url: &str,
    response: &HttpResponse,
    mailbox: &str,
    access: &Access,
) -> Result<(Option<String>, Element), Error> {
    let status = response.status;
    match status {
        300..=399 => {
            return Err(Error::Transport(TransportError {
                kind: TransportKind::Redirect,
                detail: redirect_detail(url, response),
            }));
        }
        401 => {
            // Exchange names its reason in `x-ms-diagnostics` (for example
            // `2000008;reason="..."`); it never holds the token.
            let reason = response
                .header("x-ms-diagnostics")
                .map(|d| format!(" (Exchange says: {})", safe_text::quote(d.trim())))
                .unwrap_or_default();
            return Err(Error::AccessDenied {
                failure: EwsFailure {
                    response_code: "HTTP 401".into(),
                    message: format!(
                        "Exchange refused the access token Entra ID issued, also after a new \
                         sign-in{reason}"
                    ),
                    mailbox: mailbox.to_owned(),
                },
                fix: token_refused_fix(access),
            });
        }
        403 if response.body.iter().all(u8::is_ascii_whitespace) => {
            return Err(Error::EwsBlocked {
                mailbox: mailbox.to_owned(),
                url: url.to_owned(),
                app_id: access.app_id().to_owned(),
            });
        }
        429 | 503 => {
            return Err(Error::Throttled {
                response_code: format!("HTTP {status}"),
                retry_after_ms: response.retry_after_ms().unwrap_or(0),
            });
        }
        _ => {}
    }
    let envelope = match read_envelope(&response.body) {
        Ok(envelope) => envelope,
        Err(e) => {
            let message = if status == 200 {
                format!(
                    "EWS at {url} answered HTTP 200 with {} that is not a usable SOAP answer: {}.",
                    describe_body(response),
                    safe_text::display(&e, safe_text::QUOTE_MAX_CHARS)
                )
            } else {
                format!(
                    "EWS at {url} answered HTTP {status} with {} and no usable SOAP fault ({}).",
                    describe_body(response),
                    safe_text::display(&e, safe_text::QUOTE_MAX_CHARS)
                )
            };
            return Err(Error::protocol(
                message,
                "Check that the person's sync-url is the EWS endpoint (normally \
                 https://outlook.office365.com/EWS/Exchange.asmx) and that no proxy answers in \
                 its place; if it is, try again later.",
            ));
        }
    };
    match envelope.content {
        Content::Fault(fault) => Err(classify_code(
            fault.code(),
            fault.text(),
            &fault.message_xml,
            mailbox,
            access,
        )),
        Content::Response(element) if status == 200 => Ok((envelope.server_version, element)),
        Content::Response(_) => Err(Error::protocol(
            format!("EWS at {url} answered HTTP {status} with a SOAP response instead of a fault."),
            "Try again later; if it persists, report it with the rooms-sync host's log.",
        )),
    }
}

/// The error for a failed response message (`Ok` for `NoError`).
pub fn check_message(
    message: &ResponseMessage,
    mailbox: &str,
    access: &Access,
) -> Result<(), Error> {
    if message.is_success() {
        return Ok(());
    }
    Err(classify_code(
        &message.code,
        &message.text,
        &message.message_xml,
        mailbox,
        access,
    ))
}

/// The error for an EWS response code (from a response message or a fault).
///
/// The code, the text and the details come from the server: they are quoted
/// through [`safe_text`] wherever they end up in the error.
pub fn classify_code(
    code: &str,
    text: &str,
    details: &MessageXml,
    mailbox: &str,
    access: &Access,
) -> Error {
    let failure = || EwsFailure {
        response_code: safe_text::name(code),
        message: safe_text::quote(text),
        mailbox: mailbox.to_owned(),
    };
    match code {
        "ErrorNonExistentMailbox" => Error::MailboxNotFound(failure()),
        "ErrorImpersonateUserDenied"
        | "ErrorAccessDenied"
        | "ErrorFolderNotFound"
        | "ErrorInvalidExchangeImpersonationHeaderData"
        | "ErrorImpersonationFailed" => Error::AccessDenied {
            failure: failure(),
            fix: access.grant_fix(mailbox),
        },
        "ErrorServerBusy" | "ErrorExceededConnectionCount" => Error::Throttled {
            response_code: safe_text::name(code),
            retry_after_ms: details.back_off_ms().unwrap_or(0),
        },
        "ErrorInternalServerError" => match details.value("InnerErrorResponseCode") {
            Some(inner @ ("ErrorServerBusy" | "ErrorExceededConnectionCount")) => {
                classify_code(inner, text, details, mailbox, access)
            }
            Some(inner) => Error::protocol(
                format!(
                    "Exchange answered ErrorInternalServerError for {mailbox}: {} (inner error \
                     {}: {}).",
                    safe_text::quote(text),
                    safe_text::name(inner),
                    safe_text::quote(details.value("InnerErrorMessageText").unwrap_or("-"))
                ),
                "Try again later; if it persists, check the mailbox in the Exchange admin center.",
            ),
            None => unexpected(code, text, mailbox, TRANSIENT_FIX),
        },
        "ErrorMissingEmailAddress" => unexpected(
            code,
            text,
            mailbox,
            "The service user ExchangeServiceUser needs an Exchange Online mailbox (a licence \
             with Exchange Online) for delegated access.",
        ),
        "ErrorTooManyObjectsOpened"
        | "ErrorTimeoutExpired"
        | "ErrorInternalServerTransientError"
        | "ErrorMailboxStoreUnavailable"
        | "ErrorMailboxMoveInProgress"
        | "ErrorConnectionFailed"
        | "ErrorNoApplicableProxyCASServersAvailable" => {
            unexpected(code, text, mailbox, TRANSIENT_FIX)
        }
        "ErrorSchemaValidation" | "ErrorInvalidRequest" | "ErrorInvalidServerVersion" => {
            unexpected(
                code,
                text,
                mailbox,
                "Exchange refused the request itself, which is a defect of rooms-sync: report it \
                 with the rooms-sync host's log.",
            )
        }
        _ => unexpected(
            code,
            text,
            mailbox,
            "Check the rooms-sync host's log; if the answer persists, report it with its \
             response code.",
        ),
    }
}

const TRANSIENT_FIX: &str = "A temporary condition in Exchange Online: try again in a few minutes.";

fn unexpected(code: &str, text: &str, mailbox: &str, fix: &str) -> Error {
    let code = safe_text::name(code);
    let text = safe_text::quote(text);
    let text = text.trim_end_matches('.');
    let message = if text.is_empty() {
        format!("Exchange answered {code} for {mailbox}.")
    } else {
        format!("Exchange answered {code} for {mailbox}: {text}.")
    };
    Error::unhandled_response(&code, message, fix)
}

fn token_refused_fix(access: &Access) -> String {
    let permission = match access {
        Access::AppOnly { .. } => {
            "the Application permission full_access_as_app of Office 365 Exchange Online, with \
             admin consent (a Delegated permission does not work for app-only access)"
        }
        Access::Delegated { .. } => {
            "the Delegated permission EWS.AccessAsUser.All of Office 365 Exchange Online, with \
             admin consent, and the service user (ExchangeServiceUser) needs an Exchange Online \
             mailbox of its own"
        }
    };
    format!(
        "Exchange did not accept the token: in Entra admin center → App registrations → <app {}> \
         → API permissions, the app needs {permission}. Also check that the person's sync-url \
         points to Exchange Online, because the token's audience is taken from its host.",
        access.app_id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://outlook.office365.com/EWS/Exchange.asmx";

    use crate::testing::{app_only, delegated, ews_derived, ews_sample};

    fn answer(status: u16, body: &[u8]) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Content-Type".into(), "text/xml; charset=utf-8".into())],
            body: body.to_vec(),
        }
    }

    fn error(status: u16, body: &[u8], access: &Access) -> Error {
        classify(URL, &answer(status, body), "room1@contoso.com", access).unwrap_err()
    }

    #[test]
    fn the_request_carries_token_anchor_and_soap_content_type() {
        let url = HttpUrl::parse(URL).unwrap();
        let request = request(&url, &AccessToken::new("tok"), "room1@contoso.com", "<x/>");
        assert_eq!(request.url, URL);
        assert_eq!(
            request.header("content-type"),
            Some("text/xml; charset=utf-8")
        );
        assert_eq!(request.header("authorization"), Some("Bearer tok"));
        assert_eq!(request.header("x-anchormailbox"), Some("room1@contoso.com"));
        assert!(
            request
                .header("user-agent")
                .unwrap()
                .starts_with("rooms-sync/")
        );
        assert_eq!(request.body, b"<x/>");
        assert!(!format!("{request:?}").contains("tok\""));
    }

    #[test]
    fn http_403_with_an_empty_body_is_a_policy_block() {
        let e = error(403, b"", &app_only());
        assert_eq!(
            e,
            Error::EwsBlocked {
                mailbox: "room1@contoso.com".into(),
                url: URL.into(),
                app_id: "00001111-aaaa-2222-bbbb-3333cccc4444".into(),
            }
        );
        assert!(matches!(
            error(403, b"\r\n", &app_only()),
            Error::EwsBlocked { .. }
        ));
        let html = error(403, b"<html>Forbidden by proxy</html>", &app_only());
        assert!(matches!(html, Error::Protocol { .. }), "{html:?}");
    }

    #[test]
    fn http_throttling_redirects_and_token_refusal() {
        let mut busy = answer(503, b"");
        busy.headers.push(("Retry-After".into(), "30".into()));
        assert_eq!(
            classify(URL, &busy, "r@c.com", &app_only()).unwrap_err(),
            Error::Throttled {
                response_code: "HTTP 503".into(),
                retry_after_ms: 30_000
            }
        );
        assert!(matches!(
            error(429, b"", &app_only()),
            Error::Throttled {
                retry_after_ms: 0,
                ..
            }
        ));
        let mut moved = answer(302, b"");
        moved.headers.push((
            "Location".into(),
            "https://login.microsoftonline.com/x".into(),
        ));
        let Error::Transport(t) = classify(URL, &moved, "r@c.com", &app_only()).unwrap_err() else {
            panic!()
        };
        assert_eq!(t.kind, TransportKind::Redirect);
        let Error::AccessDenied { failure, fix } = error(401, b"", &app_only()) else {
            panic!()
        };
        assert_eq!(failure.response_code, "HTTP 401");
        assert!(fix.contains("full_access_as_app"), "{fix}");
        let Error::AccessDenied { fix, .. } = error(401, b"", &delegated()) else {
            panic!()
        };
        assert!(fix.contains("EWS.AccessAsUser.All"), "{fix}");
    }

    #[test]
    fn soap_faults_are_classified_by_their_code() {
        assert_eq!(
            error(500, ews_sample!("serverbusy-soapfault.xml"), &app_only()),
            Error::Throttled {
                response_code: "ErrorServerBusy".into(),
                retry_after_ms: 297_749
            }
        );
        assert_eq!(
            error(
                500,
                ews_sample!("exceededconnectioncount-soapfault.xml"),
                &app_only()
            ),
            Error::Throttled {
                response_code: "ErrorExceededConnectionCount".into(),
                retry_after_ms: 0
            }
        );
        let e = error(
            500,
            ews_sample!("schemavalidation-soapfault.xml"),
            &app_only(),
        );
        assert!(e.message().contains("ErrorSchemaValidation"), "{e}");
        assert!(e.fix().contains("defect of rooms-sync"), "{e:?}");
        let denied = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorImpersonateUserDenied</faultcode><faultstring>The account does not have permission to impersonate the requested user.</faultstring></s:Fault></s:Body></s:Envelope>"#;
        let Error::AccessDenied { failure, fix } = error(500, denied, &app_only()) else {
            panic!()
        };
        assert_eq!(failure.response_code, "ErrorImpersonateUserDenied");
        assert_eq!(failure.mailbox, "room1@contoso.com");
        assert!(
            fix.contains("full_access_as_app") && fix.contains("Grant admin consent"),
            "{fix}"
        );
    }

    #[test]
    fn access_denied_fix_per_mode() {
        for code in [
            "ErrorAccessDenied",
            "ErrorFolderNotFound",
            "ErrorImpersonateUserDenied",
            "ErrorInvalidExchangeImpersonationHeaderData",
        ] {
            let Error::AccessDenied { fix, .. } = classify_code(
                code,
                "x",
                &MessageXml::default(),
                "room1@contoso.com",
                &delegated(),
            ) else {
                panic!("{code}")
            };
            assert!(
                fix.contains(r#"Add-MailboxFolderPermission -Identity "room1@contoso.com:\Calendar" -User svc-rooms@contoso.com -AccessRights Editor -SharingPermissionFlags Delegate,CanViewPrivateItems"#),
                "{fix}"
            );
            assert!(fix.contains(r#""room1@contoso.com:\Drafts" -User svc-rooms@contoso.com -AccessRights FolderVisible"#), "{fix}");
            let Error::AccessDenied { fix, .. } = classify_code(
                code,
                "x",
                &MessageXml::default(),
                "room1@contoso.com",
                &app_only(),
            ) else {
                panic!("{code}")
            };
            assert!(fix.contains("full_access_as_app"), "{fix}");
        }
    }

    #[test]
    fn response_message_errors_from_fixtures() {
        let Content::Response(r) =
            read_envelope(ews_derived!("getfolder-error-nonexistentmailbox.xml"))
                .unwrap()
                .content
        else {
            panic!()
        };
        let m = get_folder::single_message(r).unwrap();
        let e = check_message(&m, "room-alias@contoso.com", &app_only()).unwrap_err();
        assert!(
            matches!(e, Error::MailboxNotFound(ref f) if f.response_code == "ErrorNonExistentMailbox"),
            "{e:?}"
        );

        let Content::Response(r) =
            read_envelope(ews_sample!("syncfolderitems-error-serverbusy-o365.xml"))
                .unwrap()
                .content
        else {
            panic!()
        };
        let m = &response::response_messages(r, "SyncFolderItems").unwrap()[0];
        assert_eq!(
            check_message(m, "room1@contoso.com", &app_only()).unwrap_err(),
            Error::Throttled {
                response_code: "ErrorServerBusy".into(),
                retry_after_ms: 5000
            }
        );

        let Content::Response(r) = read_envelope(ews_sample!(
            "deleteitem-error-internalservererror-innerquota.xml"
        ))
        .unwrap()
        .content
        else {
            panic!()
        };
        let m = &response::response_messages(r, "DeleteItem").unwrap()[0];
        let e = check_message(m, "room1@contoso.com", &app_only()).unwrap_err();
        assert!(e.message().contains("ErrorQuotaExceededOnDelete"), "{e}");
    }

    #[test]
    fn inner_server_busy_is_throttling() {
        let details = MessageXml {
            values: vec![
                ("InnerErrorResponseCode".into(), "ErrorServerBusy".into()),
                ("BackOffMilliseconds".into(), "1200".into()),
            ],
            other: vec![],
        };
        assert_eq!(
            classify_code(
                "ErrorInternalServerError",
                "x",
                &details,
                "r@c.com",
                &app_only()
            ),
            Error::Throttled {
                response_code: "ErrorServerBusy".into(),
                retry_after_ms: 1200
            }
        );
    }

    #[test]
    fn unusable_answers_are_protocol_errors() {
        for (status, body) in [
            (
                200,
                &b"<html><body>Sign in to your account</body></html>"[..],
            ),
            (200, b"not xml at all"),
            (500, b""),
            (500, b"<html>Internal error</html>"),
            (502, b"Bad gateway"),
            (200, &ews_sample!("serverbusy-soapfault.xml")[..40]),
        ] {
            let e = error(status, body, &app_only());
            assert!(matches!(e, Error::Protocol { .. }), "{status}: {e:?}");
            assert!(e.message().contains(&format!("HTTP {status}")), "{e}");
        }
    }

    #[test]
    fn success_returns_the_operation_response() {
        let (version, element) = classify(
            URL,
            &answer(
                200,
                ews_derived!("getfolder-calendar-impersonation-response.xml"),
            ),
            "room1@contoso.com",
            &app_only(),
        )
        .unwrap();
        assert_eq!(version.as_deref(), Some("15.20.8769.35 (V2018_01_08)"));
        assert_eq!(element.name, "GetFolderResponse");
    }

    #[test]
    fn exchange_diagnostics_on_a_401_are_quoted_safely() {
        let mut refused = answer(401, b"");
        refused.headers.push((
            "x-ms-diagnostics".into(),
            format!(
                "2000008;reason=\"\u{1b}]0;pwned\u{7}\r\n[ OK ] forged\";{}",
                "x".repeat(100_000)
            ),
        ));
        let error = classify(URL, &refused, "room1@contoso.com", &app_only()).unwrap_err();
        let Error::AccessDenied { failure, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(
            failure
                .message
                .contains("(Exchange says: 2000008;reason=\" ]0;pwned [ OK ] forged\";xxx"),
            "{}",
            &failure.message[..200]
        );
        assert!(crate::safe_text::is_clean(&failure.message));
        assert!(
            failure.message.chars().count() < 700,
            "{}",
            failure.message.len()
        );
    }
}
