//! The data of one tenant's `Store`: what a component instance can reach.
//!
//! A [`TenantState`] is born for every call (see
//! [`Runtime::new_store`](crate::runtime::Runtime::new_store)) and dies with
//! the call. It holds the WASI context (no files, no sockets, no environment,
//! no arguments), the `wasi:http` context with the tenant's
//! [`PolicyHooks`], the resource limits, and a handle to the tenant's
//! long-lived data ([`Tenant`]). Each capability gets a narrow view of it.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::http_policy::{HttpPolicy, PolicyHooks};
use crate::log::LogSink;
use crate::tenant::Tenant;

/// Store data of one call into one tenant's component instance.
pub struct TenantState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: PolicyHooks,
    pub(crate) limits: StoreLimits,
    tenant: Arc<Tenant>,
    component_log: LogSink,
}

impl TenantState {
    /// The state for one call on behalf of `tenant`, with outgoing HTTP
    /// filtered by `policy` and memory capped by `limits`.
    pub fn new(tenant: Arc<Tenant>, policy: Arc<HttpPolicy>, limits: StoreLimits) -> TenantState {
        // Standard error is inherited so that a panicking component leaves a
        // message; the component never writes secrets there.
        let wasi = WasiCtx::builder().inherit_stderr().build();
        let log = tenant.log().clone();
        TenantState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: PolicyHooks::new(policy, log.clone()),
            limits,
            component_log: log.with_context("component"),
            tenant,
        }
    }

    /// The tenant this call runs for.
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }

    /// Where the component's own log lines go.
    pub(crate) fn component_log(&self) -> &LogSink {
        &self.component_log
    }
}

impl WasiView for TenantState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for TenantState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
