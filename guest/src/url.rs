//! A small, strict parser for the two kinds of URL the component is given:
//! the Entra ID authority (`ExchangeAuthorityUrl`) and a person's EWS
//! `sync-url`.
//!
//! Only absolute `http`/`https` URLs with a host are accepted; user
//! information and fragments are refused. The parsed form gives the pieces
//! `wasi:http` needs (scheme, authority, path with query) and the EWS
//! resource identifier (`https://host[:port]`) that the token scope is built
//! from.

use std::fmt;

/// An absolute `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    https: bool,
    host: String,
    port: Option<u16>,
    path_and_query: String,
}

impl HttpUrl {
    /// Parses `text`; the error is a sentence naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.chars().any(|c| c.is_control() || c == ' ') {
            return Err("contains spaces or control characters".into());
        }
        let (https, rest) = if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
            (false, rest)
        } else {
            return Err("must start with https:// (or http:// for a local test server)".into());
        };
        if rest.contains('#') {
            return Err("must not contain a fragment (#...)".into());
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(split);
        if authority.contains('@') {
            return Err("must not contain a user name or password".into());
        }
        let (host, port) = split_host_port(authority)?;
        let path_and_query = match path_and_query {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Self {
            https,
            host: host.to_ascii_lowercase(),
            port,
            path_and_query,
        })
    }

    /// True for `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host name or IP literal (IPv6 in brackets), lower-case.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `host[:port]`, as `wasi:http` wants it for `set-authority`.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// The path and query, starting with `/`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The URL without its query, for error messages (a query may carry data
    /// that does not belong in a log).
    pub fn without_query(&self) -> String {
        let path = self.path_and_query.split('?').next().unwrap_or("/");
        format!("{}://{}{path}", self.scheme(), self.authority())
    }

    /// The EWS resource identifier: `https://host[:port]`, keeping a port
    /// that is not the default of the URL's own scheme.
    ///
    /// Entra ID issues EWS tokens for a resource, not a URL. Exchange Online is
    /// `https://outlook.office365.com`; a test server at
    /// `http://127.0.0.1:8080` answers for `https://127.0.0.1:8080`.
    pub fn resource(&self) -> String {
        let default_port = if self.https { 443 } else { 80 };
        match self.port {
            Some(port) if port != default_port => format!("https://{}:{port}", self.host),
            _ => format!("https://{}", self.host),
        }
    }

    fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme(),
            self.authority(),
            self.path_and_query
        )
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or("has an IPv6 address without the closing ]")?;
        let (host, rest) = authority.split_at(end + 1);
        let valid = host[1..host.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !valid || host.len() < 3 {
            return Err("has an invalid IPv6 address".into());
        }
        match rest {
            "" => (host, None),
            r if r.starts_with(':') => (host, Some(&r[1..])),
            _ => return Err("has characters after the IPv6 address".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("has no host name".into());
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(format!("has an invalid host name '{host}'"));
    }
    let port = match port {
        None => None,
        Some(digits) => match digits.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(format!("has an invalid port '{digits}'")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_online_url() {
        let url = HttpUrl::parse("https://outlook.office365.com/EWS/Exchange.asmx").unwrap();
        assert!(url.is_https());
        assert_eq!(url.authority(), "outlook.office365.com");
        assert_eq!(url.path_and_query(), "/EWS/Exchange.asmx");
        assert_eq!(url.resource(), "https://outlook.office365.com");
        assert_eq!(
            url.to_string(),
            "https://outlook.office365.com/EWS/Exchange.asmx"
        );
    }

    #[test]
    fn resource_keeps_a_non_default_port_and_drops_a_default_one() {
        let emulator = HttpUrl::parse("http://127.0.0.1:8765/EWS/Exchange.asmx").unwrap();
        assert_eq!(emulator.resource(), "https://127.0.0.1:8765");
        assert_eq!(emulator.authority(), "127.0.0.1:8765");
        let explicit =
            HttpUrl::parse("HTTPS://Outlook.Office365.com:443/EWS/Exchange.asmx").unwrap();
        assert_eq!(explicit.resource(), "https://outlook.office365.com");
        let v6 = HttpUrl::parse("http://[::1]:9000/x").unwrap();
        assert_eq!(v6.resource(), "https://[::1]:9000");
    }

    #[test]
    fn query_is_kept_for_the_request_and_hidden_in_messages() {
        let url = HttpUrl::parse("https://ews.contoso.com/EWS/Exchange.asmx?x=secret").unwrap();
        assert_eq!(url.path_and_query(), "/EWS/Exchange.asmx?x=secret");
        assert_eq!(
            url.without_query(),
            "https://ews.contoso.com/EWS/Exchange.asmx"
        );
        let bare = HttpUrl::parse("https://login.microsoftonline.com").unwrap();
        assert_eq!(bare.path_and_query(), "/");
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for (text, reason) in [
            (
                "outlook.office365.com/EWS/Exchange.asmx",
                "must start with https://",
            ),
            ("ftp://host/x", "must start with https://"),
            ("https:///EWS", "no host"),
            ("https://user:pw@host/EWS", "user name or password"),
            ("https://host:99999/EWS", "invalid port"),
            ("https://host:abc/EWS", "invalid port"),
            ("https://ho st/EWS", "spaces"),
            ("https://host/EWS#frag", "fragment"),
            ("https://ho!st/EWS", "invalid host name"),
            ("https://[::1/EWS", "closing ]"),
            ("", "must start with"),
        ] {
            let err = HttpUrl::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }
}
