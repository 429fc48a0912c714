//! `exo-emulator`: runs the Exchange Online + Entra ID emulator.
//!
//! Prints its base URL (`http://127.0.0.1:PORT`) as the first line of stdout, then serves until
//! SIGINT or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use exo_emulator::{Emulator, Seed};

/// Exchange Online + Entra ID emulator for rooms-sync tests and demos.
#[derive(Debug, Parser)]
#[command(name = "exo-emulator", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The seed file (TOML): tenants, apps, mailboxes, permissions, policies, settings.
    #[arg(long)]
    seed: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let seed = match Seed::load(&args.seed) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("exo-emulator: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(seed, args.listen).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("exo-emulator: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    // Install the signal handlers before announcing the URL, so that a supervisor that signals
    // right after reading it is heard.
    let signals = Signals::install();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", emulator.base_url());
    let _ = out.flush();
    eprintln!(
        "exo-emulator: serving EWS at {} (token endpoint {}/{{tenant}}/oauth2/v2.0/token); stop with Ctrl-C",
        emulator.ews_url(),
        emulator.base_url()
    );
    signals.wait().await;
    emulator.shutdown().await;
    std::process::ExitCode::SUCCESS
}

/// SIGINT and SIGTERM listeners.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        {
            let term = async {
                match self.term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match self.int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            };
            tokio::select! {
                _ = term => {}
                _ = int => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
