//! The real `rooms-sync` executable: help, exit codes and messages as a shell
//! sees them. (Runs against the emulator are in tests/integration.)

use std::process::Command;

fn rooms_sync(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rooms-sync"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn help_and_version_exit_zero() {
    let out = rooms_sync(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: rooms-sync"), "{text}");
    assert!(text.contains("--tenant <DIR>"), "{text}");
    let out = rooms_sync(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rooms-sync "));
}

#[test]
fn person_commands_work_on_a_fresh_tenant_directory() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().to_str().unwrap();
    let out = rooms_sync(&[
        "--tenant",
        tenant,
        "person",
        "add",
        "room@contoso.com",
        "--mode",
        "O365Pull",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        dir.path().join("rooms.db").is_file(),
        "the database is created on first use"
    );
    let out = rooms_sync(&["--tenant", tenant, "person", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("room@contoso.com"));
}

#[test]
fn a_bad_settings_file_exits_2_with_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("RoomsAppSettings.config"),
        "<RoomsAppSettings>\n  <add key=\"ExchangeTenantId\" value=\"xxx\" />\n</RoomsAppSettings>\n",
    )
    .unwrap();
    let out = rooms_sync(&["--tenant", dir.path().to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RoomsAppSettings.config:2:"), "{err}");
    assert!(err.contains("ExchangeTenantId"), "{err}");
    assert!(err.contains("fix:"), "{err}");
}

#[test]
fn eight_processes_creating_one_database_at_once_all_succeed() {
    // The schema version is read inside the migration's write transaction,
    // so concurrent first opens of a new rooms.db migrate it exactly once.
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let tenant = dir.path().to_str().unwrap().to_string();
        let children: Vec<_> = (0..8)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_rooms-sync"))
                    .args(["--tenant", &tenant, "person", "list", "--json"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("the binary starts")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                r#"{"persons":[]}"#
            );
        }
    }
}
