//! Fault injection: the next N matching requests fail in a chosen way.
//!
//! Tests add faults with `POST /admin/faults` (or [`crate::RunningEmulator::inject_fault`]). A fault
//! matches by endpoint (`ews` or `token`), and optionally by EWS operation name and target
//! mailbox; it fires `count` times and is then gone. See [`FaultAction`] for what can happen.

use serde::{Deserialize, Serialize};

/// Where a fault applies.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultEndpoint {
    /// `POST /EWS/Exchange.asmx`.
    #[default]
    Ews,
    /// `POST /{tenant}/oauth2/v2.0/token`.
    Token,
}

/// How an injected EWS error is shaped.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ErrorShape {
    /// HTTP 200, one `ResponseClass="Error"` message.
    #[default]
    ResponseMessage,
    /// HTTP 500 SOAP fault.
    SoapFault,
}

/// What an injected fault does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with an EWS response code instead of processing the request.
    EwsError {
        /// The response code, e.g. `ErrorServerBusy`.
        code: String,
        /// Message text (default: a generic text naming the code).
        #[serde(default)]
        message: Option<String>,
        /// Response message (HTTP 200) or SOAP fault (HTTP 500).
        #[serde(default)]
        shape: ErrorShape,
        /// Adds `BackOffMilliseconds` to `MessageXml`.
        #[serde(default)]
        back_off_ms: Option<u64>,
    },
    /// Answer with an HTTP status (and optional `Retry-After` seconds and body).
    HttpStatus {
        /// The status code.
        status: u16,
        /// `Retry-After` in seconds.
        #[serde(default)]
        retry_after: Option<u64>,
        /// Body text (default empty).
        #[serde(default)]
        body: Option<String>,
    },
    /// Delay the request, then process it normally.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// Drop the connection before the request is processed (nothing changes).
    ResetBefore,
    /// Process the request (its change IS applied), then drop the connection without an answer.
    ResetAfter,
    /// Process the request, then send only half of the body and drop the connection.
    TruncatedBody,
    /// Process the request, then answer HTTP 200 with a body that is not well-formed XML.
    MalformedBody,
    /// Hook for SyncFolderItems: the next sync state presented is treated as invalid.
    InvalidSyncState,
}

impl FaultAction {
    /// True for actions that run after normal processing.
    pub fn after_processing(&self) -> bool {
        matches!(
            self,
            Self::ResetAfter | Self::TruncatedBody | Self::MalformedBody
        )
    }
}

/// A fault to inject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// How many matching requests fail (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Endpoint (default `ews`).
    #[serde(default)]
    pub endpoint: FaultEndpoint,
    /// Only requests of this EWS operation (e.g. `SyncFolderItems`), or this grant type for the
    /// token endpoint.
    #[serde(default)]
    pub operation: Option<String>,
    /// Only requests that target this mailbox (any of its addresses as sent).
    #[serde(default)]
    pub mailbox: Option<String>,
    /// What happens.
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl FaultSpec {
    /// A fault of `endpoint` that fires once, for any operation and mailbox. Narrow or repeat
    /// it with struct update syntax: `FaultSpec { count: 3, ..FaultSpec::new(endpoint, action) }`.
    pub fn new(endpoint: FaultEndpoint, action: FaultAction) -> Self {
        Self {
            count: 1,
            endpoint,
            operation: None,
            mailbox: None,
            action,
        }
    }

    /// A fault of the EWS endpoint that fires once, for any operation and mailbox.
    pub fn ews(action: FaultAction) -> Self {
        Self::new(FaultEndpoint::Ews, action)
    }
}

/// An active fault.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveFault {
    /// Id for listing.
    pub id: u64,
    /// Remaining firings.
    pub remaining: u32,
    /// The fault.
    pub spec: FaultSpec,
}

/// The table of active faults.
#[derive(Debug, Default)]
pub struct FaultTable {
    next_id: u64,
    active: Vec<ActiveFault>,
}

impl FaultTable {
    /// Adds a fault; returns its id.
    pub fn add(&mut self, spec: FaultSpec) -> u64 {
        self.next_id += 1;
        self.active.push(ActiveFault {
            id: self.next_id,
            remaining: spec.count,
            spec,
        });
        self.next_id
    }

    /// Active faults.
    pub fn list(&self) -> &[ActiveFault] {
        &self.active
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// Takes one firing of the first fault that matches the request and `kind`.
    pub fn take(
        &mut self,
        endpoint: FaultEndpoint,
        operation: Option<&str>,
        mailbox: Option<&str>,
        kind: impl Fn(&FaultAction) -> bool,
    ) -> Option<FaultAction> {
        let pos = self.active.iter().position(|f| {
            f.remaining > 0
                && f.spec.endpoint == endpoint
                && kind(&f.spec.action)
                && f.spec
                    .operation
                    .as_deref()
                    .is_none_or(|o| Some(o) == operation)
                && f.spec
                    .mailbox
                    .as_deref()
                    .is_none_or(|m| mailbox.is_some_and(|x| x.eq_ignore_ascii_case(m)))
        })?;
        let fault = &mut self.active[pos];
        fault.remaining -= 1;
        let action = fault.spec.action.clone();
        if fault.remaining == 0 {
            self.active.remove(pos);
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_count_times_and_filter() {
        let mut t = FaultTable::default();
        t.add(FaultSpec {
            count: 2,
            endpoint: FaultEndpoint::Ews,
            operation: Some("GetFolder".into()),
            mailbox: Some("a@contoso.com".into()),
            action: FaultAction::ResetBefore,
        });
        let mut fires = |endpoint, operation, mailbox| {
            t.take(endpoint, Some(operation), Some(mailbox), |_| true)
                .is_some()
        };
        assert!(!fires(FaultEndpoint::Ews, "FindItem", "a@contoso.com"));
        assert!(!fires(FaultEndpoint::Ews, "GetFolder", "b@contoso.com"));
        assert!(!fires(FaultEndpoint::Token, "GetFolder", "a@contoso.com"));
        assert!(fires(FaultEndpoint::Ews, "GetFolder", "A@contoso.com"));
        assert!(fires(FaultEndpoint::Ews, "GetFolder", "a@contoso.com"));
        assert!(!fires(FaultEndpoint::Ews, "GetFolder", "a@contoso.com"));
        assert!(t.list().is_empty());
    }

    #[test]
    fn fault_json_shape() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"count":3,"operation":"SyncFolderItems","action":{"kind":"ews_error","code":"ErrorServerBusy","shape":"soap_fault","back_off_ms":5000}}"#,
        )
        .unwrap();
        assert_eq!(spec.count, 3);
        assert!(matches!(
            spec.action,
            FaultAction::EwsError {
                shape: ErrorShape::SoapFault,
                back_off_ms: Some(5000),
                ..
            }
        ));
        assert!(serde_json::from_str::<FaultSpec>(r#"{"action":{"kind":"explode"}}"#).is_err());
    }
}
