//! The host's outgoing HTTP client end to end: a Sync-URL host that accepts
//! the TCP connection but never answers the TLS handshake costs its person a
//! red check after the connect timeout — it no longer hangs `rooms-sync
//! check` — and the other persons are checked as usual.

use std::time::Duration;

use exo_emulator::LogFilter;
use rooms_sync_integration::{Mode, World, assert_has};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A listener on 127.0.0.1 that accepts connections, holds them open and
/// never writes a byte.
async fn silent_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

/// Entra ID for a tenant whose Exchange lives at the silent listener.
///
/// The component asks Entra for a token to the Sync-URL's origin
/// (`https://127.0.0.1:SILENT/.default`), and the emulator, like Entra,
/// only issues tokens for resources it knows: its own origin and Exchange
/// Online's. This front forwards every request to the emulator and asks for
/// the emulator's own resource where the request names the silent one, so
/// that the sign-in is green and the test reaches the EWS request it is
/// about.
async fn entra_front(emulator: &str, silent_port: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = format!("http://{}", listener.local_addr().unwrap());
    let emulator = emulator.trim_end_matches('/').to_string();
    let emulator_port = emulator.rsplit(':').next().unwrap().to_string();
    let from = format!("https%3A%2F%2F127.0.0.1%3A{silent_port}%2F");
    let to = format!("https%3A%2F%2F127.0.0.1%3A{emulator_port}%2F");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(forward(stream, emulator.clone(), from.clone(), to.clone()));
        }
    });
    front
}

/// Forwards one request (with `from` replaced by `to` in its body) to
/// `base` and writes the answer back, closing the connection.
async fn forward(mut stream: TcpStream, base: String, from: String, to: String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or("GET").to_string();
    let path = request_line.next().unwrap_or("/").to_string();
    let mut length = 0;
    let mut headers = Vec::new();
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap_or(0);
        } else if !["host", "connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    while data.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).replace(&from, &to);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let Ok(answer) =
        exo_emulator::client::send(&method, &format!("{base}{path}"), &headers, body.as_bytes())
            .await
    else {
        return;
    };
    let mut out = format!("HTTP/1.1 {} Forwarded\r\n", answer.status);
    for (name, value) in &answer.headers {
        if !["content-length", "connection", "transfer-encoding"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    let _ = stream.write_all(out.as_bytes()).await;
    let _ = stream.write_all(&answer.body).await;
}

#[tokio::test]
async fn a_sync_url_host_that_never_answers_tls_makes_its_person_red_and_the_check_finishes() {
    let world = World::start().await;
    let silent = silent_listener().await;
    let front = entra_front(world.emulator.base_url(), silent).await;
    let tenant = world.tenant("hanging", Mode::Secret, &[("ExchangeAuthorityUrl", &front)]);
    let hanging_url = format!("https://127.0.0.1:{silent}/EWS/Exchange.asmx");
    let added = tenant
        .run(&[
            "person",
            "add",
            "bob@contoso.com",
            "--mode",
            "O365Pull",
            "--sync-url",
            &hanging_url,
        ])
        .await;
    assert_eq!(added.code, 0, "{added:?}");
    tenant.add_person(&world, "alice@contoso.com").await;

    let run = tokio::time::timeout(
        Duration::from_secs(60),
        tenant.run(&["--connect-timeout-secs", "1", "check", "--json"]),
    )
    .await
    .expect("the check finishes instead of hanging on the TLS handshake");
    assert_eq!(run.code, 1, "{run:?}");

    // Bob signs in, then his Exchange never completes the handshake.
    assert_eq!(
        run.check("bob@contoso.com", "sign-in")["ok"],
        true,
        "{run:?}"
    );
    let calendar = run.check("bob@contoso.com", "calendar-access");
    assert_eq!(calendar["ok"], false, "{run:?}");
    let message = calendar["message"].as_str().unwrap();
    assert_has(message, &["timed out", &format!("127.0.0.1:{silent}")]);
    // The host log says which step timed out.
    assert_has(
        &run.log,
        &[
            &format!("outgoing request to https://127.0.0.1:{silent}"),
            "TLS handshake",
        ],
    );

    // Alice, at the emulator, is green.
    for check in ["sign-in", "calendar-access"] {
        assert_eq!(
            run.check("alice@contoso.com", check)["ok"],
            true,
            "{check}: {run:?}"
        );
    }
    let ews = world.emulator.request_log(&LogFilter {
        endpoint: Some("ews".into()),
        ..LogFilter::default()
    });
    assert!(
        !ews.is_empty(),
        "Alice's calendar was checked at the emulator"
    );
}
