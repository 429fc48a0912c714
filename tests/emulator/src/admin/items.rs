//! Admin routes for calendar items, `/admin/mailboxes/{address}/items...` (owned by engineer
//! E2). Placeholder created by E1 so that the admin router compiles; E2 replaces this file.
//!
//! Contract: [`handle`] gets the method, the mailbox address (percent-decoded), the path after
//! `items` (empty for the collection, e.g. `"{id}"` or `"{id}/occurrences"`), the raw query
//! string and the body, and returns the HTTP answer.

use std::sync::Arc;

use http::Method;
use serde_json::json;

use crate::reply::Reply;
use crate::state::Shared;

/// Handles `/admin/mailboxes/{mailbox}/items/{rest}`.
pub fn handle(
    _shared: &Arc<Shared>,
    _method: &Method,
    mailbox: &str,
    _rest: &str,
    _query: Option<&str>,
    _body: &[u8],
) -> Reply {
    Reply::json(
        501,
        &json!({"error": format!("calendar item administration for '{mailbox}' is not implemented yet")}),
    )
}
