//! The `exo-emulator` binary: first stdout line is the base URL; it serves; SIGTERM stops it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::*;

#[tokio::test]
async fn binary_prints_its_url_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_exo-emulator"))
        .args(["--listen", "127.0.0.1:0", "--seed", &demo_seed_path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let r = post_form(
        &format!("{base}/{DOMAIN}/oauth2/v2.0/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
            ("scope", "https://outlook.office365.com/.default"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
}

#[test]
fn binary_help_and_bad_seed() {
    let out = Command::new(env!("CARGO_BIN_EXE_exo-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--seed") && help.contains("--listen"),
        "{help}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_exo-emulator"))
        .args(["--seed", "/nonexistent/seed.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/seed.toml"));
}
