//! The allowlist of one tenant and the limits of its requests.
//!
//! An [`HttpPolicy`] says which origins (scheme, host, port) the component may
//! reach, whether loopback test mode and private networks are on, and the
//! [`HttpLimits`]. It is immutable once shared (`Arc<HttpPolicy>`); the
//! connection pool compares policies by that `Arc`, so a new policy object
//! never reuses a connection another policy opened.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;
use wasmtime_wasi_http::RequestOptions;

use super::address::AddressRule;

/// Limits applied to every outgoing request of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: u64,
    /// Longest wait for a connection: DNS resolution, TCP connect and the TLS
    /// handshake together.
    pub connect_timeout: Duration,
    /// Longest wait for the response head after the request was sent.
    pub first_byte_timeout: Duration,
    /// Longest pause between two chunks of the response body.
    pub between_bytes_timeout: Duration,
    /// Longest time to receive the whole body once the head arrived. With
    /// the two timeouts above it makes the overall bound of a request:
    /// nothing waits longer than connect + first byte + body.
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection may wait in the pool for the
    /// next request of the same policy; zero turns pooling off.
    pub idle_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_response_bytes: 16 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(100),
            between_bytes_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// One allowed origin: scheme, lower-case host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    secure: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URL.
    pub fn of_url(url: &str) -> Result<Origin, PolicyError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| PolicyError::InvalidUrl(url.to_string()))?;
        Origin::of_uri(&uri).ok_or_else(|| PolicyError::InvalidUrl(url.to_string()))
    }

    pub(crate) fn of_uri(uri: &Uri) -> Option<Origin> {
        let secure = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return None,
        };
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return None;
        }
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Some(Origin {
            secure,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether the scheme is `https`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host: a lower-case name, or an IP address without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    fn is_loopback_ip(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Why a URL cannot be part of a policy, or why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not an absolute `http(s)` URL.
    #[error("`{0}` is not an absolute http(s) URL")]
    InvalidUrl(String),
    /// Plain HTTP to a host that is not a loopback address, or loopback mode off.
    #[error(
        "plain http:// is refused for {0}: use https, or for a local test set ExchangeAllowInsecureLoopback=true (it allows http only to 127.0.0.0/8 and ::1)"
    )]
    InsecureScheme(String),
    /// The origin is neither the authority nor a person's Sync-URL.
    #[error(
        "{origin} is not allowed: the component may only reach the sign-in authority and the persons' Sync-URL hosts ({allowed})"
    )]
    NotAllowed {
        /// The refused origin.
        origin: String,
        /// The allowed origins, comma separated.
        allowed: String,
    },
}

/// The allowlist of one tenant.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    allowed: Vec<Origin>,
    allow_insecure_loopback: bool,
    allow_private_networks: bool,
    limits: HttpLimits,
}

impl HttpPolicy {
    /// A policy that allows nothing yet; [`HttpPolicy::allow`] adds origins.
    /// `allow_insecure_loopback` is loopback test mode
    /// (`ExchangeAllowInsecureLoopback`): plain http to loopback IP
    /// addresses, and names that resolve to loopback addresses.
    pub fn new(allow_insecure_loopback: bool, limits: HttpLimits) -> HttpPolicy {
        HttpPolicy {
            allowed: Vec::new(),
            allow_insecure_loopback,
            allow_private_networks: false,
            limits,
        }
    }

    /// The same policy, with private networks (`ExchangeAllowPrivateNetworks`)
    /// allowed or not: with `true`, allowed hosts may resolve to private
    /// (RFC 1918), shared (100.64.0.0/10) and unique-local IPv6 addresses,
    /// for an Exchange server on the operator's own network.
    pub fn with_private_networks(mut self, allow: bool) -> HttpPolicy {
        self.allow_private_networks = allow;
        self
    }

    /// Allows the origin of `url` (the sign-in authority or a person's EWS
    /// URL). A URL the scheme rule refuses is not added, and the error says
    /// what to change.
    pub fn allow(&mut self, url: &str) -> Result<(), PolicyError> {
        let origin = Origin::of_url(url)?;
        self.check_scheme(&origin)?;
        if !self.allowed.contains(&origin) {
            self.allowed.push(origin);
        }
        Ok(())
    }

    /// The limits of this policy.
    pub fn limits(&self) -> HttpLimits {
        self.limits
    }

    /// Which resolved addresses this policy lets a request connect to.
    pub fn address_rule(&self) -> AddressRule {
        AddressRule {
            allow_loopback: self.allow_insecure_loopback,
            allow_private: self.allow_private_networks,
        }
    }

    fn check_scheme(&self, origin: &Origin) -> Result<(), PolicyError> {
        if origin.secure || (self.allow_insecure_loopback && origin.is_loopback_ip()) {
            Ok(())
        } else {
            Err(PolicyError::InsecureScheme(origin.to_string()))
        }
    }

    /// Whether a request to `uri` may be sent (by origin and scheme; the
    /// addresses a name resolves to are checked when connecting).
    pub fn check(&self, uri: &Uri) -> Result<(), PolicyError> {
        self.admit(uri).map(|_| ())
    }

    /// The origin of `uri` when this policy allows it.
    pub(crate) fn admit(&self, uri: &Uri) -> Result<Origin, PolicyError> {
        let origin = Origin::of_uri(uri).ok_or_else(|| PolicyError::InvalidUrl(uri.to_string()))?;
        self.check_scheme(&origin)?;
        if self.allows(&origin) {
            Ok(origin)
        } else {
            Err(PolicyError::NotAllowed {
                origin: origin.to_string(),
                allowed: self
                    .allowed
                    .iter()
                    .map(Origin::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// Whether `origin` is on the allowlist and passes the scheme rule.
    pub(crate) fn allows(&self, origin: &Origin) -> bool {
        self.allowed.contains(origin) && self.check_scheme(origin).is_ok()
    }

    /// The timeouts to use: the component's own, capped by the policy.
    pub(crate) fn effective_options(&self, asked: Option<RequestOptions>) -> RequestOptions {
        let asked = asked.unwrap_or_default();
        let cap =
            |asked: Option<Duration>, limit: Duration| Some(asked.map_or(limit, |a| a.min(limit)));
        RequestOptions {
            connect_timeout: cap(asked.connect_timeout, self.limits.connect_timeout),
            first_byte_timeout: cap(asked.first_byte_timeout, self.limits.first_byte_timeout),
            between_bytes_timeout: cap(
                asked.between_bytes_timeout,
                self.limits.between_bytes_timeout,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_of(urls: &[&str], loopback: bool) -> Result<HttpPolicy, PolicyError> {
        let mut policy = HttpPolicy::new(loopback, HttpLimits::default());
        for url in urls {
            policy.allow(url)?;
        }
        Ok(policy)
    }

    fn policy(loopback: bool) -> HttpPolicy {
        policy_of(
            &[
                "https://login.microsoftonline.com",
                "https://outlook.office365.com/EWS/Exchange.asmx",
            ],
            loopback,
        )
        .unwrap()
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn authority_and_sync_url_hosts_are_allowed() {
        let p = policy(false);
        assert!(
            p.check(&uri(
                "https://login.microsoftonline.com/t/oauth2/v2.0/token"
            ))
            .is_ok()
        );
        assert!(
            p.check(&uri("https://OUTLOOK.office365.com/EWS/Exchange.asmx"))
                .is_ok()
        );
        assert!(p.check(&uri("https://outlook.office365.com:443/x")).is_ok());
    }

    #[test]
    fn other_hosts_ports_and_schemes_are_refused() {
        let p = policy(false);
        let err = p.check(&uri("https://example.com/")).unwrap_err();
        assert!(matches!(err, PolicyError::NotAllowed { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("https://outlook.office365.com:443")
        );
        assert!(matches!(
            p.check(&uri("https://outlook.office365.com:8443/")),
            Err(PolicyError::NotAllowed { .. })
        ));
        assert!(matches!(
            p.check(&uri("http://outlook.office365.com/")),
            Err(PolicyError::InsecureScheme(_))
        ));
    }

    #[test]
    fn plain_http_needs_loopback_mode_and_a_loopback_address() {
        let urls = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/EWS/Exchange.asmx",
        ];
        let err = policy_of(&urls, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("ExchangeAllowInsecureLoopback=true"),
            "{err}"
        );

        let p = policy_of(&urls, true).unwrap();
        assert!(
            p.check(&uri("http://127.0.0.1:8080/EWS/Exchange.asmx"))
                .is_ok()
        );
        // Loopback mode is not a licence for other addresses or names.
        assert!(policy_of(&["http://10.0.0.1"], true).is_err());
        assert!(policy_of(&["http://localhost:80"], true).is_err());
        assert!(policy_of(&["http://[::1]:9000"], true).is_ok());
        assert!(policy_of(&["http://127.5.6.7:9000"], true).is_ok());
        // A refused URL is not added: the policy still allows nothing else.
        let mut p = HttpPolicy::new(false, HttpLimits::default());
        assert!(
            p.allow("http://outlook.office365.com/EWS/Exchange.asmx")
                .is_err()
        );
        assert!(
            p.check(&uri("http://outlook.office365.com/EWS/Exchange.asmx"))
                .is_err()
        );
    }

    #[test]
    fn the_address_rule_follows_the_two_flags() {
        let p = HttpPolicy::new(false, HttpLimits::default());
        assert_eq!(
            p.address_rule(),
            AddressRule {
                allow_loopback: false,
                allow_private: false
            }
        );
        let p = HttpPolicy::new(true, HttpLimits::default()).with_private_networks(true);
        assert_eq!(
            p.address_rule(),
            AddressRule {
                allow_loopback: true,
                allow_private: true
            }
        );
    }

    #[test]
    fn component_timeouts_are_capped_by_the_policy() {
        let p = policy(false);
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_secs(3600)),
            first_byte_timeout: Some(Duration::from_millis(5)),
            between_bytes_timeout: None,
        };
        let got = p.effective_options(Some(asked));
        assert_eq!(
            got.connect_timeout,
            Some(HttpLimits::default().connect_timeout)
        );
        assert_eq!(got.first_byte_timeout, Some(Duration::from_millis(5)));
        assert_eq!(
            got.between_bytes_timeout,
            Some(HttpLimits::default().between_bytes_timeout)
        );
    }
}
