//! Unsubscribe (owned by engineer E2). Placeholder created by E1 so that the dispatch table in
//! `ews/mod.rs` compiles; E2 replaces this file with the real operation.

use super::context::OpContext;
use super::dom::Element;
use super::fault::EwsFault;
use super::writer::OpResponse;

/// Handles `m:Unsubscribe` (not implemented yet: answers `ErrorInvalidRequest`).
pub fn handle(_cx: &mut OpContext<'_>, _op: &Element) -> Result<OpResponse, EwsFault> {
    Err(EwsFault::new(
        "ErrorInvalidRequest",
        "The emulator does not implement Unsubscribe yet.",
    ))
}
