//! Exchange Online + Entra ID emulator: the test bed and demo target of rooms-sync.
//!
//! It behaves like the real services, strictly: an Entra ID v2 token endpoint
//! (`/{tenant}/oauth2/v2.0/token`: client secret, certificate assertion, ROPC, rotating refresh
//! tokens, Entra-shaped errors) and an EWS endpoint (`/EWS/Exchange.asmx`: bearer tokens,
//! impersonation rules, EWSEnabled/allow-list/access-policy blocks, throttling, SOAP faults), plus
//! an admin API (`/admin/...`) for tests. It shares no code with the rooms-sync guest.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use exo_emulator::{Emulator, Seed};
//! let seed = Seed::load("tests/emulator/seeds/demo.toml")?;
//! let emu = Emulator::start(seed, "127.0.0.1:0".parse()?).await?;
//! println!("token endpoint: {}", emu.token_endpoint("contoso.com"));
//! println!("EWS: {}", emu.ews_url());
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`seed`]: the seed file (TOML) and its validation.
//! - [`directory`]: tenants, apps, mailboxes, permissions, policies; look-ups and rights.
//! - [`oauth`]: the token endpoint, client assertions, access tokens.
//! - [`ews`]: the EWS pipeline, SOAP DOM and writer, operations (one file each).
//! - [`calendar`]: the calendar store (items, recurrence, journal, subscriptions).
//! - [`admin`]: the admin API.
//! - [`push`]: delivery of push notifications to subscribers' callback URLs.
//! - [`faults`], [`request_log`], [`clock`]: fault injection, request log, emulator clock.
//! - [`server`]: HTTP server and [`RunningEmulator`]; [`state`]: shared state.
//! - [`client`]: a minimal independent HTTP/1.1 client for tests, benchmarks and the demo.

pub mod admin;
pub mod calendar;
pub mod client;
pub mod clock;
pub mod directory;
pub mod ews;
pub mod faults;
pub mod oauth;
pub mod push;
pub mod reply;
pub mod request_log;
pub mod seed;
pub mod server;
pub mod state;
pub mod util;

pub use faults::{ErrorShape, FaultAction, FaultEndpoint, FaultSpec};
pub use request_log::{LogEntry, LogFilter};
pub use seed::Seed;
pub use server::{Emulator, RunningEmulator};
