//! The two-way sync engine: one cycle for one person.
//!
//! Built over [`crate::platform::Platform`] (the ROOMS store, HTTP, the
//! clock) and a transport seam, [`Transport`], that EWS fills today and a
//! Microsoft Graph module can fill later.

use crate::error::Error;

/// Items moved in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Created.
    pub created: u32,
    /// Updated.
    pub updated: u32,
    /// Cancelled or deleted.
    pub cancelled: u32,
}

/// A problem that stopped the person, or one booking.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Stable code (`ErrorAccessDenied`, `AADSTS7000215`, `HTTP 403`,
    /// `configuration`, `conflict`, `store`).
    pub code: String,
    /// One sentence.
    pub message: String,
    /// What to change; `None` when it retries by itself.
    pub fix: Option<String>,
    /// The typed cause, when the person stopped.
    pub cause: Option<Error>,
}

/// The outcome of one cycle of one person (the WIT `sync-report`).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Exchange → ROOMS.
    pub to_rooms: Counts,
    /// ROOMS → Exchange.
    pub to_exchange: Counts,
    /// Conflicts met.
    pub conflicts: u32,
    /// Items quarantined.
    pub quarantined: u32,
    /// EWS requests sent.
    pub ews_requests: u32,
    /// Time spent waiting.
    pub backoff_ms: u64,
    /// True when the cycle ran to its end.
    pub completed: bool,
    /// Problems met.
    pub errors: Vec<Problem>,
}
