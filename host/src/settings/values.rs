//! Parsers for the kinds of setting values: GUIDs, booleans, numbers, URLs, user names. Each
//! returns the normalized value or an [`Invalid`] with the problem and the fix. No message quotes
//! the rejected value, whatever its key and length: a secret pasted into the wrong key is the
//! likely mistake, and a short secret is still a secret. Messages say what shape was expected and
//! how long the value is instead.

use std::net::IpAddr;

use super::error::ErrorKind;
use super::keys;

/// Why a value is not valid: its kind, what is wrong, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub kind: ErrorKind,
    pub problem: String,
    pub fix: String,
}

fn invalid(kind: ErrorKind, problem: impl Into<String>, fix: impl Into<String>) -> Invalid {
    Invalid {
        kind,
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// An example GUID for messages.
const GUID_EXAMPLE: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Where to find a GUID in the Microsoft Entra admin center.
pub(crate) fn guid_fix(key: &str) -> String {
    let (label, place) = if key == keys::TENANT_ID {
        (
            "Directory (tenant) ID",
            "Entra ID → Overview (Tenant ID), or App registrations → your app → Overview",
        )
    } else {
        (
            "Application (client) ID",
            "Entra ID → App registrations → your app → Overview",
        )
    };
    format!(
        "copy the {label} from the Microsoft Entra admin center ({place}); it is a GUID like \
         {GUID_EXAMPLE}"
    )
}

/// A GUID in one of .NET's forms (`D`: hyphenated, `B`: in braces, `N`: 32 digits), normalized to
/// lower-case hyphenated form. The all-zero GUID is refused as a placeholder.
pub(crate) fn guid(key: &str, text: &str) -> Result<String, Invalid> {
    let text = text.trim();
    let inner = text
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or(text);
    let digits: String = if inner.len() == 36 {
        let hyphens_in_place = inner
            .char_indices()
            .all(|(index, c)| matches!(index, 8 | 13 | 18 | 23) == (c == '-'));
        if hyphens_in_place {
            inner.chars().filter(|c| *c != '-').collect()
        } else {
            String::new()
        }
    } else {
        inner.to_owned()
    };
    if digits.len() == 32 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        if digits.chars().all(|c| c == '0') {
            return Err(invalid(
                ErrorKind::NotAGuid,
                "is the all-zero GUID, a placeholder",
                guid_fix(key),
            ));
        }
        let d = digits.to_ascii_lowercase();
        return Ok(format!(
            "{}-{}-{}-{}-{}",
            &d[..8],
            &d[8..12],
            &d[12..16],
            &d[16..20],
            &d[20..]
        ));
    }
    let problem = if key == keys::TENANT_ID && looks_like_domain(text) {
        format!(
            "is a domain name ({}), not the tenant's GUID; Entra ID accepts domain names in \
             sign-in URLs, but rooms-sync identifies the tenant by its GUID (tokens and domain \
             overrides carry the GUID)",
            length(text)
        )
    } else {
        format!(
            "is not a GUID ({}; a GUID has 32 hexadecimal digits in groups 8-4-4-4-12)",
            length(text)
        )
    };
    Err(invalid(ErrorKind::NotAGuid, problem, guid_fix(key)))
}

/// Whether `text` looks like a DNS name (`contoso.onmicrosoft.com`).
fn looks_like_domain(text: &str) -> bool {
    text.contains('.')
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `true` or `false`, ignoring case and surrounding spaces, as .NET's `bool.Parse`.
pub(crate) fn boolean(text: &str) -> Result<bool, Invalid> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(
            ErrorKind::NotABoolean,
            format!("is not true or false ({})", length(text)),
            "write true or false",
        ))
    }
}

/// A whole number within `spec`'s range, ignoring surrounding spaces.
pub(crate) fn number(spec: &keys::Number, text: &str) -> Result<u32, Invalid> {
    let text = text.trim();
    let range = format!(
        "write a whole number of {} from {} to {} (default {})",
        spec.unit, spec.min, spec.max, spec.default
    );
    let Ok(value) = text.parse::<i64>() else {
        return Err(invalid(
            ErrorKind::NotANumber,
            format!("is not a whole number ({})", length(text)),
            range,
        ));
    };
    match u32::try_from(value) {
        Ok(value) if (spec.min..=spec.max).contains(&value) => Ok(value),
        _ => {
            let side = if value < i64::from(spec.min) {
                format!("below the minimum {}", spec.min)
            } else {
                format!("above the maximum {}", spec.max)
            };
            Err(invalid(
                ErrorKind::OutOfRange,
                format!("is out of range: the number is {side}"),
                range,
            ))
        }
    }
}

/// `the value has 7 characters`: what a message says about a rejected value instead of quoting
/// it.
fn length(text: &str) -> String {
    match text.chars().count() {
        1 => "the value has 1 character".to_owned(),
        count => format!("the value has {count} characters"),
    }
}

/// What a URL setting may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlShape {
    /// Scheme and host only (the authority: the tenant is appended by the sign-in).
    Origin,
    /// Any path and query (EWS URL, webhook).
    Full,
}

/// An absolute `https://` URL; `http://` only to 127.0.0.0/8 or `::1` when `allow_loopback`.
/// Returns the URL, without a trailing `/` for [`UrlShape::Origin`].
pub(crate) fn url(text: &str, shape: UrlShape, allow_loopback: bool) -> Result<String, Invalid> {
    let text = text.trim();
    let example = match shape {
        UrlShape::Origin => keys::DEFAULT_AUTHORITY_URL,
        UrlShape::Full => "https://rooms.contoso.com/api/webhooks/exchange",
    };
    let not_a_url = || {
        invalid(
            ErrorKind::BadUrl,
            "is not an absolute URL",
            format!("write a URL starting with https://, like {example}"),
        )
    };
    let uri: http::Uri = text.parse().map_err(|_| not_a_url())?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(not_a_url());
    };
    if authority.as_str().contains('@') {
        return Err(invalid(
            ErrorKind::BadUrl,
            "contains a user name or password before the host",
            format!("remove the credentials; write it like {example}"),
        ));
    }
    let host = authority.host();
    let loopback = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if scheme.eq_ignore_ascii_case("http") {
        if !loopback {
            let fix = if host.eq_ignore_ascii_case("localhost") {
                "use https://; for a local test setup write 127.0.0.1 instead of localhost and set \
                 ExchangeAllowInsecureLoopback to true"
            } else {
                "use https:// (plain http is allowed only to 127.0.0.1 and ::1 in test setups, with \
                 ExchangeAllowInsecureLoopback=true)"
            };
            return Err(invalid(ErrorKind::InsecureUrl, "uses plain http", fix));
        }
        if !allow_loopback {
            return Err(invalid(
                ErrorKind::InsecureUrl,
                "uses plain http to a loopback address",
                "use https://, or for a local test setup set ExchangeAllowInsecureLoopback to true",
            ));
        }
    } else if !scheme.eq_ignore_ascii_case("https") {
        return Err(invalid(
            ErrorKind::BadUrl,
            "is not an https:// URL",
            format!("write a URL starting with https://, like {example}"),
        ));
    }
    match shape {
        UrlShape::Origin => {
            let extra = uri.path_and_query().map_or("", |pq| pq.as_str());
            if !extra.is_empty() && extra != "/" {
                return Err(invalid(
                    ErrorKind::BadUrl,
                    "has a path after the host; the sign-in adds the tenant and the token path \
                     itself",
                    format!("write only the scheme and host, like {example}"),
                ));
            }
            Ok(format!("{}://{}", scheme.to_ascii_lowercase(), authority))
        }
        UrlShape::Full => Ok(text.to_owned()),
    }
}

/// A user principal name (`name@domain`). The value is not quoted in the message: a password in
/// the wrong key must not be echoed.
pub(crate) fn user_principal_name(text: &str) -> Result<String, Invalid> {
    let text = text.trim();
    let valid = match text.split_once('@') {
        Some((name, domain)) => {
            !name.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(text.to_owned())
    } else {
        Err(invalid(
            ErrorKind::BadUser,
            "is not a user principal name (name@domain)",
            "write the sign-in name of the service user, which has its own mailbox, like \
             roomsdelegated@contoso.onmicrosoft.com",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_in_dotnet_forms_are_normalized() {
        let expected = "6e9157a8-801c-4f5c-9522-9ae9ffd2aa4f";
        for text in [
            "6e9157a8-801c-4f5c-9522-9ae9ffd2aa4f",
            " 6E9157A8-801C-4F5C-9522-9AE9FFD2AA4F ",
            "{6e9157a8-801c-4f5c-9522-9ae9ffd2aa4f}",
            "6e9157a8801c4f5c95229ae9ffd2aa4f",
        ] {
            assert_eq!(guid(keys::APP_ID, text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn non_guids_say_what_a_guid_looks_like_and_where_to_find_it() {
        for text in [
            "xxx",
            "{GUID}",
            "6e9157a8-801c-4f5c-9522-9ae9ffd2aa4",
            "6e9157a8-801c4-f5c-9522-9ae9ffd2aa4f",
            "6e9157a8-801c-4f5c-9522-9ae9ffd2aa4g",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let error = guid(keys::APP_ID, text).unwrap_err();
            assert_eq!(error.kind, ErrorKind::NotAGuid, "{text}");
            assert!(
                error.fix.contains("Application (client) ID"),
                "{}",
                error.fix
            );
            assert!(error.fix.contains(GUID_EXAMPLE));
        }
        let error = guid(keys::TENANT_ID, "xxx").unwrap_err();
        assert!(error.fix.contains("Directory (tenant) ID"), "{}", error.fix);
        assert!(error.fix.contains("Overview"), "{}", error.fix);
    }

    #[test]
    fn a_domain_as_tenant_is_explained() {
        let error = guid(keys::TENANT_ID, "contoso.onmicrosoft.com").unwrap_err();
        assert!(
            error
                .problem
                .starts_with("is a domain name (the value has 23 characters)"),
            "{}",
            error.problem
        );
        assert!(!error.problem.contains("contoso"), "{}", error.problem);
        assert!(error.fix.contains("Directory (tenant) ID"));
    }

    #[test]
    fn booleans_are_true_or_false_in_any_case() {
        assert_eq!(boolean("true"), Ok(true));
        assert_eq!(boolean(" False "), Ok(false));
        assert_eq!(boolean("TRUE"), Ok(true));
        for text in ["yes", "1", "", "wahr"] {
            let error = boolean(text).unwrap_err();
            assert_eq!(error.kind, ErrorKind::NotABoolean);
            assert_eq!(error.fix, "write true or false");
        }
        // No value is echoed, however short: a short secret is still a secret.
        assert_eq!(
            boolean("yes").unwrap_err().problem,
            "is not true or false (the value has 3 characters)"
        );
        assert_eq!(
            boolean("x").unwrap_err().problem,
            "is not true or false (the value has 1 character)"
        );
        for secret in ["s3cr3t", "Pw!7", "Zq8~s3cr3t-long-value"] {
            let error = boolean(secret).unwrap_err();
            assert!(!format!("{error:?}").contains(secret), "{error:?}");
        }
    }

    #[test]
    fn numbers_are_checked_against_their_range() {
        let spec = keys::NUMBERS
            .iter()
            .find(|n| n.key == keys::SUBSCRIPTION_TIMEOUT)
            .unwrap();
        assert_eq!(number(spec, " 1440 "), Ok(1440));
        assert_eq!(number(spec, "+5"), Ok(5));
        let error = number(spec, "1441").unwrap_err();
        assert_eq!(error.kind, ErrorKind::OutOfRange);
        assert_eq!(
            error.fix,
            "write a whole number of minutes from 1 to 1440 (default 720)"
        );
        assert_eq!(number(spec, "-1").unwrap_err().kind, ErrorKind::OutOfRange);
        assert_eq!(number(spec, "0").unwrap_err().kind, ErrorKind::OutOfRange);
        assert_eq!(
            number(spec, "99999999999999999999").unwrap_err().kind,
            ErrorKind::NotANumber
        );
        assert_eq!(
            number(spec, "12.5").unwrap_err().kind,
            ErrorKind::NotANumber
        );
        assert_eq!(number(spec, "ten").unwrap_err().kind, ErrorKind::NotANumber);
        // Neither numbers nor other values are echoed.
        assert_eq!(
            number(spec, "1441").unwrap_err().problem,
            "is out of range: the number is above the maximum 1440"
        );
        assert_eq!(
            number(spec, "0").unwrap_err().problem,
            "is out of range: the number is below the minimum 1"
        );
        assert_eq!(
            number(spec, "pin42").unwrap_err().problem,
            "is not a whole number (the value has 5 characters)"
        );
        for secret in ["12345678", "-987654", "s3cr3t!"] {
            let error = number(spec, secret).unwrap_err();
            assert!(!format!("{error:?}").contains(secret), "{error:?}");
        }
    }

    #[test]
    fn authority_urls_are_https_origins() {
        let origin = |text| url(text, UrlShape::Origin, false);
        assert_eq!(
            origin("https://login.microsoftonline.com/").unwrap(),
            "https://login.microsoftonline.com"
        );
        assert_eq!(
            origin("HTTPS://login.microsoftonline.us:443").unwrap(),
            "https://login.microsoftonline.us:443"
        );
        let error =
            origin("https://login.microsoftonline.com/contoso.onmicrosoft.com").unwrap_err();
        assert_eq!(error.kind, ErrorKind::BadUrl);
        assert!(error.problem.contains("has a path"), "{}", error.problem);
        assert_eq!(
            origin("login.microsoftonline.com").unwrap_err().kind,
            ErrorKind::BadUrl
        );
        assert_eq!(origin("ftp://host").unwrap_err().kind, ErrorKind::BadUrl);
        assert_eq!(origin("not a url").unwrap_err().kind, ErrorKind::BadUrl);
    }

    #[test]
    fn credentials_in_urls_are_refused_without_echoing_them() {
        let error = url(
            "https://admin:Zq8s3cr3t@rooms.contoso.com/hook",
            UrlShape::Full,
            false,
        )
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::BadUrl);
        assert!(!format!("{error:?}").contains("Zq8s3cr3t"));
    }

    #[test]
    fn plain_http_only_to_loopback_with_the_test_switch() {
        let full = |text, allow| url(text, UrlShape::Full, allow);
        assert!(full("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(full("http://127.5.6.7/hook", true).is_ok());
        assert!(full("http://[::1]:9000/hook", true).is_ok());
        let error = full("http://127.0.0.1:8080/hook", false).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InsecureUrl);
        assert!(error.fix.contains("ExchangeAllowInsecureLoopback"));
        for text in [
            "http://rooms.contoso.com/hook",
            "http://10.0.0.1/hook",
            "http://[::2]/",
        ] {
            assert_eq!(
                full(text, true).unwrap_err().kind,
                ErrorKind::InsecureUrl,
                "{text}"
            );
        }
        let error = full("http://localhost:8080/", true).unwrap_err();
        assert!(
            error.fix.contains("127.0.0.1 instead of localhost"),
            "{}",
            error.fix
        );
        assert_eq!(
            full("https://rooms.contoso.com/api/webhooks/exchange?x=1", false).unwrap(),
            "https://rooms.contoso.com/api/webhooks/exchange?x=1"
        );
    }

    #[test]
    fn rejected_urls_are_not_echoed() {
        for (text, shape) in [
            (
                "http://rooms.contoso.com/hook?code=Zq8s3cr3t",
                UrlShape::Full,
            ),
            ("http://127.0.0.1/hook?code=Zq8s3cr3t", UrlShape::Full),
            ("ftp://Zq8s3cr3t.contoso.com/", UrlShape::Full),
            (
                "https://login.microsoftonline.com/Zq8s3cr3t",
                UrlShape::Origin,
            ),
            ("Zq8s3cr3t", UrlShape::Origin),
        ] {
            let error = url(text, shape, false).unwrap_err();
            assert!(!format!("{error:?}").contains("Zq8s3cr3t"), "{error:?}");
        }
    }

    #[test]
    fn user_principal_names_need_name_and_domain() {
        assert_eq!(
            user_principal_name(" roomsdelegated@rooms.myo365.site ").unwrap(),
            "roomsdelegated@rooms.myo365.site"
        );
        for text in ["roomsdelegated", "@contoso.com", "a@", "a@b@c", "a b@c.com"] {
            let error = user_principal_name(text).unwrap_err();
            assert_eq!(error.kind, ErrorKind::BadUser, "{text}");
        }
    }
}
