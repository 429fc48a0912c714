//! The data of one tenant's `Store`: what a component instance can reach.
//!
//! A [`TenantState`] is born for every call (see
//! [`Runtime::new_store`](crate::runtime::Runtime::new_store)) and dies with
//! the call. It holds the WASI context (no files, no sockets, no environment,
//! no arguments), the `wasi:http` context with the tenant's
//! [`PolicyHooks`], the resource limits ([`CallLimiter`]), a budget for the
//! component's log lines, the record of the call's waits
//! ([`Pacing`]), and a handle to the tenant's long-lived data ([`Tenant`]).
//! Each capability gets a narrow view of it.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capabilities::pacing::{Pacing, SKIP_WAITS, TEST_CLOCK_VAR};
use crate::http_policy::{HttpPolicy, PolicyHooks};
use crate::log::LogSink;
use crate::tenant::Tenant;

/// Store data of one call into one tenant's component instance.
pub struct TenantState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: PolicyHooks,
    pub(crate) limits: CallLimiter,
    pub(crate) log_budget: LogBudget,
    pub(crate) pacing: Pacing,
    tenant: Arc<Tenant>,
    component_log: LogSink,
}

impl TenantState {
    /// The state for one call on behalf of `tenant`, with outgoing HTTP
    /// filtered by `policy` and memory capped by `limits`.
    pub fn new(tenant: Arc<Tenant>, policy: Arc<HttpPolicy>, limits: CallLimiter) -> TenantState {
        // Standard error is inherited so that a panicking component leaves a
        // message; the component never writes secrets there.
        let wasi = WasiCtx::builder().inherit_stderr().build();
        let log = tenant.log().clone();
        let skip_waits = tenant.env().var(TEST_CLOCK_VAR).as_deref() == Some(SKIP_WAITS);
        TenantState {
            pacing: Pacing::new(limits.call_deadline, skip_waits),
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: PolicyHooks::with_pool(policy, tenant.pool().clone(), log.clone()),
            limits,
            log_budget: LogBudget::default(),
            component_log: log.with_context("component"),
            tenant,
        }
    }

    /// The tenant this call runs for.
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }

    /// Prepares the state for the next call on a reused instance: a fresh
    /// log budget, no memory refusal remembered from an earlier call, and
    /// the waits' deadline counted from now.
    pub fn begin_call(&mut self) {
        self.log_budget = LogBudget::default();
        self.limits.refused = None;
        self.pacing.begin_call();
    }

    /// The waits of the current call (see [`crate::capabilities::pacing`]).
    pub fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    /// Where the component's own log lines go.
    pub(crate) fn component_log(&self) -> &LogSink {
        &self.component_log
    }

    /// Puts the person of the next calls on the component's log lines: a
    /// call about one person logs with its person (in a batch call, the
    /// tenant's person index finds the person a line names, see
    /// [`crate::log::PersonIndex`]).
    pub(crate) fn set_log_persons(&mut self, persons: &[&str]) {
        let base = self.tenant.log().with_context("component");
        self.component_log = match persons {
            [email] => base.with_field("person", email),
            _ => base,
        };
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

/// The resource limiter of one call: caps linear memory and remembers a
/// refused growth, so that the trap it causes can be reported as the memory
/// cap rather than guessed from the error text.
#[derive(Debug, Clone)]
pub struct CallLimiter {
    memory_bytes: usize,
    refused: Option<usize>,
    /// The wall-clock deadline of a call, which bounds the component's waits
    /// ([`crate::capabilities::pacing`]); 120 s unless set.
    call_deadline: Duration,
}

impl CallLimiter {
    /// A limiter that caps linear memory at `memory_bytes`.
    pub fn new(memory_bytes: usize) -> CallLimiter {
        CallLimiter {
            memory_bytes,
            refused: None,
            call_deadline: Duration::from_secs(120),
        }
    }

    /// The same limiter, for calls that may last `deadline`.
    pub fn with_call_deadline(mut self, deadline: Duration) -> CallLimiter {
        self.call_deadline = deadline;
        self
    }

    /// The size (bytes) of a memory growth that was refused, if any.
    pub fn refused_growth(&self) -> Option<usize> {
        self.refused
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.refused = Some(desired);
            // An error (not `Ok(false)`) traps at once instead of letting
            // the component's allocator abort with a less useful message.
            wasmtime::bail!(
                "memory cap of {} bytes reached (the component asked for {desired})",
                self.memory_bytes
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        8
    }
}

/// How much the component may log in one call: lines and bytes. The log
/// lines are copied into host memory, outside the component's memory cap, so
/// a component that logs in a loop must not be able to fill the host.
#[derive(Debug, Clone)]
pub struct LogBudget {
    lines_left: usize,
    bytes_left: usize,
    dropped: usize,
}

/// Whether a log line may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogAdmission {
    /// Write it.
    Write,
    /// The first line over the budget: write a note instead.
    Exhausted,
    /// Drop it silently (the note was written).
    Drop,
}

impl LogBudget {
    /// Lines one call may write.
    pub const MAX_LINES: usize = 2_000;
    /// Bytes one call may write.
    pub const MAX_BYTES: usize = 1 << 20;
    /// Longest line, in characters; longer lines are cut.
    pub const MAX_LINE_CHARS: usize = 4 * 1024;

    /// Counts a line of `len` bytes against the budget.
    pub fn admit(&mut self, len: usize) -> LogAdmission {
        let len = len.min(Self::MAX_LINE_CHARS * 4);
        if self.lines_left > 0 && self.bytes_left >= len {
            self.lines_left -= 1;
            self.bytes_left -= len;
            return LogAdmission::Write;
        }
        self.dropped += 1;
        if self.dropped == 1 {
            LogAdmission::Exhausted
        } else {
            LogAdmission::Drop
        }
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> usize {
        self.dropped
    }
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            lines_left: Self::MAX_LINES,
            bytes_left: Self::MAX_BYTES,
            dropped: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_budget_admits_lines_until_either_limit_then_notes_once() {
        let mut budget = LogBudget::default();
        for _ in 0..LogBudget::MAX_LINES {
            assert_eq!(budget.admit(10), LogAdmission::Write);
        }
        assert_eq!(budget.admit(10), LogAdmission::Exhausted);
        assert_eq!(budget.admit(10), LogAdmission::Drop);
        assert_eq!(budget.dropped(), 2);

        let mut budget = LogBudget::default();
        let line = LogBudget::MAX_LINE_CHARS * 4;
        let fit = LogBudget::MAX_BYTES / line;
        for _ in 0..fit {
            assert_eq!(budget.admit(12 << 20), LogAdmission::Write);
        }
        assert_eq!(budget.admit(line), LogAdmission::Exhausted);
    }

    #[test]
    fn memory_growth_over_the_cap_is_refused_and_remembered() {
        let mut limiter = CallLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(limiter.memory_growing(1 << 20, 2 << 20, None).is_err());
        assert_eq!(limiter.refused_growth(), Some(2 << 20));
    }
}
