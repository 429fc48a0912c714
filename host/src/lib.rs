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
//! - [`tenant`]: a tenant directory (settings, database, certificates, token
//!   cache) and the runs made for it; turns traps into red checks.
//! - [`state`]: the data of a store (`TenantState`) and its WASI views.
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
//! - [`rooms_db`]: the ROOMS database (SQLite): persons.
//! - [`log`]: log sinks (stderr, memory for tests).
//! - [`bindings`]: the code generated from `wit/`.
//!
//! Among settings, secrets, certificates and the environment, dependencies
//! point one way only: `settings` uses `secrets`, `certs::thumbprint` and
//! `env`; `certs` uses `secrets`; `secrets` uses `env`; `env` and
//! `certs::thumbprint` use nothing of the crate.

pub mod bindings;
pub mod capabilities;
pub mod certs;
pub mod cli;
pub mod env;
pub mod files;
pub mod http_policy;
pub mod log;
pub mod rooms_db;
pub mod runtime;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod tenant;
