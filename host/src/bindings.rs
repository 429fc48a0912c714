//! Generated bindings of the `rooms:exchange-sync/plugin` world.
//!
//! `bindgen!` reads `wit/` and generates one `Host` trait per import and the
//! typed `Plugin`/`PluginPre` wrappers for the export. Options used:
//! - `exports: { default: async }`: the export is called with `call_*().await`,
//!   because `wasi:http` runs on tokio and needs an async store.
//! - `imports`: our own imports are synchronous (they do not await
//!   anything), except `pacing.wait`, which sleeps on tokio's clock
//!   ([`crate::capabilities::pacing`]).
//! - `with`: the standard WASI interfaces reuse the types of `wasmtime-wasi`
//!   and `wasmtime-wasi-http`, which also provide their implementations.
//!   `wasi:config/store` is generated here and implemented in
//!   [`crate::capabilities::config`].
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
    imports: { "rooms:exchange-sync/pacing.wait": async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use exports::rooms::exchange_sync::sync::{CheckResult, SyncError};
pub use rooms::exchange_sync::types;
