//! The host side of the component's imports, one module per WIT interface.
//!
//! Each module implements the generated `Host` trait of its interface for
//! [`TenantState`](crate::state::TenantState), the data of a tenant's store.
//! A capability only reaches its own tenant's data through
//! [`TenantState::tenant`](crate::state::TenantState::tenant); nothing here is shared
//! between tenants. The standard WASI imports (`wasi:http`, `wasi:io`, clocks,
//! random, cli) are provided by `wasmtime-wasi` and `wasmtime-wasi-http`; the
//! HTTP policy lives in [`crate::http_policy`].
//!
//! | module | WIT interface | what it gives the component |
//! |---|---|---|
//! | [`config`] | `wasi:config/store` | the tenant's non-secret settings |
//! | [`secrets`] | `rooms:exchange-sync/secrets` | a named secret; RS256 signatures by certificate thumbprint |
//! | [`token_cache`] | `rooms:exchange-sync/token-cache` | tokens that outlive an instance (memory only) |
//! | [`rooms`] | `rooms:exchange-sync/rooms` | persons, bookings, pending changes, sync states; pages committed in one transaction |
//! | [`pacing`] | `rooms:exchange-sync/pacing` | waits on the host's clock, bounded by the call deadline |
//! | [`log`] | `rooms:exchange-sync/log` | the host's log, tagged with the tenant |

pub mod config;
pub mod log;
pub mod pacing;
pub mod rooms;
pub mod secrets;
pub mod token_cache;

/// `types` has no functions; its generated `Host` trait is empty.
impl crate::bindings::rooms::exchange_sync::types::Host for crate::state::TenantState {}

/// `calendar` has no functions (only the booking types); its generated
/// `Host` trait is empty.
impl crate::bindings::rooms::exchange_sync::calendar::Host for crate::state::TenantState {}
