//! The Entra ID v2 token endpoint: one form-encoded `POST`, and the reading
//! of its answer into an issued token, an Entra refusal, or an error.
//!
//! The answer is bounded before it is parsed, copied or cached: a body over
//! [`MAX_BODY_BYTES`] is not parsed, and a token over [`MAX_TOKEN_BYTES`] is
//! refused (Entra tokens are a few KiB; anything far larger did not come
//! from Entra ID, and would only cost the component its memory).

use super::AuthContext;
use super::entra::{self, EntraError};
use super::form;
use super::json::{self, JsonError, Number, NumberOrString, Reader};
use super::token::{AccessToken, RefreshToken};
use crate::error::Error;
use crate::platform::{HttpRequest, HttpResponse, Level, Platform, TransportError, TransportKind};
use crate::safe_text;

/// The largest token-endpoint answer that is parsed (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The largest access or refresh token accepted (64 KiB).
pub const MAX_TOKEN_BYTES: usize = 64 << 10;

/// A token the endpoint issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The bearer token.
    pub access_token: AccessToken,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The refresh token, when the scope had `offline_access`.
    pub refresh_token: Option<RefreshToken>,
}

/// What the token endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A token.
    Issued(Issued),
    /// An Entra error body.
    Refused(EntraError),
}

/// Posts `form` to the token endpoint of `ctx` and reads the answer.
///
/// The form carries credentials: it is never logged, only its `grant_type`.
pub fn request(
    platform: &mut dyn Platform,
    ctx: &AuthContext,
    form_pairs: &[(&str, &str)],
) -> Result<Answer, Error> {
    let grant = form_pairs
        .iter()
        .find(|(name, _)| *name == "grant_type")
        .map_or("?", |(_, value)| value);
    platform.log(
        Level::Debug,
        &format!("POST {} (grant_type={grant})", ctx.token_endpoint),
    );
    let request = HttpRequest::post(
        &ctx.token_endpoint,
        vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("Accept".into(), "application/json".into()),
        ],
        form::encode(form_pairs).into_bytes(),
    );
    let response = platform.http(request).map_err(Error::Transport)?;
    let answer = read_answer(&ctx.token_endpoint, &response)?;
    if let Answer::Refused(refusal) = &answer {
        platform.log(
            Level::Info,
            &format!(
                "Entra ID refused the {grant} request: HTTP {} {} {:?} (trace ID {}, correlation ID {})",
                refusal.status,
                refusal.error,
                refusal.codes,
                refusal.trace_id.as_deref().unwrap_or("-"),
                refusal.correlation_id.as_deref().unwrap_or("-"),
            ),
        );
    }
    Ok(answer)
}

/// Sends `form` and returns the issued token; a refusal becomes
/// [`Error::SignIn`] with advice.
pub fn issue(
    platform: &mut dyn Platform,
    ctx: &AuthContext,
    form_pairs: &[(&str, &str)],
) -> Result<Issued, Error> {
    match request(platform, ctx, form_pairs)? {
        Answer::Issued(issued) => Ok(issued),
        Answer::Refused(refusal) => Err(Error::SignIn(refusal.to_failure(ctx))),
    }
}

/// The members of a token answer the component reads.
struct TokenBody {
    token_type: Option<String>,
    access_token: Option<String>,
    /// A number in v2 answers, a string in v1 answers.
    expires_in: Option<NumberOrString>,
    refresh_token: Option<String>,
}

impl TokenBody {
    /// Reads a token answer: a JSON object whose known members have their
    /// types (`null` as absent) and appear once.
    fn parse(body: &[u8]) -> Result<Self, JsonError> {
        let (mut kind, mut access, mut lifetime, mut refresh) = (None, None, None, None);
        Reader::object(body, |key, value| match key {
            "token_type" => json::once(&mut kind, value.read_optional_string()?),
            "access_token" => json::once(&mut access, value.read_optional_string()?),
            "expires_in" => json::once(&mut lifetime, value.read_optional_number_or_string()?),
            "refresh_token" => json::once(&mut refresh, value.read_optional_string()?),
            _ => value.skip(),
        })?;
        // `expires_in` as a number is a whole number of seconds, or the
        // answer is not a token answer.
        if let Some(Some(NumberOrString::Number(Number::Negative(_) | Number::Other))) = lifetime {
            return Err(JsonError("expires_in is not a number of seconds"));
        }
        Ok(Self {
            token_type: kind.flatten(),
            access_token: access.flatten(),
            expires_in: lifetime.flatten(),
            refresh_token: refresh.flatten(),
        })
    }
}

const AUTHORITY_FIX: &str = "Check that ExchangeAuthorityUrl is the Entra ID authority (normally \
                             https://login.microsoftonline.com, or remove it) and that no proxy \
                             answers for it on the way from the rooms-sync host.";

/// Reads a token-endpoint answer.
pub fn read_answer(url: &str, response: &HttpResponse) -> Result<Answer, Error> {
    let status = response.status;
    if (300..400).contains(&status) {
        return Err(Error::Transport(TransportError {
            kind: TransportKind::Redirect,
            detail: redirect_detail(url, response),
        }));
    }
    if response.body.len() > MAX_BODY_BYTES && !matches!(status, 429 | 503) {
        return Err(Error::protocol(
            format!(
                "The token endpoint {url} answered HTTP {status} with {}; an Entra ID answer is a \
                 few KiB, and rooms-sync reads at most {} KiB of it, so this answer did not come \
                 from Entra ID.",
                describe_body(response),
                MAX_BODY_BYTES >> 10
            ),
            AUTHORITY_FIX,
        ));
    }
    if status == 200 {
        let body = TokenBody::parse(&response.body).map_err(|_| {
            Error::protocol(
                format!(
                    "The token endpoint {url} answered HTTP 200 with {}, not a JSON token.",
                    describe_body(response)
                ),
                AUTHORITY_FIX,
            )
        })?;
        return issued(url, body).map(Answer::Issued);
    }
    if let Some(refusal) = entra::parse_error(status, &response.body) {
        if matches!(status, 429 | 503) || refusal.error == "temporarily_unavailable" {
            return Err(Error::Throttled {
                response_code: format!("Entra ID HTTP {status} {}", refusal.error),
                retry_after_ms: response.retry_after_ms().unwrap_or(0),
            });
        }
        return Ok(Answer::Refused(refusal));
    }
    if matches!(status, 429 | 503) {
        return Err(Error::Throttled {
            response_code: format!("Entra ID HTTP {status}"),
            retry_after_ms: response.retry_after_ms().unwrap_or(0),
        });
    }
    Err(Error::protocol(
        format!(
            "The token endpoint {url} answered HTTP {status} with {}, not an Entra ID error; \
             something other than Entra ID may have answered.",
            describe_body(response)
        ),
        AUTHORITY_FIX,
    ))
}

fn issued(url: &str, body: TokenBody) -> Result<Issued, Error> {
    let missing = |what: &str| {
        Error::protocol(
            format!("The token endpoint {url} answered HTTP 200 without {what}."),
            AUTHORITY_FIX,
        )
    };
    if let Some(kind) = &body.token_type
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(Error::protocol(
            format!(
                "The token endpoint {url} issued a token of type '{}', not Bearer.",
                safe_text::clean(kind, 40)
            ),
            AUTHORITY_FIX,
        ));
    }
    for (name, token) in [
        ("an access_token", &body.access_token),
        ("a refresh_token", &body.refresh_token),
    ] {
        let length = token.as_ref().map_or(0, String::len);
        if length > MAX_TOKEN_BYTES {
            return Err(Error::protocol(
                format!(
                    "The token endpoint {url} issued {name} of {length} bytes; Entra ID tokens \
                     are a few KiB, and rooms-sync accepts at most {} KiB, so this answer did not \
                     come from Entra ID.",
                    MAX_TOKEN_BYTES >> 10
                ),
                AUTHORITY_FIX,
            ));
        }
    }
    let access_token = body
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| missing("an access_token"))?;
    let expires_in = match body.expires_in {
        Some(NumberOrString::Number(Number::Unsigned(n))) => n,
        // Refused while parsing.
        Some(NumberOrString::Number(_)) => return Err(missing("a numeric expires_in")),
        Some(NumberOrString::String(text)) => text
            .trim()
            .parse()
            .map_err(|_| missing("a numeric expires_in"))?,
        None => return Err(missing("expires_in")),
    };
    Ok(Issued {
        access_token: AccessToken::new(access_token),
        expires_in,
        refresh_token: body
            .refresh_token
            .filter(|t| !t.trim().is_empty())
            .map(RefreshToken::new),
    })
}

/// `a text/html body of 1234 bytes`, `an application/json body of 5 bytes`,
/// `an empty body`.
pub fn describe_body(response: &HttpResponse) -> String {
    if response.body.is_empty() {
        return "an empty body".to_owned();
    }
    match response.media_type() {
        Some(media) if !media.is_empty() => format!(
            "{} {} body of {} bytes",
            if media.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            },
            safe_text::clean(&media, 60),
            response.body.len()
        ),
        _ => format!("a body of {} bytes", response.body.len()),
    }
}

/// `https://host/path answered HTTP 302 (Location: https://other/path)`.
pub fn redirect_detail(url: &str, response: &HttpResponse) -> String {
    let location = response
        .header("location")
        .map(|l| l.split('?').next().unwrap_or_default())
        .map(|l| safe_text::clean(l, 200));
    match location {
        Some(location) => format!(
            "{url} answered HTTP {} (Location: {location})",
            response.status
        ),
        None => format!("{url} answered HTTP {}", response.status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

    fn response(status: u16, content_type: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn client_credentials_answer() {
        let answer = read_answer(
            URL,
            &response(
                200,
                "application/json; charset=utf-8",
                r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAi.x.y"}"#,
            ),
        )
        .unwrap();
        let Answer::Issued(issued) = answer else {
            panic!()
        };
        assert_eq!(issued.access_token.expose(), "eyJ0eXAi.x.y");
        assert_eq!(issued.expires_in, 3599);
        assert_eq!(issued.refresh_token, None);
    }

    #[test]
    fn delegated_answer_with_refresh_token_and_v1_string_lifetime() {
        let answer = read_answer(
            URL,
            &response(
                200,
                "application/json",
                r#"{"token_type":"Bearer","scope":"https://outlook.office365.com/EWS.AccessAsUser.All","expires_in":"4290","access_token":"a","refresh_token":"r1"}"#,
            ),
        )
        .unwrap();
        let Answer::Issued(issued) = answer else {
            panic!()
        };
        assert_eq!(issued.expires_in, 4290);
        assert_eq!(issued.refresh_token.unwrap().expose(), "r1");
    }

    #[test]
    fn entra_error_is_a_refusal() {
        let answer = read_answer(
            URL,
            &response(
                401,
                "application/json",
                r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#,
            ),
        )
        .unwrap();
        let Answer::Refused(refusal) = answer else {
            panic!()
        };
        assert_eq!(refusal.codes, vec![7000215]);
        assert_eq!(refusal.status, 401);
    }

    #[test]
    fn html_from_a_proxy_is_a_protocol_error_naming_the_status() {
        let error = read_answer(
            URL,
            &response(502, "text/html", "<html><body>Bad Gateway</body></html>"),
        )
        .unwrap_err();
        let Error::Protocol { message, fix, .. } = error else {
            panic!("{error:?}")
        };
        assert!(message.contains("HTTP 502"), "{message}");
        assert!(message.contains("text/html"), "{message}");
        assert!(fix.contains("ExchangeAuthorityUrl"), "{fix}");
        let error = read_answer(URL, &response(200, "text/html", "<html/>")).unwrap_err();
        assert!(error.message().contains("HTTP 200"), "{error}");
    }

    #[test]
    fn incomplete_tokens_are_protocol_errors() {
        for body in [
            r#"{"token_type":"Bearer","expires_in":3599}"#,
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":""}"#,
            r#"{"token_type":"Bearer","access_token":"a"}"#,
            r#"{"token_type":"Bearer","expires_in":"soon","access_token":"a"}"#,
            r#"{"token_type":"pop","expires_in":3599,"access_token":"a"}"#,
            r#"{"token_type":"Bearer","expires_in":-5,"access_token":"a"}"#,
        ] {
            let error = read_answer(URL, &response(200, "application/json", body)).unwrap_err();
            assert!(matches!(error, Error::Protocol { .. }), "{body}: {error:?}");
            assert!(!error.message().contains("\"a\""), "{error}");
        }
    }

    #[test]
    fn redirects_and_throttling() {
        let mut moved = response(302, "text/html", "");
        moved.headers.push((
            "Location".into(),
            "https://login.example.com/x?code=secret".into(),
        ));
        let error = read_answer(URL, &moved).unwrap_err();
        let Error::Transport(t) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(t.kind, TransportKind::Redirect);
        assert!(
            t.detail.contains("https://login.example.com/x"),
            "{}",
            t.detail
        );
        assert!(!t.detail.contains("secret"), "{}", t.detail);

        let mut busy = response(429, "text/plain", "slow down");
        busy.headers.push(("Retry-After".into(), "7".into()));
        assert_eq!(
            read_answer(URL, &busy).unwrap_err(),
            Error::Throttled {
                response_code: "Entra ID HTTP 429".into(),
                retry_after_ms: 7000
            }
        );
    }

    #[test]
    fn an_oversized_answer_is_refused_before_it_is_parsed() {
        for status in [200, 400] {
            let body = format!(
                r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{}"}}"#,
                "x".repeat(MAX_BODY_BYTES)
            );
            let error = read_answer(URL, &response(status, "application/json", &body)).unwrap_err();
            let Error::Protocol { message, fix, .. } = &error else {
                panic!("{error:?}")
            };
            assert!(
                message.contains(&format!(
                    "HTTP {status} with an application/json body of {} bytes",
                    body.len()
                )),
                "{message}"
            );
            assert!(message.contains("at most 1024 KiB"), "{message}");
            assert!(fix.contains("ExchangeAuthorityUrl"), "{fix}");
            assert!(!message.contains("xxxx"), "the token is never echoed");
        }
        // Throttling stays throttling, whatever the size of the page.
        let mut busy = response(503, "text/html", &"x".repeat(MAX_BODY_BYTES + 1));
        busy.headers.push(("Retry-After".into(), "3".into()));
        assert!(matches!(
            read_answer(URL, &busy).unwrap_err(),
            Error::Throttled {
                retry_after_ms: 3000,
                ..
            }
        ));
    }

    #[test]
    fn tokens_over_64_kib_are_refused_and_up_to_64_kib_accepted() {
        let body = |access: &str, refresh: &str| {
            format!(
                r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{access}","refresh_token":"{refresh}"}}"#
            )
        };
        let at_cap = "a".repeat(MAX_TOKEN_BYTES);
        let over = "a".repeat(MAX_TOKEN_BYTES + 1);
        let Answer::Issued(issued) = read_answer(
            URL,
            &response(200, "application/json", &body(&at_cap, &at_cap)),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(issued.access_token.expose().len(), MAX_TOKEN_BYTES);
        for (access, refresh, name) in [
            (&over, &at_cap, "an access_token of 65537 bytes"),
            (&at_cap, &over, "a refresh_token of 65537 bytes"),
        ] {
            let error = read_answer(
                URL,
                &response(200, "application/json", &body(access, refresh)),
            )
            .unwrap_err();
            let Error::Protocol { message, fix, .. } = &error else {
                panic!("{error:?}")
            };
            assert!(message.contains(name), "{message}");
            assert!(message.contains("at most 64 KiB"), "{message}");
            assert!(fix.contains("ExchangeAuthorityUrl"), "{fix}");
            assert!(!message.contains("aaaa"), "the token is never echoed");
        }
    }

    #[test]
    fn server_text_in_headers_is_made_safe() {
        let mut moved = response(302, "text/html\u{1b}[2J", "x");
        moved.headers.push((
            "Location".into(),
            format!(
                "https://login.example.com/\u{1b}]0;pwned\u{7}\u{202e}{}",
                "p".repeat(5000)
            ),
        ));
        let Error::Transport(t) = read_answer(URL, &moved).unwrap_err() else {
            panic!()
        };
        assert!(crate::safe_text::is_clean(&t.detail), "{:?}", t.detail);
        assert!(
            t.detail
                .contains("https://login.example.com/ ]0;pwned pppp"),
            "{}",
            t.detail
        );
        assert!(t.detail.len() < 400, "{}", t.detail.len());
        assert_eq!(describe_body(&moved), "a text/html [2j body of 1 bytes");
    }
}
