//! SIGTERM and SIGINT: how the service learns it must stop.
//!
//! The handlers are installed before the service says it is listening, so
//! a signal sent right after that line is never lost. What stopping does is
//! in [`super`]: close the listener, stop scheduling, let the calls in
//! flight finish (each bounded by its deadline) and store what they
//! returned, log `stopped`, exit 0.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The installed handlers.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Installs the handlers of SIGTERM and SIGINT.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next signal and names it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
