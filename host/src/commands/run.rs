//! `rooms-sync --tenant DIR run [--person EMAIL] [--json]`: one two-way sync
//! cycle for every person of the tenant (or one), then a summary.
//!
//! The persons run one after the other on one component instance
//! ([`calls::run`]); a trap, a missed deadline or a person that cannot be
//! read fails that person, and the next one still runs. Every text that
//! came from the component has passed [`operator_text`](crate::text::operator_text)
//! in [`calls`] before it is printed here.
//!
//! # Output
//!
//! Text: one line per person with the counts of both directions, conflicts,
//! quarantined items, EWS requests and back-off, marked `[ OK ]`, `[FAIL]`
//! or `[SKIP]`, each problem below it with its fix; then a `total:` line.
//!
//! `--json` prints one object (a contract: fields are only ever added):
//!
//! ```text
//! {"persons":[{"email", "to_rooms":{"created","updated","cancelled"},
//!              "to_exchange":{"created","updated","cancelled"},
//!              "conflicts", "quarantined", "ews_requests", "backoff_ms",
//!              "completed", "skipped",
//!              "errors":[{"code","message","fix"}]}],
//!  "totals":{"to_rooms":{..}, "to_exchange":{..}, "conflicts", "quarantined",
//!            "ews_requests", "backoff_ms",
//!            "persons", "persons_failed", "persons_skipped"}}
//! ```
//!
//! `fix` is null when nothing needs doing (the next run retries). The codes
//! the host adds to the component's are listed in [`calls`]; among them:
//!
//! - **Sync-disabled persons** are not run. They appear with `skipped:
//!   true`, zero counters, `completed: false` and one error of code
//!   `sync-disabled` whose fix says how to find the cause; in text as
//!   `[SKIP]`. They count as failed (`persons_failed`, exit 1): ROOMS
//!   disables a person after repeated errors, and their calendar is no
//!   longer in sync, which a monitoring exit code must not hide.
//! - An unreadable row of `rooms.db` is a failed person with the code
//!   `person-unreadable`.
//!
//! # Exit codes
//!
//! [`EXIT_OK`] (0) when every person completed without any problem (also
//! when the tenant has no persons), [`EXIT_FAILED`] (1) when at least one
//! did not; bad input (an unknown `--person`, a tenant directory, settings
//! or database that cannot be read, a component that cannot be loaded) is
//! an `Err`, which the CLI prints and exits with 2 ([`EXIT_USAGE`]), as for
//! `check`.
//!
//! # Progress
//!
//! With more than one person and a `progress` stream (the CLI passes
//! standard error when it is a terminal), a line `[i/n] syncing EMAIL` goes
//! there before each person, and `[i/n] EMAIL: skipped (CODE)` for a person
//! that is not run, so a slow mailbox is visible while it runs. Standard
//! output carries only the summary.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::calls::{self, Counts, Progress, RunReport, RunTotals};
use crate::log::{Level, LogSink};
use crate::runtime::{ComponentLoad, Runtime, RuntimeOptions};
use crate::settings::{EnvSource, TenantInputs};
use crate::tenant::Tenant;

/// Exit code: every person synced without a problem.
pub const EXIT_OK: i32 = 0;
/// Exit code: at least one person failed, was stopped or was skipped.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input (returned by the CLI for an `Err` of [`run`]).
pub const EXIT_USAGE: i32 = 2;

/// What `run` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunArgs<'a> {
    /// `--person EMAIL`: only this person (default: all).
    pub only: Option<&'a str>,
    /// `--json`: print JSON instead of text.
    pub json: bool,
    /// Colour the text output (`--color`, resolved by the CLI).
    pub color: bool,
}

/// Where `run` writes.
pub struct RunOutput<'a> {
    /// The summary (standard output).
    pub out: &'a mut dyn Write,
    /// Progress lines; `Some` only when standard error is a terminal.
    pub progress: Option<&'a mut dyn Write>,
}

/// The `run` command: opens the tenant in `tenant_dir` and the component
/// runtime as `check` does, runs one cycle per person ([`run_tenant`]) and
/// returns the exit code. Bad input is an `Err` (exit 2 in the CLI).
pub async fn run(
    tenant_dir: &Path,
    inputs: TenantInputs,
    options: &RuntimeOptions,
    env: Arc<dyn EnvSource + Send + Sync>,
    log: LogSink,
    args: RunArgs<'_>,
    output: RunOutput<'_>,
) -> anyhow::Result<i32> {
    let (tenant, runtime) = open(tenant_dir, inputs, options, env, &log)?;
    run_tenant(&tenant, &runtime, args, output).await
}

/// Opens the tenant in `tenant_dir` and the component runtime, and logs how
/// the component was loaded and any note of the component cache (shared by
/// `run` and `check`).
pub fn open(
    tenant_dir: &Path,
    inputs: TenantInputs,
    options: &RuntimeOptions,
    env: Arc<dyn EnvSource + Send + Sync>,
    log: &LogSink,
) -> anyhow::Result<(Arc<Tenant>, Runtime)> {
    let tenant = Tenant::open(tenant_dir, env, inputs, log.clone())?;
    let runtime = Runtime::new(options)?;
    let how = match runtime.component_load() {
        ComponentLoad::Compiled(took) => format!("compiled in {took:?}"),
        ComponentLoad::Cached(took) => format!("loaded precompiled in {took:?}"),
    };
    log.write(
        Level::Debug,
        &format!("component {}: {how}", options.component.display()),
    );
    for note in runtime.cache_notes() {
        log.write(Level::Warn, note);
    }
    Ok((tenant, runtime))
}

/// The `run` command on an open tenant and runtime: runs [`calls::run`],
/// prints progress and the summary, and returns [`EXIT_OK`] or
/// [`EXIT_FAILED`]; an unknown `--person` or an unreadable database is an
/// `Err`.
pub async fn run_tenant(
    tenant: &Arc<Tenant>,
    runtime: &Runtime,
    args: RunArgs<'_>,
    output: RunOutput<'_>,
) -> anyhow::Result<i32> {
    let RunOutput { out, progress } = output;
    let mut progress = progress;
    let reports = calls::run(tenant, runtime, args.only, &mut |event| {
        if let Some(err) = progress.as_deref_mut() {
            // Progress is best effort: a closed terminal does not stop the run.
            let _ = write_progress(err, &event);
        }
    })
    .await?;
    if args.json {
        writeln!(out, "{}", render_json(&reports))?;
    } else if reports.is_empty() {
        writeln!(
            out,
            "no persons to sync; add one with `rooms-sync --tenant {} person add EMAIL --mode O365`",
            tenant.dir().display()
        )?;
    } else {
        render_text(&reports, args.color, out)?;
    }
    Ok(exit_code(&reports))
}

/// The exit code for `reports`: [`EXIT_OK`] when every person completed
/// without a problem (or there were none), else [`EXIT_FAILED`].
pub fn exit_code(reports: &[RunReport]) -> i32 {
    if reports.iter().all(RunReport::ok) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// The `run --json` document.
#[derive(serde::Serialize)]
struct RunJson<'a> {
    persons: &'a [RunReport],
    totals: RunTotals,
}

/// The `run --json` object, on one line: `{"persons":[..], "totals":{..}}`,
/// each object's fields in the order of the documentation.
pub fn render_json(reports: &[RunReport]) -> String {
    let json = RunJson {
        persons: reports,
        totals: RunTotals::of(reports),
    };
    serde_json::to_string(&json).expect("a run report always serialises")
}

/// One progress line for `event`, when the run has more than one person:
/// `[i/n] syncing EMAIL` before a person runs, `[i/n] EMAIL: skipped
/// (CODE)` for a person that did not run.
fn write_progress(err: &mut dyn Write, event: &Progress<'_>) -> std::io::Result<()> {
    match *event {
        Progress::Starting {
            index,
            total,
            email,
        } if total > 1 => writeln!(err, "[{}/{total}] syncing {email}", index + 1),
        Progress::Finished {
            index,
            total,
            report,
        } if total > 1 && (report.skipped || report.errors.iter().any(not_run)) => {
            let code = report.errors.first().map_or("", |e| e.code.as_str());
            writeln!(
                err,
                "[{}/{total}] {}: skipped ({code})",
                index + 1,
                report.email
            )
        }
        _ => Ok(()),
    }
}

/// True for a problem that means the component was never called for the
/// person.
fn not_run(problem: &calls::RunProblem) -> bool {
    matches!(problem.code.as_str(), "sync-disabled" | "person-unreadable")
}

/// The text summary: one line per person, each problem with its fix below
/// it, then the totals.
pub fn render_text(reports: &[RunReport], color: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let (green, red, yellow, dim, reset) = if color {
        ("\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "", "", "")
    };
    let width = reports.iter().map(|r| r.email.len()).max().unwrap_or(0);
    for report in reports {
        let mark = if report.skipped {
            format!("{yellow}[SKIP]{reset}")
        } else if report.ok() {
            format!("{green}[ OK ]{reset}")
        } else {
            format!("{red}[FAIL]{reset}")
        };
        let summary = if report.skipped || report.errors.iter().any(not_run) {
            "not run".to_string()
        } else {
            let stopped = if report.completed {
                ""
            } else {
                "stopped before the end; "
            };
            format!(
                "{stopped}{}",
                counters(
                    &report.to_rooms,
                    &report.to_exchange,
                    report.conflicts,
                    report.quarantined,
                    report.ews_requests,
                    report.backoff_ms
                )
            )
        };
        writeln!(out, "{mark} {:width$}  {summary}", report.email)?;
        for problem in &report.errors {
            writeln!(out, "       {}: {}", problem.code, problem.message)?;
            if let Some(fix) = &problem.fix {
                writeln!(out, "       {dim}fix:{reset} {fix}")?;
            }
        }
    }
    let totals = RunTotals::of(reports);
    let mut persons = format!(
        "{} {}",
        totals.persons,
        if totals.persons == 1 {
            "person"
        } else {
            "persons"
        }
    );
    if totals.persons_failed > 0 {
        persons.push_str(&format!(", {red}{} failed{reset}", totals.persons_failed));
    }
    if totals.persons_skipped > 0 {
        persons.push_str(&format!(" ({} skipped)", totals.persons_skipped));
    }
    writeln!(
        out,
        "total: {persons}; {}",
        counters(
            &totals.to_rooms,
            &totals.to_exchange,
            totals.conflicts,
            totals.quarantined,
            totals.ews_requests,
            totals.backoff_ms
        )
    )
}

/// `to ROOMS 3 created, 1 updated, 0 cancelled; to Exchange ...; 0
/// conflicts, 0 quarantined, 14 EWS requests, back-off 0 ms`.
fn counters(
    to_rooms: &Counts,
    to_exchange: &Counts,
    conflicts: u64,
    quarantined: u64,
    ews_requests: u64,
    backoff_ms: u64,
) -> String {
    let direction = |c: &Counts| {
        format!(
            "{} created, {} updated, {} cancelled",
            c.created, c.updated, c.cancelled
        )
    };
    format!(
        "to ROOMS {}; to Exchange {}; {conflicts} {}, {quarantined} quarantined, {ews_requests} EWS {}, back-off {}",
        direction(to_rooms),
        direction(to_exchange),
        if conflicts == 1 {
            "conflict"
        } else {
            "conflicts"
        },
        if ews_requests == 1 {
            "request"
        } else {
            "requests"
        },
        duration(backoff_ms)
    )
}

/// `850 ms`, `1.5 s`, `2 min 5 s`.
fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else {
        let secs = ms / 1_000;
        format!("{} min {} s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::RunProblem;

    fn clean(email: &str) -> RunReport {
        RunReport {
            email: email.into(),
            to_rooms: Counts {
                created: 3,
                updated: 1,
                cancelled: 0,
            },
            to_exchange: Counts {
                created: 2,
                updated: 0,
                cancelled: 1,
            },
            conflicts: 1,
            quarantined: 0,
            ews_requests: 14,
            backoff_ms: 1_500,
            completed: true,
            skipped: false,
            errors: vec![],
        }
    }

    fn denied(email: &str) -> RunReport {
        RunReport {
            completed: false,
            ews_requests: 2,
            backoff_ms: 0,
            errors: vec![RunProblem {
                code: "ErrorAccessDenied".into(),
                message: "Exchange refused access to the calendar".into(),
                fix: Some("grant full_access_as_app".into()),
            }],
            ..clean(email)
        }
    }

    fn disabled(email: &str) -> RunReport {
        RunReport {
            skipped: true,
            ..RunReport::failed(
                email,
                RunProblem {
                    code: "sync-disabled".into(),
                    message: format!("sync is disabled for {email} in ROOMS; skipped"),
                    fix: Some("enable it".into()),
                },
            )
        }
    }

    #[test]
    fn json_has_the_contract_fields_and_the_totals() {
        let reports = vec![clean("a@contoso.com"), denied("b@contoso.com")];
        let text = render_json(&reports);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["persons"][0],
            serde_json::json!({
                "email": "a@contoso.com",
                "to_rooms": {"created": 3, "updated": 1, "cancelled": 0},
                "to_exchange": {"created": 2, "updated": 0, "cancelled": 1},
                "conflicts": 1,
                "quarantined": 0,
                "ews_requests": 14,
                "backoff_ms": 1500,
                "completed": true,
                "skipped": false,
                "errors": [],
            })
        );
        assert_eq!(
            json["persons"][1]["errors"],
            serde_json::json!([{
                "code": "ErrorAccessDenied",
                "message": "Exchange refused access to the calendar",
                "fix": "grant full_access_as_app",
            }])
        );
        assert_eq!(
            json["totals"],
            serde_json::json!({
                "to_rooms": {"created": 6, "updated": 2, "cancelled": 0},
                "to_exchange": {"created": 4, "updated": 0, "cancelled": 2},
                "conflicts": 2,
                "quarantined": 0,
                "ews_requests": 16,
                "backoff_ms": 1500,
                "persons": 2,
                "persons_failed": 1,
                "persons_skipped": 0,
            })
        );
        // One line, the fields in the documented order.
        assert!(!text.contains('\n'));
        assert!(
            text.starts_with(
                r#"{"persons":[{"email":"a@contoso.com","to_rooms":{"created":3,"updated":1,"cancelled":0},"to_exchange":"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#""totals":{"to_rooms":{"created":6,"#),
            "{text}"
        );
    }

    #[test]
    fn an_empty_run_has_zero_totals_and_exits_0() {
        let json: serde_json::Value = serde_json::from_str(&render_json(&[])).unwrap();
        assert_eq!(json["persons"], serde_json::json!([]));
        assert_eq!(json["totals"]["persons"], 0);
        assert_eq!(json["totals"]["to_rooms"]["created"], 0);
        assert_eq!(exit_code(&[]), EXIT_OK);
    }

    #[test]
    fn a_missing_fix_is_null() {
        let mut report = clean("a@contoso.com");
        report.errors.push(RunProblem {
            code: "conflict".into(),
            message: "both sides changed booking 7".into(),
            fix: None,
        });
        let json: serde_json::Value = serde_json::from_str(&render_json(&[report])).unwrap();
        assert_eq!(
            json["persons"][0]["errors"][0]["fix"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn exit_code_is_1_for_a_failed_incomplete_or_skipped_person() {
        assert_eq!(exit_code(&[clean("a@x.com"), clean("b@x.com")]), EXIT_OK);
        assert_eq!(
            exit_code(&[clean("a@x.com"), denied("b@x.com")]),
            EXIT_FAILED
        );
        assert_eq!(exit_code(&[disabled("a@x.com")]), EXIT_FAILED);
        // Completed, but a booking's problem was met.
        let mut with_problem = clean("a@x.com");
        with_problem.errors.push(RunProblem {
            code: "conflict".into(),
            message: "m".into(),
            fix: None,
        });
        assert_eq!(exit_code(&[with_problem]), EXIT_FAILED);
        // Stopped without a problem (the host adds `incomplete`, but the
        // exit code does not rely on it).
        let stopped = RunReport {
            completed: false,
            ..clean("a@x.com")
        };
        assert_eq!(exit_code(&[stopped]), EXIT_FAILED);
    }

    #[test]
    fn skipped_persons_are_counted_as_failed_and_skipped() {
        let totals = RunTotals::of(&[clean("a@x.com"), disabled("b@x.com")]);
        assert_eq!(
            (
                totals.persons,
                totals.persons_failed,
                totals.persons_skipped
            ),
            (2, 1, 1)
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&[disabled("b@x.com")])).unwrap();
        assert_eq!(json["persons"][0]["skipped"], true);
        assert_eq!(json["persons"][0]["completed"], false);
        assert_eq!(json["persons"][0]["errors"][0]["code"], "sync-disabled");
    }

    #[test]
    fn totals_saturate() {
        let mut big = clean("a@x.com");
        big.backoff_ms = u64::MAX;
        big.to_rooms.created = u64::MAX;
        let totals = RunTotals::of(&[big.clone(), big]);
        assert_eq!(totals.backoff_ms, u64::MAX);
        assert_eq!(totals.to_rooms.created, u64::MAX);
    }

    #[test]
    fn text_has_one_line_per_person_with_problems_and_totals() {
        let reports = vec![
            clean("a@contoso.com"),
            denied("bob@contoso.com"),
            disabled("room@contoso.com"),
        ];
        let mut out = Vec::new();
        render_text(&reports, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "[ OK ] a@contoso.com     to ROOMS 3 created, 1 updated, 0 cancelled; to Exchange 2 created, 0 updated, 1 cancelled; 1 conflict, 0 quarantined, 14 EWS requests, back-off 1.5 s"
        );
        assert!(
            lines[1]
                .starts_with("[FAIL] bob@contoso.com   stopped before the end; to ROOMS 3 created"),
            "{text}"
        );
        assert_eq!(
            lines[2],
            "       ErrorAccessDenied: Exchange refused access to the calendar"
        );
        assert_eq!(lines[3], "       fix: grant full_access_as_app");
        assert_eq!(lines[4], "[SKIP] room@contoso.com  not run");
        assert_eq!(
            lines[5],
            "       sync-disabled: sync is disabled for room@contoso.com in ROOMS; skipped"
        );
        assert_eq!(lines[6], "       fix: enable it");
        assert_eq!(
            lines[7],
            "total: 3 persons, 2 failed (1 skipped); to ROOMS 6 created, 2 updated, 0 cancelled; to Exchange 4 created, 0 updated, 2 cancelled; 2 conflicts, 0 quarantined, 16 EWS requests, back-off 1.5 s"
        );
        assert_eq!(lines.len(), 8);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colour_marks_only_when_asked() {
        let mut out = Vec::new();
        render_text(&[clean("a@x.com"), denied("b@x.com")], true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\x1b[32m[ OK ]\x1b[0m"));
        assert!(text.contains("\x1b[31m[FAIL]\x1b[0m"));
    }

    #[test]
    fn progress_lines_only_for_runs_of_more_than_one_person() {
        let mut err = Vec::new();
        let starting = |total| Progress::Starting {
            index: 1,
            total,
            email: "b@x.com",
        };
        write_progress(&mut err, &starting(1)).unwrap();
        assert!(err.is_empty());
        write_progress(&mut err, &starting(3)).unwrap();
        let report = disabled("c@x.com");
        write_progress(
            &mut err,
            &Progress::Finished {
                index: 2,
                total: 3,
                report: &report,
            },
        )
        .unwrap();
        // A person that ran gets no second line.
        let ran = clean("b@x.com");
        write_progress(
            &mut err,
            &Progress::Finished {
                index: 1,
                total: 3,
                report: &ran,
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "[2/3] syncing b@x.com\n[3/3] c@x.com: skipped (sync-disabled)\n"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(1_500), "1.5 s");
        assert_eq!(duration(125_000), "2 min 5 s");
    }
}
