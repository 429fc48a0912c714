//! The `rooms-sync` command line.
//!
//! ```text
//! rooms-sync --tenant DIR person add EMAIL --mode O365|O365Pull [--sync-url URL] [--conflict Rollback|Cancel] [--room [--sync-master]]
//! rooms-sync --tenant DIR person list [--json]
//! rooms-sync --tenant DIR person remove EMAIL
//! rooms-sync --tenant DIR check [--person EMAIL] [--summary] [--json] [--public-url URL] [--subscription-wait-secs N]
//! rooms-sync --tenant DIR booking list|occurrences|add|update|cancel|skip|move|conflicts|outbox|quarantine ...
//! rooms-sync --tenant DIR run [--person EMAIL] [--json]
//! rooms-sync --tenant DIR diff --person EMAIL [--from DATE] [--to DATE] [--json] [--resolve ID use-exchange|use-rooms|ignore]
//! rooms-sync serve --tenants DIR [--listen ADDR] [--public-url URL] [--log-format text|json] [--rescan-secs N] [--webhook-rate N] [--webhook-burst N]
//! ```
//!
//! The `person`, `booking`, `run` and `check` commands live in
//! [`crate::commands`]; their options and JSON shapes are documented there.
//! `serve` is the sync service of every tenant under a directory
//! ([`crate::service`]); it takes no `--tenant`, every other command needs
//! one.
//!
//! [`run`] is the whole program behind `main`, taking the arguments, the
//! environment and the output streams, so tests drive it in-process and assert
//! on what an operator would see. Exit codes: 0 all green, 1 a check is red,
//! 2 bad arguments, settings or tenant directory.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::commands::booking::{self, BookingCommand};
use crate::commands::person::{self, PersonCommand};
use crate::http_policy::HttpLimits;
use crate::log::{Level, LogFormat, LogSink};
use crate::runtime::{RunLimits, RuntimeOptions, default_cache_dir, locate_component};
use crate::secrets::SecretScope;
use crate::settings::{EnvSource, TenantInputs};

/// Exit code: every check green.
pub const EXIT_OK: i32 = 0;
/// Exit code: at least one check red.
pub const EXIT_RED: i32 = 1;
/// Exit code: bad arguments, settings or tenant directory.
pub const EXIT_USAGE: i32 = 2;

/// Exchange Online calendar sync of ROOMS, as a sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "rooms-sync", version, about, long_about = None)]
struct Cli {
    /// The tenant directory: RoomsAppSettings.config, rooms.db (created on
    /// first use) and certs/. Needed by every command but `serve`.
    #[arg(long, value_name = "DIR")]
    tenant: Option<PathBuf>,

    #[command(flatten)]
    runtime: RuntimeArgs,

    #[command(flatten)]
    inputs: InputArgs,

    /// Log level on stderr: error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", default_value = "warn", value_parser = parse_level)]
    log_level: Level,

    /// Colour the output: auto (when stdout is a terminal), always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct RuntimeArgs {
    /// The sync component (.wasm). Default: $ROOMS_SYNC_COMPONENT, beside
    /// this program, or the workspace build output.
    #[arg(long, value_name = "PATH")]
    component: Option<PathBuf>,

    /// Where precompiled components are cached. Default:
    /// $ROOMS_SYNC_CACHE_DIR, $XDG_CACHE_HOME/rooms-sync or ~/.cache/rooms-sync.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile the component on every start instead of using the cache.
    #[arg(long)]
    no_cache: bool,

    /// Use the pooling instance allocator.
    #[arg(long)]
    pooling: bool,

    /// Memory cap of each component instance, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    memory_limit_mib: u32,

    /// Deadline of each call into the component, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..=86400))]
    call_timeout_secs: u32,

    /// Connect timeout of outgoing HTTP requests, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=600))]
    connect_timeout_secs: u32,

    /// First-byte timeout of outgoing HTTP requests, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=600))]
    response_timeout_secs: u32,

    /// Largest accepted HTTP response body, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_response_mib: u32,
}

/// Where a tenant's settings and secrets may come from; the same for every
/// tenant of the process.
#[derive(Debug, Args)]
struct InputArgs {
    /// Also allow `file:` secrets inside DIR (besides the tenant directory).
    /// Repeatable.
    #[arg(long = "secrets-dir", value_name = "DIR")]
    secrets_dirs: Vec<PathBuf>,

    /// Allow `env:` secrets from environment variables whose name starts with
    /// PREFIX (case-sensitive). Repeatable. Without it, `env:` is refused.
    #[arg(long = "secret-env-prefix", value_name = "PREFIX")]
    secret_env_prefixes: Vec<String>,

    /// Let an environment variable named like a settings key override it, for
    /// every tenant of this process. Off by default.
    #[arg(long)]
    env_overrides: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the persons and rooms whose calendars sync.
    #[command(subcommand)]
    Person(PersonCommand),
    /// The ROOMS side of bookings: list, add, change, cancel; occurrences;
    /// conflicts, outbox and quarantine. Changes only ROOMS: the next run
    /// writes them to Exchange.
    #[command(subcommand)]
    Booking(Box<BookingCommand>),
    /// One two-way sync cycle: Exchange changes into ROOMS, then ROOMS
    /// changes to Exchange, per person.
    Run {
        /// Only this person (default: all).
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the sync test of every person (or one), up to
    /// SyncMaxConcurrentMailboxes at once; also reports the days left until
    /// EWS in Exchange Online ends and warns about password sign-in (ROPC).
    Check {
        /// Only this person (default: all).
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The tenant report: the red checks grouped by cause, each with
        /// its fix once and its mailboxes, largest group first.
        #[arg(long)]
        summary: bool,
        /// The address of the running `rooms-sync serve` as Exchange
        /// reaches it (as given to `serve --public-url`): the `subscription`
        /// check of push (O365) persons subscribes to
        /// URL/api/webhooks/exchange/<tenant> unless the tenant sets
        /// ExchangePushNotificationEndpointUrl; with neither it is skipped.
        #[arg(long, value_name = "URL", value_parser = http_url)]
        public_url: Option<String>,
        /// How long the `subscription` check of a push person waits for
        /// the service to receive Exchange's notification, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = crate::calls::subscription_check::DEFAULT_WAIT_SECS, value_parser = clap::value_parser!(u32).range(1..=600))]
        subscription_wait_secs: u32,
    },
    /// Where ROOMS and Exchange disagree for one person: bookings against
    /// calendar items, field by field, series occurrences included. Exit 0
    /// no differences, 1 some, 2 bad input.
    Diff(DiffArgs),
    /// The sync service: every tenant directory under --tenants, push and
    /// pull subscriptions, the webhook, /healthz and /metrics. Runs until
    /// SIGTERM or SIGINT.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The person or room whose calendar is compared.
    #[arg(long, value_name = "EMAIL")]
    person: String,
    /// First day compared, YYYY-MM-DD (UTC; default: today - 30 days).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Last day compared, YYYY-MM-DD, included (default: today + 365
    /// days). A booking or item counts when it overlaps the days, a series
    /// when its range does.
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Settle one difference: ID is a booking id, or for an item missing in
    /// ROOMS its ItemId or UID (use-exchange imports it, ignore hides it).
    /// use-exchange: ROOMS takes the Exchange state; use-rooms: Exchange
    /// takes the ROOMS state; ignore: hidden until either side changes.
    #[arg(long, num_args = 2, value_names = ["ID", "use-exchange|use-rooms|ignore"])]
    resolve: Option<Vec<String>>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The directory of tenant directories (each with
    /// RoomsAppSettings.config or appsettings.json).
    #[arg(long, value_name = "DIR")]
    tenants: PathBuf,
    /// Where the HTTP server listens (webhook, /healthz, /metrics); port 0
    /// lets the system pick.
    #[arg(long, value_name = "ADDR", default_value = crate::service::DEFAULT_LISTEN)]
    listen: String,
    /// The service's address as Exchange reaches it; push callbacks are
    /// URL/api/webhooks/exchange/<tenant> unless a tenant sets
    /// ExchangePushNotificationEndpointUrl.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Log lines as text or as JSON objects, one per line.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    log_format: LogFormatArg,
    /// How often the tenants directory is scanned for changes, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=3600))]
    rescan_secs: u32,
    /// Webhook posts per second accepted from one peer address (behind a
    /// reverse proxy: from the proxy); more are answered 429.
    #[arg(long, value_name = "N", default_value_t = crate::service::webhook::RATE_PER_SECOND, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    webhook_rate: u32,
    /// Webhook posts one peer address may send at once before
    /// --webhook-rate applies.
    #[arg(long, value_name = "N", default_value_t = crate::service::webhook::RATE_BURST, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    webhook_burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s)
        .ok_or_else(|| format!("`{s}` is not a log level; use error, warn, info, debug or trace"))
}

/// Where `run` writes: stdout, stderr, and whether stdout is a terminal.
pub struct Output<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// True when `out` is a terminal (enables colour in `--color auto`).
    pub out_is_terminal: bool,
}

/// Runs `rooms-sync` with `args` (including the program name) and returns the
/// exit code. `env` supplies environment overrides of settings and `env:`
/// secrets; `log` receives log lines (already filtered by `--log-level` when
/// built by `main`).
pub async fn run(
    args: Vec<OsString>,
    env: Arc<dyn EnvSource + Send + Sync>,
    log: Option<LogSink>,
    output: Output<'_>,
) -> i32 {
    let cli = match parse(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let text = e.render().to_string();
            let target: &mut dyn Write = if e.use_stderr() {
                output.err
            } else {
                output.out
            };
            let _ = target.write_all(text.as_bytes());
            return code;
        }
    };
    let log_format = match &cli.command {
        Command::Serve(args) if args.log_format == LogFormatArg::Json => LogFormat::Json,
        _ => LogFormat::Text,
    };
    let log = log.unwrap_or_else(|| LogSink::stderr_as(cli.log_level, log_format));
    if let Command::Serve(args) = &cli.command {
        let result = serve(&cli, args, env, log, output.out).await;
        return match result {
            Ok(code) => code,
            Err(e) => {
                let _ = writeln!(output.err, "error: {e:#}");
                EXIT_USAGE
            }
        };
    }
    // Every other command has a tenant (checked by `parse`).
    let tenant = cli.tenant.clone().unwrap_or_default();
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => output.out_is_terminal && env.var("NO_COLOR").is_none(),
    };
    let result = match &cli.command {
        Command::Person(cmd) => person::run(&tenant, cmd, output.out),
        Command::Booking(cmd) => booking::run(&tenant, cmd.as_ref(), output.out),
        Command::Run { person, json } => {
            let progress_on = std::io::stderr().is_terminal();
            let inputs = tenant_inputs(&cli.inputs);
            let options = runtime_options(&cli.runtime);
            match (inputs, options) {
                (Ok(inputs), Ok(options)) => {
                    let mut stderr = std::io::stderr();
                    commands::run::run(
                        &tenant,
                        inputs,
                        &options,
                        env,
                        log,
                        commands::run::RunArgs {
                            only: person.as_deref(),
                            json: *json,
                            color,
                        },
                        commands::run::RunOutput {
                            out: output.out,
                            progress: if progress_on { Some(&mut stderr) } else { None },
                        },
                    )
                    .await
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        Command::Check {
            person,
            json,
            summary,
            public_url,
            subscription_wait_secs,
        } => {
            let progress_on = std::io::stderr().is_terminal();
            let inputs = tenant_inputs(&cli.inputs);
            let options = runtime_options(&cli.runtime);
            match (inputs, options) {
                (Ok(inputs), Ok(options)) => {
                    let mut stderr = std::io::stderr();
                    commands::check::run(
                        &tenant,
                        inputs,
                        &options,
                        env,
                        log,
                        commands::check::CheckArgs {
                            only: person.as_deref(),
                            json: *json,
                            summary: *summary,
                            color,
                            public_url: public_url.as_deref(),
                            subscription_wait_secs: *subscription_wait_secs,
                        },
                        commands::check::CheckOutput {
                            out: output.out,
                            progress: if progress_on { Some(&mut stderr) } else { None },
                        },
                    )
                    .await
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        Command::Diff(args) => {
            let inputs = tenant_inputs(&cli.inputs);
            let options = runtime_options(&cli.runtime);
            let resolve = match args.resolve.as_deref() {
                None => Ok(None),
                Some([id, choice]) => match choice.as_str() {
                    "use-exchange" => Ok(Some((id.as_str(), commands::diff::Choice::UseExchange))),
                    "use-rooms" => Ok(Some((id.as_str(), commands::diff::Choice::UseRooms))),
                    "ignore" => Ok(Some((id.as_str(), commands::diff::Choice::Ignore))),
                    other => Err(anyhow::anyhow!(
                        "--resolve {id} {other}: the resolution is use-exchange, use-rooms or ignore"
                    )),
                },
                Some(_) => Err(anyhow::anyhow!("--resolve takes ID and a resolution")),
            };
            match (inputs, options, resolve) {
                (Ok(inputs), Ok(options), Ok(resolve)) => {
                    commands::diff::run(
                        &tenant,
                        inputs,
                        &options,
                        env,
                        log,
                        commands::diff::DiffArgs {
                            person: &args.person,
                            from: args.from.as_deref(),
                            to: args.to.as_deref(),
                            json: args.json,
                            color,
                            resolve,
                        },
                        output.out,
                    )
                    .await
                }
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
            }
        }
        Command::Serve(_) => unreachable!("served above"),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(output.err, "error: {e:#}");
            EXIT_USAGE
        }
    }
}

/// Parses the arguments. `--tenant` is optional for `serve` only: for any
/// other command without it, the arguments are parsed again with
/// `--tenant` required, so clap reports it missing exactly as before.
fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let cli = Cli::try_parse_from(args.clone())?;
    if cli.tenant.is_some() || matches!(cli.command, Command::Serve(_)) {
        return Ok(cli);
    }
    let matches = Cli::command()
        .mut_arg("tenant", |arg| arg.required(true))
        .try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

async fn serve(
    cli: &Cli,
    args: &ServeArgs,
    env: Arc<dyn EnvSource + Send + Sync>,
    log: LogSink,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    if let Some(tenant) = &cli.tenant {
        anyhow::bail!(
            "serve takes no --tenant ({}); it serves every tenant directory under --tenants DIR",
            tenant.display()
        );
    }
    let options = crate::service::ServeOptions {
        tenants: args.tenants.clone(),
        listen: args.listen.clone(),
        public_url: args.public_url.clone(),
        rescan: Duration::from_secs(args.rescan_secs.into()),
        inputs: tenant_inputs(&cli.inputs)?,
        runtime: runtime_options(&cli.runtime)?,
        webhook_rate: args.webhook_rate.into(),
        webhook_burst: args.webhook_burst.into(),
    };
    crate::service::serve(options, env, log, out).await
}

fn tenant_inputs(args: &InputArgs) -> anyhow::Result<TenantInputs> {
    let mut secrets = SecretScope::new();
    for dir in &args.secrets_dirs {
        secrets = secrets.allow_dir(dir)?;
    }
    for prefix in &args.secret_env_prefixes {
        secrets = secrets.allow_env_prefix(prefix)?;
    }
    Ok(TenantInputs {
        secrets,
        env_overrides: args.env_overrides,
    })
}

fn runtime_options(args: &RuntimeArgs) -> anyhow::Result<RuntimeOptions> {
    let component = match &args.component {
        Some(path) => path.clone(),
        None => locate_component()?,
    };
    Ok(RuntimeOptions {
        component,
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir.clone().or_else(default_cache_dir)
        },
        pooling: args.pooling,
        limits: RunLimits {
            memory_bytes: (args.memory_limit_mib as usize) << 20,
            call_deadline: Duration::from_secs(args.call_timeout_secs.into()),
            http: HttpLimits {
                max_response_bytes: u64::from(args.max_response_mib) << 20,
                connect_timeout: Duration::from_secs(args.connect_timeout_secs.into()),
                first_byte_timeout: Duration::from_secs(args.response_timeout_secs.into()),
                ..HttpLimits::default()
            },
        },
    })
}

/// `--public-url` of `check`: an absolute `http` or `https` URL.
fn http_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(trimmed.to_owned()),
        _ => Err(format!(
            "'{value}' is not an absolute http(s) URL; give the service's address as Exchange \
             reaches it, e.g. https://rooms.contoso.com"
        )),
    }
}
