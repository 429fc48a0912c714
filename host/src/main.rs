//! `rooms-sync`: the command line of the host. Everything happens in
//! [`rooms_sync_host::cli::run`]; this file only wires the process to it.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use rooms_sync_host::cli::{Output, run};
use rooms_sync_host::settings::ProcessEnv;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
