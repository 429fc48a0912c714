//! The request log: every request the emulator answered, for assertions in tests.
//!
//! Entries hold the time, endpoint, operation, target mailbox, caller, selected request headers
//! and the outcome. Secrets never enter the log: the `Authorization` value is replaced by
//! `Bearer [redacted]`, cookies are dropped, and request bodies (which carry passwords, client
//! secrets and assertions on the token endpoint) are not stored.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Most entries kept; older ones are dropped first.
pub const CAPACITY: usize = 20_000;

/// Headers copied into the log (lower-case names).
const LOGGED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "user-agent",
    "x-anchormailbox",
    "x-preferserveraffinity",
    "x-owa-explicitlogonuser",
    "client-request-id",
    "return-client-request-id",
    "soapaction",
    "x-ms-client-request-id",
];

/// One logged request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    /// Sequence number (1, 2, ...).
    pub seq: u64,
    /// Emulator time (RFC 3339).
    pub time: String,
    /// `ews`, `token` or `other`.
    pub endpoint: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// EWS operation, or the grant type on the token endpoint.
    pub operation: Option<String>,
    /// Target mailbox (as sent).
    pub mailbox: Option<String>,
    /// The caller: app id, or `user@domain (app id)`.
    pub caller: Option<String>,
    /// Selected request headers, secrets redacted.
    pub headers: BTreeMap<String, String>,
    /// HTTP status sent (0 when the connection was dropped).
    pub http_status: u16,
    /// EWS response code or `AADSTSnnnnn` of the answer.
    pub response_code: Option<String>,
    /// An injected fault that fired, if any.
    pub fault: Option<String>,
}

/// Filters for reading the log (all optional, combined with AND).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogFilter {
    /// Endpoint (`ews`, `token`).
    pub endpoint: Option<String>,
    /// Operation name.
    pub operation: Option<String>,
    /// Mailbox (case-insensitive).
    pub mailbox: Option<String>,
    /// Response code.
    pub response_code: Option<String>,
    /// Only entries with `seq` greater than this.
    pub since: Option<u64>,
}

impl LogFilter {
    fn matches(&self, e: &LogEntry) -> bool {
        self.endpoint.as_ref().is_none_or(|x| *x == e.endpoint)
            && self
                .operation
                .as_ref()
                .is_none_or(|x| e.operation.as_ref() == Some(x))
            && self.mailbox.as_ref().is_none_or(|x| {
                e.mailbox
                    .as_ref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(x))
            })
            && self
                .response_code
                .as_ref()
                .is_none_or(|x| e.response_code.as_ref() == Some(x))
            && self.since.is_none_or(|s| e.seq > s)
    }
}

/// The log.
#[derive(Debug, Default)]
pub struct RequestLog {
    next_seq: u64,
    entries: VecDeque<LogEntry>,
}

/// Copies the logged headers of a request, redacting `Authorization`.
pub fn selected_headers(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in LOGGED_HEADERS {
        if let Some(v) = headers.get(*name) {
            let value = if *name == "authorization" {
                let scheme = v
                    .to_str()
                    .ok()
                    .and_then(|s| s.split_whitespace().next())
                    .unwrap_or("");
                format!("{scheme} [redacted]").trim().to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            out.insert((*name).to_string(), value);
        }
    }
    out
}

impl RequestLog {
    /// Appends an entry (its `seq` is assigned here) and returns the sequence number.
    pub fn push(&mut self, mut entry: LogEntry) -> u64 {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        if self.entries.len() >= CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
        self.next_seq
    }

    /// Entries matching a filter, oldest first.
    pub fn query(&self, filter: &LogFilter) -> Vec<LogEntry> {
        self.entries
            .iter()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect()
    }

    /// Removes all entries (sequence numbers keep counting).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_is_redacted() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "authorization",
            "Bearer eyJsecret.token.value".parse().unwrap(),
        );
        h.insert("x-anchormailbox", "room@contoso.com".parse().unwrap());
        h.insert("cookie", "session=secret".parse().unwrap());
        let out = selected_headers(&h);
        assert_eq!(out["authorization"], "Bearer [redacted]");
        assert_eq!(out["x-anchormailbox"], "room@contoso.com");
        assert!(!format!("{out:?}").contains("secret"));
    }

    #[test]
    fn filters_and_capacity() {
        let mut log = RequestLog::default();
        let entry = |op: &str| LogEntry {
            seq: 0,
            time: String::new(),
            endpoint: "ews".into(),
            method: "POST".into(),
            path: "/EWS/Exchange.asmx".into(),
            operation: Some(op.into()),
            mailbox: Some("A@contoso.com".into()),
            caller: None,
            headers: BTreeMap::new(),
            http_status: 200,
            response_code: Some("NoError".into()),
            fault: None,
        };
        log.push(entry("GetFolder"));
        let s = log.push(entry("FindItem"));
        let f = LogFilter {
            mailbox: Some("a@contoso.com".into()),
            operation: Some("FindItem".into()),
            ..LogFilter::default()
        };
        assert_eq!(log.query(&f).len(), 1);
        assert_eq!(
            log.query(&LogFilter {
                since: Some(s),
                ..LogFilter::default()
            })
            .len(),
            0
        );
        for _ in 0..CAPACITY {
            log.push(entry("x"));
        }
        assert_eq!(log.query(&LogFilter::default()).len(), CAPACITY);
    }
}
