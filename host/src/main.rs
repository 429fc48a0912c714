//! `rooms-sync`: the command line of the host. Everything happens in
//! [`rooms_sync_host::cli::run`]; this file only wires the process to it.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use rooms_sync_host::cli::{Output, run};
use rooms_sync_host::settings::ProcessEnv;

fn main() -> ExitCode {
    // One thread: a tenant's calls run one after the other, and the
    // component waits on wasi:http tasks twice per request; on one thread
    // those wake-ups stay cheap (about 80 µs less per check than with two
    // workers, measured with the guest's harness).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let out_is_terminal = stdout.is_terminal();
    let (mut out, mut err) = (stdout.lock(), std::io::stderr());
    let code = runtime.block_on(run(
        std::env::args_os().collect(),
        Arc::new(ProcessEnv),
        None,
        Output {
            out: &mut out,
            err: &mut err,
            out_is_terminal,
        },
    ));
    ExitCode::from(code as u8)
}
