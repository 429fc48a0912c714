//! The ROOMS Exchange Online sync component.
//!
//! A WASI Preview 2 component (`wasm32-wasip2`) that holds the OAuth and EWS
//! logic of the ROOMS calendar sync. A host supplies the imports of the WIT
//! world `rooms:exchange-sync/plugin` (HTTP, settings, secrets and signing, a
//! token cache, the ROOMS data, pacing, logging) and calls the `sync` and
//! `notifications` exports.
//! All logic is plain Rust behind the [`platform::Platform`] trait, so it
//! builds and is unit-tested natively; only `component`, `wasi_platform` and
//! `wit_booking` touch the generated bindings and exist only on `wasm32`.
//!
//! # Layout
//!
//! - `component`: (wasm32) the bindings, `export!`, the `sync` and
//!   `notifications` exports, the one mapping of [`error::Error`] to the WIT
//!   `sync-error`, the [`sync::Report`] as the WIT `sync-report`, and the
//!   notification types both ways.
//! - `wasi_platform`: (wasm32) [`platform::Platform`] over the WIT imports and
//!   raw `wasi:http`.
//! - `wit_booking`: (wasm32) the booking types converted both ways between
//!   [`booking`] and the generated `calendar` and `rooms` types.
//! - [`platform`]: the host trait and the plain types that cross it.
//! - [`booking`]: ROOMS bookings, booking keys and the pages committed to the
//!   store, as plain types (the WIT `calendar` and the `rooms` store types).
//! - [`body`]: a response body collected under a size cap with a bounded
//!   memory peak (fed by `wasi_platform`, measured natively).
//! - [`config`]: the `RoomsAppSettings` keys, read and validated.
//! - [`error`]: one error case per actionable cause, each with message and fix.
//! - [`url`]: the strict URL parser for the authority and the EWS endpoint.
//! - [`auth`]: Entra ID sign-in (client secret, certificate, password) and
//!   token reuse; [`auth::entra`] turns AADSTS codes into advice.
//! - [`ews`]: the EWS client and answer classification; [`ews::xml`],
//!   [`ews::soap`], [`ews::response`], [`ews::time`], the calendar item both
//!   ways ([`ews::calendar_item`]) and one file per operation
//!   ([`ews::get_folder`], [`ews::sync_folder_items`], [`ews::get_item`],
//!   [`ews::create_item`], [`ews::update_item`], [`ews::delete_item`],
//!   [`ews::find_item`]; for notifications [`ews::subscribe`],
//!   [`ews::get_events`], [`ews::unsubscribe`] and the push request
//!   [`ews::send_notification`]).
//! - [`session`]: a person's validated settings, endpoint and tokens, shared
//!   by the sync test and the engine.
//! - [`sync`]: the two-way sync engine, one cycle of one person
//!   (`sync.run-person`) and its [`sync::Report`], over a transport seam
//!   ([`sync::transport`]) that EWS fills and a Graph module can fill later.
//! - [`notifications`]: pull and push subscriptions and the push webhook
//!   (the `notifications` export), beside the sync engine: subscribe a
//!   batch, poll `GetEvents`, unsubscribe, and answer a `SendNotification`.
//! - [`diagnostics`]: the sync test of a person (`sign-in`, `calendar-access`).
//! - [`safe_text`]: server text made fit for a terminal, a log or JSON
//!   (control and bidi characters replaced, length capped); the final pass
//!   over everything the component hands out.
//!
//! # What a call costs
//!
//! Measured for a warm check (token cached, one `GetFolder`): about half of
//! the component's own time is reading the SOAP answer into an [`ews::xml`]
//! tree (quick-xml's tokenizer and namespace resolution, and the strings of
//! the tree); the rest is formatting messages and the allocator. Each host
//! call costs a crossing and every string it returns an allocation in the
//! component: a check makes about 40 (7 settings reads, a few log lines, the
//! token cache, the clock, and some 25 `wasi:http` calls for the request).
//! So the hot path avoids host calls and copies it does not need, hands
//! already clean text on without copying it ([`safe_text::clean_cow`]), and
//! does not rely on wasi-libc's `memcmp` and `memchr`, which go byte by byte
//! in the component. Reading every setting with one `wasi:config/store`
//! `get-all` was measured slower than seven `get`s: the host returns all of
//! the tenant's settings, each string allocated in the component.

pub mod auth;
pub mod body;
pub mod booking;
pub mod config;
pub mod diagnostics;
pub mod error;
pub mod ews;
pub mod notifications;
pub mod platform;
pub mod safe_text;
pub mod session;
pub mod sync;
pub mod url;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod wasi_platform;
#[cfg(target_arch = "wasm32")]
mod wit_booking;

#[cfg(test)]
mod testing;
