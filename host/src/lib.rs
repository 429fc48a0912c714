//! The wasmtime host of the ROOMS Exchange Online sync component.
//!
//! The component (`guest/`, compiled to `wasm32-wasip2`) holds the OAuth and
//! EWS logic. This crate runs it: one engine per process, one sandboxed store
//! per tenant call, and the capabilities the component imports — settings,
//! secrets and certificate signatures, a token cache, the ROOMS persons, a
//! log, and outgoing HTTP filtered by a per-tenant policy.
//!
//! # Layout
//!
//! - [`cli`]: the `rooms-sync` command line, callable in-process by tests.
//! - [`runtime`]: engine, precompiled-component cache, linker, `PluginPre`,
//!   the epoch ticker; the only place a `Store` is created.
//! - [`calls`]: the calls into the component for a tenant (the sync test,
//!   a sync cycle, and in `calls::notifications` the subscription and
//!   webhook calls of the service) under the call deadline; turns traps
//!   into red checks or failed reports.
//! - [`component_cache`]: precompiled components, verified (owner, mode,
//!   keyed digest) before they are loaded.
//! - [`tenant`]: a tenant directory's long-lived data: settings, database,
//!   certificates, token cache, HTTP policy.
//! - [`state`]: the data of a store (`TenantState`), its memory limiter and
//!   its WASI views.
//! - [`tokens`]: the per-tenant token cache, bounded in size and count.
//! - [`text`]: control characters out of, and a length cap on, any text
//!   passed on from the component.
//! - [`capabilities`]: one module per imported WIT interface.
//! - [`http_policy`]: outgoing HTTP: the per-tenant allowlist and address
//!   rule, the host's own bounded HTTP/1.1 + TLS client, the keep-alive pool.
//! - [`settings`]: `RoomsAppSettings.config` reading and validation.
//! - [`secrets`]: literal, `env:` and `file:` secret values, never printed.
//! - [`certs`]: the certificate store and RS256 signing; `certs::thumbprint`
//!   is a leaf that settings validation uses.
//! - [`env`]: the process environment behind a trait (a map in tests).
//! - [`files`]: opening input files so that a FIFO or device cannot block,
//!   with a size bound.
//! - [`rooms_db`]: the ROOMS database (SQLite): persons and rooms,
//!   bookings with their Exchange links, sync states, pages committed in one
//!   transaction, conflicts, the outbox and quarantined items.
//! - [`occurrences`]: Windows time zones (CLDR, through ICU4X) and the
//!   expansion of series into occurrences in their own zone.
//! - [`commands`]: the `person`, `booking` and `run` commands of the CLI.
//! - [`service`]: `rooms-sync serve`, the sync service of every tenant of a
//!   directory: scheduler, push and pull subscriptions, the webhook,
//!   `/healthz` and `/metrics`.
//! - [`log`]: log sinks (stderr, memory for tests), text or JSON lines, with
//!   tenant and person context.
//! - [`bindings`]: the code generated from `wit/`.
//!
//! Among settings, secrets, certificates and the environment, dependencies
//! point one way only: `settings` uses `secrets`, `certs::thumbprint` and
//! `env`; `certs` uses `secrets`; `secrets` uses `env`; `env` and
//! `certs::thumbprint` use nothing of the crate.

pub mod bindings;
pub mod calls;
pub mod capabilities;
pub mod certs;
pub mod cli;
pub mod commands;
pub mod component_cache;
pub mod env;
pub mod files;
pub mod http_policy;
pub mod log;
pub mod occurrences;
pub mod rooms_db;
pub mod runtime;
pub mod secrets;
pub mod service;
pub mod settings;
pub mod state;
pub mod tenant;
pub mod text;
pub mod tokens;
