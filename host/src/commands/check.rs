//! `rooms-sync --tenant DIR check [--person EMAIL] [--summary] [--json]
//! [--public-url URL] [--subscription-wait-secs N]`: the sync test of every
//! person of the tenant (or one), and the tenant report.
//!
//! The fifth check, `subscription`, needs the running service for push
//! persons: `--public-url` (as given to `serve`) or the tenant's
//! `ExchangePushNotificationEndpointUrl` names its webhook, and the check
//! waits up to `--subscription-wait-secs` (default 30) for a notification
//! to reach it ([`calls::subscription_check`]). Without either it is
//! skipped: green, its message starting `skipped:`.
//!
//! The persons are tested in up to `SyncMaxConcurrentMailboxes` component
//! instances at once ([`calls::check_each`]); the reports keep the persons'
//! order. Every text that came from the component has passed
//! [`operator_text`](crate::text::operator_text) in [`calls`] before it is
//! printed here.
//!
//! # Output
//!
//! Text: each person with its checks, `[ OK ]` or `[FAIL]`, message and fix.
//! With `--summary`, instead, the red checks grouped by cause (see
//! [`summarize`]): `17 mailboxes: HTTP 403, blocked by tenant policy`, what
//! was found and the fix once per group (the mailbox written `<mailbox>`),
//! then the mailboxes (at most [`TEXT_MAILBOXES`]; `--json` lists all),
//! groups largest first, and the number of green mailboxes.
//!
//! Every `check` also reports how many days are left until EWS in Exchange
//! Online ends ([`EWS_END`], 1 April 2027), and warns when the tenant (or a
//! domain override) signs in a delegated service user with user name and
//! password (ROPC), which MFA, Conditional Access and federated accounts
//! break. Warnings do not change the exit code.
//!
//! `--json` (a contract: fields are only ever added; keys in alphabetical
//! order):
//!
//! ```text
//! {"persons":[{"email","checks":[{"name","ok","message","fix","code"}]}],
//!  "ews_retirement":{"date","days_left"},
//!  "warnings":[{"code","message","fix"}]}
//! ```
//!
//! `--summary --json`:
//!
//! ```text
//! {"totals":{"persons","green","red"},
//!  "groups":[{"check","code","title","message","fix","count","mailboxes":[..]}],
//!  "ews_retirement":{"date","days_left"},
//!  "warnings":[{"code","message","fix"}]}
//! ```
//!
//! # The date
//!
//! The days left are counted from today's date in UTC. `ROOMS_SYNC_TODAY`
//! (`YYYY-MM-DD`) replaces today's date: it exists for tests only, so that
//! their expectations do not change with the calendar.
//!
//! # Progress
//!
//! With more than one person and a `progress` stream (the CLI passes
//! standard error when it is a terminal), a line `[k/n] EMAIL: ok` or
//! `[k/n] EMAIL: red (CODE)` goes there as each person finishes. Standard
//! output carries only the report.
//!
//! # Exit codes
//!
//! [`EXIT_OK`] (0) when every check is green (also with no persons),
//! [`EXIT_RED`] (1) when a check is red; bad input (settings, tenant
//! directory, database, component, `ROOMS_SYNC_TODAY`) is an `Err`, which the
//! CLI prints and exits with 2.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use jiff::civil::Date;

use crate::calls::subscription_check::{DEFAULT_WAIT_SECS, SubscriptionOptions};
use crate::calls::{self, CheckProgress, CheckReport, PersonReport};
use crate::log::LogSink;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::settings::{Auth, EnvSource, TenantInputs, TenantSettings};
use crate::tenant::Tenant;

/// Exit code: every check green.
pub const EXIT_OK: i32 = 0;
/// Exit code: at least one check red.
pub const EXIT_RED: i32 = 1;

/// The day EWS in Exchange Online is switched off for good, with no
/// exceptions (Microsoft, "Exchange Online EWS, your time is almost up",
/// <https://techcommunity.microsoft.com/blog/exchange/exchange-online-ews-your-time-is-almost-up/4492361>).
pub const EWS_END: Date = jiff::civil::date(2027, 4, 1);

/// Where Microsoft announced [`EWS_END`].
pub const EWS_END_URL: &str = "https://techcommunity.microsoft.com/blog/exchange/exchange-online-ews-your-time-is-almost-up/4492361";

/// The environment variable that replaces today's date (`YYYY-MM-DD`).
/// For tests only.
pub const TODAY_VAR: &str = "ROOMS_SYNC_TODAY";

/// The most mailboxes a group lists in the text summary.
pub const TEXT_MAILBOXES: usize = 10;

/// What `check` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckArgs<'a> {
    /// `--person EMAIL`: only this person (default: all).
    pub only: Option<&'a str>,
    /// `--json`: print JSON instead of text.
    pub json: bool,
    /// `--summary`: group the red checks by cause instead of listing persons.
    pub summary: bool,
    /// Colour the text output (`--color`, resolved by the CLI).
    pub color: bool,
    /// `--public-url URL`: the running service's address, for the
    /// `subscription` check of push persons.
    pub public_url: Option<&'a str>,
    /// `--subscription-wait-secs`: the longest wait for a push
    /// notification (0 is read as the default).
    pub subscription_wait_secs: u32,
}

/// Where `check` writes.
pub struct CheckOutput<'a> {
    /// The report (standard output).
    pub out: &'a mut dyn Write,
    /// Progress lines; `Some` only when standard error is a terminal.
    pub progress: Option<&'a mut dyn Write>,
}

/// The `check` command: opens the tenant and the component runtime, tests
/// every person ([`calls::check_each`]), prints the report and returns the
/// exit code. Bad input is an `Err` (exit 2 in the CLI).
pub async fn run(
    tenant_dir: &Path,
    inputs: TenantInputs,
    options: &RuntimeOptions,
    env: Arc<dyn EnvSource + Send + Sync>,
    log: LogSink,
    args: CheckArgs<'_>,
    output: CheckOutput<'_>,
) -> anyhow::Result<i32> {
    let today = today(env.as_ref())?;
    let (tenant, runtime) = super::run::open(tenant_dir, inputs, options, env, &log)?;
    check_tenant(&tenant, &runtime, today, args, output).await
}

/// The `check` command on an open tenant and runtime, with `today`'s date.
pub async fn check_tenant(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    today: Date,
    args: CheckArgs<'_>,
    output: CheckOutput<'_>,
) -> anyhow::Result<i32> {
    let CheckOutput { out, progress } = output;
    let mut progress = progress;
    let subscription = SubscriptionOptions {
        public_url: args.public_url.map(str::to_owned),
        wait_secs: match args.subscription_wait_secs {
            0 => DEFAULT_WAIT_SECS,
            secs => secs,
        },
    };
    let reports = calls::check_each(tenant, runtime, args.only, &subscription, &mut |event| {
        if let Some(err) = progress.as_deref_mut() {
            // Progress is best effort: a closed terminal does not stop the test.
            let _ = write_progress(err, &event);
        }
    })
    .await?;
    let retirement = EwsRetirement::on(today);
    let warnings = warnings(tenant.settings());
    match (args.summary, args.json) {
        (false, true) => writeln!(
            out,
            "{}",
            serde_json::json!({
                "persons": reports,
                "ews_retirement": retirement,
                "warnings": warnings,
            })
        )?,
        (true, true) => writeln!(
            out,
            "{}",
            serde_json::json!({
                "totals": Totals::of(&reports),
                "groups": summarize(&reports),
                "ews_retirement": retirement,
                "warnings": warnings,
            })
        )?,
        (summary, false) => {
            if reports.is_empty() {
                writeln!(
                    out,
                    "no persons to check; add one with `rooms-sync --tenant {} person add EMAIL --mode O365`",
                    tenant.dir().display()
                )?;
            } else if summary {
                render_summary(&reports, args.color, out)?;
            } else {
                render_reports(&reports, args.color, out)?;
            }
            render_notes(&retirement, &warnings, args.color, out)?;
        }
    }
    Ok(exit_code(&reports))
}

/// [`EXIT_OK`] when every check of every person is green (or there are no
/// persons), else [`EXIT_RED`].
pub fn exit_code(reports: &[PersonReport]) -> i32 {
    if reports.iter().all(PersonReport::ok) {
        EXIT_OK
    } else {
        EXIT_RED
    }
}

/// Today's date in UTC, or the date in [`TODAY_VAR`] when it is set.
pub fn today(env: &dyn EnvSource) -> anyhow::Result<Date> {
    match env.var(TODAY_VAR) {
        Some(text) => text.trim().parse::<Date>().map_err(|e| {
            anyhow::anyhow!(
                "{TODAY_VAR}={text:?} is not a date ({e}); it is for tests only: write it as YYYY-MM-DD, or unset it to use today's date"
            )
        }),
        None => Ok(jiff::tz::TimeZone::UTC
            .to_datetime(jiff::Timestamp::now())
            .date()),
    }
}

/// How long EWS in Exchange Online has left: `ews_retirement` in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EwsRetirement {
    /// [`EWS_END`], `YYYY-MM-DD`.
    #[serde(serialize_with = "iso_date")]
    pub date: Date,
    /// Days from today to [`EWS_END`]: 0 on the day, negative after it.
    pub days_left: i32,
}

impl EwsRetirement {
    /// The days left on `today`.
    pub fn on(today: Date) -> EwsRetirement {
        let days_left = today
            .until(EWS_END)
            .map(|span| span.get_days())
            .unwrap_or(i32::MIN);
        EwsRetirement {
            date: EWS_END,
            days_left,
        }
    }

    /// The text line.
    pub fn line(&self) -> String {
        let end = "EWS in Exchange Online ends on 1 April 2027";
        let then = format!("rooms-sync needs a Microsoft Graph transport by then ({EWS_END_URL})");
        match self.days_left {
            d if d > 1 => format!("{end}: {d} days left; {then}"),
            1 => format!("{end}: 1 day left; {then}"),
            0 => format!("{end}: today; {then}"),
            d => format!(
                "EWS in Exchange Online ended on 1 April 2027, {} day{} ago; rooms-sync needs a Microsoft Graph transport ({EWS_END_URL})",
                -i64::from(d),
                if d == -1 { "" } else { "s" }
            ),
        }
    }
}

/// A date as `YYYY-MM-DD`.
fn iso_date<S: serde::Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(date)
}

/// Something about the tenant that is not a red check but that the admin
/// should act on: an element of `warnings`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// A stable code: `ropc`.
    pub code: &'static str,
    /// What was found.
    pub message: String,
    /// What to change.
    pub fix: String,
}

/// The warnings of a tenant's settings: one `ropc` warning when the tenant,
/// and one per domain override that, signs in a delegated service user
/// with its password.
pub fn warnings(settings: &TenantSettings) -> Vec<Warning> {
    let main = std::iter::once((None, settings.auth()));
    let overrides = settings
        .domain_overrides()
        .map(|d| (Some(d.domain.as_str()), &d.auth));
    main.chain(overrides)
        .filter_map(|(domain, auth)| match auth {
            Auth::Delegated { user, .. } => Some(ropc_warning(domain, user)),
            _ => None,
        })
        .collect()
}

/// The warning for delegated sign-in with the resource owner password
/// credentials grant. What breaks it is Microsoft's list:
/// <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth-ropc>.
fn ropc_warning(domain: Option<&str>, user: &str) -> Warning {
    let scope = match domain {
        None => "Delegated mode (ExchangeUseImpersonation=false)".to_string(),
        Some(domain) => format!("Delegated mode for the mailboxes of {domain} (DomainOverrides)"),
    };
    Warning {
        code: "ropc",
        message: format!(
            "{scope} signs the service user {user} in with its user name and password (ROPC). \
             Entra ID refuses this sign-in as soon as the account needs multi-factor authentication \
             (AADSTS50076, AADSTS50079) or a Conditional Access policy applies to it (AADSTS53003), \
             and it never works for federated or guest accounts: the whole sync stops then"
        ),
        fix: "move to app-only access with a certificate: give the app the application permission \
              full_access_as_app (Office 365 Exchange Online) with admin consent, upload the \
              certificate to the app registration, put it into the tenant's certs/ folder, set \
              ExchangeUseImpersonation=true and ExchangeCertThumbprint, and remove \
              ExchangeServiceUser and ExchangeServicePassword (see the README, Impersonation with \
              a certificate); limit the app to the synced mailboxes with RBAC for Applications"
            .into(),
    }
}

/// The counts of a test: `totals` in `check --summary --json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Persons tested.
    pub persons: usize,
    /// Persons with every check green.
    pub green: usize,
    /// Persons with a red check.
    pub red: usize,
}

impl Totals {
    /// The counts of `reports`.
    pub fn of(reports: &[PersonReport]) -> Totals {
        let green = reports.iter().filter(|r| r.ok()).count();
        Totals {
            persons: reports.len(),
            green,
            red: reports.len() - green,
        }
    }
}

/// The mailboxes that share one cause: an element of `groups`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    /// The check that was red (`calendar-access`, ...).
    pub check: String,
    /// The cause's stable code (`HTTP 403`, `ErrorNonExistentMailbox`,
    /// `AADSTS7000215`, ...; see `run --json`); empty when the check has
    /// none.
    pub code: String,
    /// The code with a few words on it: `HTTP 403, blocked by tenant policy`.
    pub title: String,
    /// What was found, for the first mailbox of the group, each mailbox's
    /// address written `<mailbox>`.
    pub message: String,
    /// The fix, the same for every mailbox of the group once its address is
    /// written `<mailbox>`.
    pub fix: Option<String>,
    /// How many mailboxes.
    pub count: usize,
    /// The mailboxes, in the order of the test.
    pub mailboxes: Vec<String>,
}

/// The order of the checks in a person's test, for sorting groups of the
/// same size; checks not listed come after.
const CHECK_ORDER: [&str; 5] = [
    "configuration",
    "sign-in",
    "calendar-access",
    "write",
    "subscription",
];

/// Groups the red checks of `reports` by cause: mailboxes whose red check
/// has the same name, code and fix (once the mailbox's own address in it is
/// written `<mailbox>`) form a group. A check that was not run because an
/// earlier one was red (no fix) is a consequence, not a cause, and is left
/// out; a mailbox with two causes is in two groups. Largest groups first;
/// groups of the same size in the order of the checks, then by code.
pub fn summarize(reports: &[PersonReport]) -> Vec<Group> {
    let mut groups: BTreeMap<(String, String, Option<String>), Group> = BTreeMap::new();
    for report in reports.iter().filter(|r| !r.ok()) {
        let mut causes: Vec<&CheckReport> = report
            .checks
            .iter()
            .filter(|c| !c.ok && c.fix.is_some())
            .collect();
        if causes.is_empty() {
            causes.extend(report.checks.iter().find(|c| !c.ok));
        }
        for cause in causes {
            let code = cause.code.clone().unwrap_or_default();
            let fix = cause.fix.as_deref().map(|f| generic(f, &report.email));
            let key = (cause.name.clone(), code.clone(), fix.clone());
            groups
                .entry(key)
                .or_insert_with(|| Group {
                    check: cause.name.clone(),
                    title: title(&code, &cause.name),
                    code,
                    message: generic(&cause.message, &report.email),
                    fix,
                    count: 0,
                    mailboxes: Vec::new(),
                })
                .mailboxes
                .push(report.email.clone());
        }
    }
    let mut groups: Vec<Group> = groups
        .into_values()
        .map(|mut g| {
            g.count = g.mailboxes.len();
            g
        })
        .collect();
    let rank = |check: &str| {
        CHECK_ORDER
            .iter()
            .position(|c| *c == check)
            .unwrap_or(CHECK_ORDER.len())
    };
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| rank(&a.check).cmp(&rank(&b.check)))
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.fix.cmp(&b.fix))
    });
    groups
}

/// `text` with every occurrence of `email` (any case) written `<mailbox>`.
fn generic(text: &str, email: &str) -> String {
    if email.is_empty() {
        return text.to_string();
    }
    // ASCII case folding keeps byte offsets, so the match positions in the
    // folded text are those of the original.
    let folded = text.to_ascii_lowercase();
    let needle = email.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = folded[at..].find(&needle) {
        out.push_str(&text[at..at + found]);
        out.push_str("<mailbox>");
        at += found + needle.len();
    }
    out.push_str(&text[at..]);
    out
}

/// `HTTP 403, blocked by tenant policy`: the code and what it means, or the
/// check's name when there is no code.
fn title(code: &str, check: &str) -> String {
    let meaning = match code {
        "" => return format!("{check} failed"),
        "HTTP 403" => "blocked by tenant policy",
        "ErrorAccessDenied" => "access denied",
        "ErrorImpersonateUserDenied" => "impersonation denied",
        "ErrorNonExistentMailbox" | "ErrorMailboxNotFound" => "no such mailbox",
        "ErrorServerBusy" | "ErrorExceededConnectionCount" | "HTTP 429" | "HTTP 503" => {
            "throttled, try again later"
        }
        "HTTP 401" => "token refused by Exchange",
        "configuration" => "a setting or the person's data is wrong",
        "certificate" => "the certificate cannot be used",
        "insufficient-rights" => "too few folder rights",
        "protocol" => "an answer rooms-sync cannot use",
        "transport" => "no usable answer from the server",
        "deadline" => "stopped at the call deadline",
        "memory-limit" => "stopped at the memory cap",
        "component-error" => "the sync component failed",
        "sync-disabled" => "ROOMS stopped syncing",
        "person-unreadable" => "the person's row cannot be read",
        "unknown-person" => "not a person of this tenant",
        c if c.starts_with("AADSTS") => "sign-in refused by Entra ID",
        _ => return code.to_string(),
    };
    format!("{code}, {meaning}")
}

/// One progress line for `event`, when the test has more than one person.
fn write_progress(err: &mut dyn Write, event: &CheckProgress<'_>) -> std::io::Result<()> {
    if event.total < 2 {
        return Ok(());
    }
    let report = event.report;
    let outcome = if report.ok() {
        "ok".to_string()
    } else {
        let code = report
            .checks
            .iter()
            .find(|c| !c.ok)
            .and_then(|c| c.code.as_deref().or(Some(c.name.as_str())))
            .unwrap_or("");
        format!("red ({code})")
    };
    writeln!(
        err,
        "[{}/{}] {}: {outcome}",
        event.done, event.total, report.email
    )
}

/// The colours of the text output: green, red, yellow, dim, reset.
fn palette(color: bool) -> [&'static str; 5] {
    if color {
        ["\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[0m"]
    } else {
        ["", "", "", "", ""]
    }
}

/// Every person with its checks, each with its message and fix.
pub fn render_reports(
    reports: &[PersonReport],
    color: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let [green, red, _, dim, reset] = palette(color);
    let width = reports
        .iter()
        .flat_map(|r| r.checks.iter().map(|c| c.name.len()))
        .max()
        .unwrap_or(0);
    for report in reports {
        writeln!(out, "{}", report.email)?;
        for check in &report.checks {
            let mark = if check.ok {
                format!("{green}[ OK ]{reset}")
            } else {
                format!("{red}[FAIL]{reset}")
            };
            writeln!(out, "  {mark} {:width$}  {}", check.name, check.message)?;
            if let Some(fix) = &check.fix {
                writeln!(out, "         {:width$}  {dim}fix:{reset} {fix}", "")?;
            }
        }
    }
    Ok(())
}

/// The tenant report: the counts, then each group of [`summarize`] with its
/// message, fix and up to [`TEXT_MAILBOXES`] mailboxes.
pub fn render_summary(
    reports: &[PersonReport],
    color: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let [green, red, _, dim, reset] = palette(color);
    let totals = Totals::of(reports);
    writeln!(
        out,
        "{} tested: {green}{} green{reset}, {}{} red{}",
        mailboxes(totals.persons),
        totals.green,
        if totals.red > 0 { red } else { "" },
        totals.red,
        if totals.red > 0 { reset } else { "" },
    )?;
    for group in summarize(reports) {
        writeln!(out)?;
        writeln!(
            out,
            "{red}{}{reset}: {} ({})",
            mailboxes(group.count),
            group.title,
            group.check
        )?;
        writeln!(out, "  {}", group.message)?;
        if let Some(fix) = &group.fix {
            writeln!(out, "  {dim}fix:{reset} {fix}")?;
        }
        for email in group.mailboxes.iter().take(TEXT_MAILBOXES) {
            writeln!(out, "  - {email}")?;
        }
        if group.count > TEXT_MAILBOXES {
            writeln!(
                out,
                "  and {} more (`check --summary --json` lists them all)",
                group.count - TEXT_MAILBOXES
            )?;
        }
    }
    Ok(())
}

/// `1 mailbox`, `17 mailboxes`.
fn mailboxes(n: usize) -> String {
    if n == 1 {
        "1 mailbox".into()
    } else {
        format!("{n} mailboxes")
    }
}

/// The retirement line and the warnings, after a blank line.
fn render_notes(
    retirement: &EwsRetirement,
    warnings: &[Warning],
    color: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let [_, _, yellow, dim, reset] = palette(color);
    writeln!(out)?;
    writeln!(out, "{}", retirement.line())?;
    for warning in warnings {
        writeln!(out, "{yellow}warning:{reset} {}", warning.message)?;
        writeln!(out, "  {dim}fix:{reset} {}", warning.fix)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn green(name: &str) -> CheckReport {
        CheckReport {
            name: name.into(),
            ok: true,
            message: "fine".into(),
            fix: None,
            code: None,
        }
    }

    fn not_run(name: &str) -> CheckReport {
        CheckReport {
            name: name.into(),
            ok: false,
            message: "not run: an earlier check failed".into(),
            fix: None,
            code: None,
        }
    }

    fn blocked(email: &str) -> PersonReport {
        PersonReport {
            email: email.into(),
            checks: vec![
                green("sign-in"),
                CheckReport::red(
                    "calendar-access",
                    "HTTP 403",
                    format!("EWS access blocked by tenant policy for {email}"),
                    format!(
                        "Test-ApplicationAccessPolicy -Identity {} -AppId 5a7e",
                        email.to_uppercase()
                    ),
                ),
                not_run("write"),
            ],
        }
    }

    fn healthy(email: &str) -> PersonReport {
        PersonReport {
            email: email.into(),
            checks: vec![green("sign-in"), green("calendar-access")],
        }
    }

    fn unknown(email: &str) -> PersonReport {
        PersonReport {
            email: email.into(),
            checks: vec![
                green("sign-in"),
                CheckReport::red(
                    "calendar-access",
                    "ErrorNonExistentMailbox",
                    format!("{email} has no mailbox"),
                    "use the primary SMTP address".into(),
                ),
            ],
        }
    }

    #[test]
    fn groups_are_by_cause_largest_first_with_generic_fixes() {
        let reports = vec![
            unknown("ghost@contoso.com"),
            blocked("a@contoso.com"),
            healthy("ok@contoso.com"),
            blocked("b@contoso.com"),
        ];
        let groups = summarize(&reports);
        assert_eq!(groups.len(), 2, "{groups:#?}");
        let first = &groups[0];
        assert_eq!(
            (first.check.as_str(), first.code.as_str(), first.count),
            ("calendar-access", "HTTP 403", 2)
        );
        assert_eq!(first.title, "HTTP 403, blocked by tenant policy");
        assert_eq!(first.mailboxes, ["a@contoso.com", "b@contoso.com"]);
        assert_eq!(
            first.fix.as_deref(),
            Some("Test-ApplicationAccessPolicy -Identity <mailbox> -AppId 5a7e")
        );
        assert_eq!(
            first.message,
            "EWS access blocked by tenant policy for <mailbox>"
        );
        assert_eq!(groups[1].code, "ErrorNonExistentMailbox");
        assert_eq!(groups[1].mailboxes, ["ghost@contoso.com"]);
        assert_eq!(
            Totals::of(&reports),
            Totals {
                persons: 4,
                green: 1,
                red: 3
            }
        );
    }

    #[test]
    fn different_fixes_of_one_code_are_different_groups() {
        let mut alias = unknown("bob@contoso.com");
        alias.checks[1].fix = Some("change the address to robert@contoso.com".into());
        let groups = summarize(&[alias, unknown("x@contoso.com")]);
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().all(|g| g.count == 1));
    }

    #[test]
    fn a_person_without_a_fixable_check_is_grouped_by_its_first_red_check() {
        let odd = PersonReport {
            email: "odd@contoso.com".into(),
            checks: vec![not_run("sign-in")],
        };
        let groups = summarize(&[odd]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].title, "sign-in failed");
        assert_eq!(groups[0].fix, None);
    }

    #[test]
    fn the_text_summary_caps_the_mailboxes() {
        let reports: Vec<PersonReport> = (0..TEXT_MAILBOXES + 3)
            .map(|i| blocked(&format!("room{i:02}@contoso.com")))
            .chain([healthy("ok@contoso.com")])
            .collect();
        let mut out = Vec::new();
        render_summary(&reports, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("14 mailboxes tested: 1 green, 13 red\n"),
            "{text}"
        );
        assert!(
            text.contains("\n13 mailboxes: HTTP 403, blocked by tenant policy (calendar-access)\n"),
            "{text}"
        );
        assert_eq!(text.matches("fix: Test-ApplicationAccessPolicy").count(), 1);
        assert!(text.contains("  - room09@contoso.com\n"), "{text}");
        assert!(!text.contains("room10@contoso.com"), "{text}");
        assert!(
            text.contains("  and 3 more (`check --summary --json`"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn days_left_count_to_the_first_of_april_2027() {
        let on = |y, m, d| EwsRetirement::on(jiff::civil::date(y, m, d)).days_left;
        // 1 (Dec) + 31 (Jan) + 28 (Feb) + 31 (Mar) + 31 (Nov 30 -> Dec 31) = 122.
        assert_eq!(on(2026, 11, 30), 122);
        assert_eq!(on(2027, 3, 31), 1);
        assert_eq!(on(2027, 4, 1), 0);
        assert_eq!(on(2027, 4, 3), -2);
        let line = EwsRetirement::on(jiff::civil::date(2026, 11, 30)).line();
        assert!(
            line.starts_with("EWS in Exchange Online ends on 1 April 2027: 122 days left;"),
            "{line}"
        );
        let after = EwsRetirement::on(jiff::civil::date(2027, 4, 2)).line();
        assert!(
            after.contains("ended on 1 April 2027, 1 day ago"),
            "{after}"
        );
        let json =
            serde_json::to_value(EwsRetirement::on(jiff::civil::date(2026, 11, 30))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"date": "2027-04-01", "days_left": 122})
        );
    }

    #[test]
    fn the_test_date_is_read_and_a_bad_one_is_refused() {
        let env: std::collections::HashMap<String, String> =
            [(TODAY_VAR.to_string(), "2026-11-30".to_string())].into();
        assert_eq!(today(&env).unwrap(), jiff::civil::date(2026, 11, 30));
        let bad: std::collections::HashMap<String, String> =
            [(TODAY_VAR.to_string(), "30.11.2026".to_string())].into();
        let e = today(&bad).unwrap_err().to_string();
        assert!(
            e.contains("ROOMS_SYNC_TODAY") && e.contains("YYYY-MM-DD"),
            "{e}"
        );
        let none = std::collections::HashMap::<String, String>::new();
        assert!(today(&none).unwrap() >= jiff::civil::date(2026, 1, 1));
    }

    #[test]
    fn progress_names_the_person_and_the_first_red_code() {
        let mut err = Vec::new();
        let report = blocked("a@contoso.com");
        write_progress(
            &mut err,
            &CheckProgress {
                done: 2,
                total: 3,
                report: &report,
            },
        )
        .unwrap();
        let ok = healthy("b@contoso.com");
        write_progress(
            &mut err,
            &CheckProgress {
                done: 3,
                total: 3,
                report: &ok,
            },
        )
        .unwrap();
        // One person: no progress.
        write_progress(
            &mut err,
            &CheckProgress {
                done: 1,
                total: 1,
                report: &ok,
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "[2/3] a@contoso.com: red (HTTP 403)\n[3/3] b@contoso.com: ok\n"
        );
    }

    #[test]
    fn mailbox_addresses_are_made_generic_in_any_case() {
        assert_eq!(
            generic(
                "Add-MailboxFolderPermission -Identity Alice@Contoso.com:\\Calendar for alice@contoso.com",
                "alice@contoso.com"
            ),
            "Add-MailboxFolderPermission -Identity <mailbox>:\\Calendar for <mailbox>"
        );
        assert_eq!(generic("nothing here", "a@b.c"), "nothing here");
    }
}
