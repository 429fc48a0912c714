//! Throttling (connection count, budget), fault injection, request log, clock.

use std::sync::Arc;

use exo_emulator::seed::BusyShape;
use exo_emulator::{ErrorShape, FaultAction, FaultEndpoint, FaultSpec, LogFilter};
use jiff::SignedDuration;

use crate::support::*;

fn room_folder() -> String {
    soap(
        &format!("{V2013}{}", impersonate("PrimarySmtpAddress", ROOM)),
        &get_folder("calendar", None),
    )
}

#[tokio::test]
async fn the_28th_concurrent_request_exceeds_the_connection_count() {
    let emu = Arc::new(start().await);
    let token = secret_token(&emu).await;
    emu.inject_fault(FaultSpec {
        count: 27,
        ..FaultSpec::ews(FaultAction::Latency { ms: 6000 })
    });
    let mut held = Vec::new();
    for _ in 0..27 {
        let (emu, token) = (Arc::clone(&emu), token.clone());
        held.push(tokio::spawn(async move {
            ews(&emu, &token, &room_folder()).await
        }));
    }
    let account = format!("app:{SECRET_APP}");
    // Wait (bounded) until all 27 are inside the server.
    for _ in 0..600 {
        if emu.shared().inflight(&account) == 27 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(emu.shared().inflight(&account), 27);
    let r = ews(&emu, &token, &room_folder()).await;
    assert_eq!(r.status, 500);
    let doc = parse_xml(&r.text());
    assert_eq!(doc.text_of("ResponseCode"), "ErrorExceededConnectionCount");
    assert_eq!(doc.find("Value").unwrap().text, "MaxConcurrency");
    // Another account is not affected.
    let user = user_token(&emu, SVC, SVC_PASSWORD).await;
    assert_eq!(
        ews(&emu, &user, &soap(V2013, &get_folder("calendar", None)))
            .await
            .status,
        200
    );
    for h in held {
        assert_eq!(h.await.unwrap().status, 200);
    }
    assert_eq!(
        ews(&emu, &token, &room_folder()).await.status,
        200,
        "free again"
    );
}

#[tokio::test]
async fn budget_answers_server_busy_in_each_shape() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    emu.update_settings(|s| {
        s.budget.enabled = true;
        s.budget.burst = 2;
        s.budget.recharge_per_second = 0.5;
        s.budget.shape = BusyShape::ResponseMessage;
    });
    assert_eq!(ews(&emu, &token, &room_folder()).await.status, 200);
    assert_eq!(ews(&emu, &token, &room_folder()).await.status, 200);
    let r = ews(&emu, &token, &room_folder()).await;
    assert_eq!(r.status, 200);
    let doc = parse_xml(&r.text());
    assert_eq!(
        doc.find("GetFolderResponseMessage")
            .unwrap()
            .attr("ResponseClass"),
        Some("Error")
    );
    assert_eq!(doc.text_of("ResponseCode"), "ErrorServerBusy");
    let back_off: u64 = doc.find("Value").unwrap().text.parse().unwrap();
    assert!(back_off > 0 && back_off <= 2000, "{back_off}");

    emu.update_settings(|s| s.budget.shape = BusyShape::SoapFault);
    let r = ews(&emu, &token, &room_folder()).await;
    assert_eq!(r.status, 500);
    let doc = parse_xml(&r.text());
    assert_eq!(doc.text_of("faultcode"), "a:ErrorServerBusy");
    assert_eq!(
        doc.find("Value").unwrap().attr("Name"),
        Some("BackOffMilliseconds")
    );

    emu.update_settings(|s| s.budget.shape = BusyShape::Http503);
    let r = ews(&emu, &token, &room_folder()).await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);

    // The bucket refills on the emulator clock.
    emu.advance_clock(SignedDuration::from_secs(10));
    assert_eq!(ews(&emu, &token, &room_folder()).await.status, 200);
}

#[tokio::test]
async fn injected_ews_errors_and_http_statuses() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    emu.inject_fault(FaultSpec {
        operation: Some("GetFolder".into()),
        mailbox: Some(ROOM.into()),
        ..FaultSpec::ews(FaultAction::EwsError {
            code: "ErrorMailboxStoreUnavailable".into(),
            message: None,
            shape: ErrorShape::ResponseMessage,
            back_off_ms: None,
        })
    });
    // Another mailbox does not match the fault.
    let other = soap(
        &format!("{V2013}{}", impersonate("PrimarySmtpAddress", ROOM2)),
        &get_folder("calendar", None),
    );
    assert_eq!(
        parse_xml(&ews(&emu, &token, &other).await.text()).text_of("ResponseCode"),
        "NoError"
    );
    let r = ews(&emu, &token, &room_folder()).await;
    assert_eq!(
        (
            r.status,
            parse_xml(&r.text()).text_of("ResponseCode").as_str()
        ),
        (200, "ErrorMailboxStoreUnavailable")
    );
    assert_eq!(
        parse_xml(&ews(&emu, &token, &room_folder()).await.text()).text_of("ResponseCode"),
        "NoError",
        "fired once"
    );

    emu.inject_fault(FaultSpec::ews(FaultAction::EwsError {
        code: "ErrorServerBusy".into(),
        message: None,
        shape: ErrorShape::SoapFault,
        back_off_ms: Some(5000),
    }));
    let r = ews(&emu, &token, &room_folder()).await;
    assert_eq!(r.status, 500);
    assert_eq!(parse_xml(&r.text()).text_of("Value"), "5000");

    emu.inject_fault(FaultSpec {
        count: 2,
        ..FaultSpec::ews(FaultAction::HttpStatus {
            status: 503,
            retry_after: Some(7),
            body: None,
        })
    });
    for _ in 0..2 {
        let r = ews(&emu, &token, &room_folder()).await;
        assert_eq!((r.status, r.header("retry-after")), (503, Some("7")));
    }
    assert_eq!(ews(&emu, &token, &room_folder()).await.status, 200);
}

#[tokio::test]
async fn injected_transport_faults() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    emu.inject_fault(FaultSpec::ews(FaultAction::ResetBefore));
    assert!(
        try_ews(&emu, &token, &room_folder()).await.is_err(),
        "connection dropped"
    );
    emu.inject_fault(FaultSpec::ews(FaultAction::ResetAfter));
    assert!(try_ews(&emu, &token, &room_folder()).await.is_err());
    emu.inject_fault(FaultSpec::ews(FaultAction::TruncatedBody));
    let err = try_ews(&emu, &token, &room_folder()).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    emu.inject_fault(FaultSpec::ews(FaultAction::MalformedBody));
    let r = ews(&emu, &token, &room_folder()).await;
    assert_eq!(r.status, 200);
    assert!(
        quick_xml::NsReader::from_str(&r.text())
            .read_to_end(quick_xml::name::QName("x"))
            .is_err()
            || !r.text().ends_with("</s:Envelope>")
    );
    emu.inject_fault(FaultSpec::ews(FaultAction::Latency { ms: 50 }));
    assert_eq!(ews(&emu, &token, &room_folder()).await.status, 200);

    let log = emu.request_log(&LogFilter {
        endpoint: Some("ews".into()),
        ..Default::default()
    });
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].http_status, 0);
    assert_eq!(log[0].response_code.as_deref(), Some("connection reset"));
    assert_eq!(log[1].http_status, 0);
    assert_eq!(
        log[1].response_code.as_deref(),
        Some("NoError"),
        "reset after: the request was processed"
    );
    assert!(log[4].fault.as_deref().unwrap().contains("latency"));

    // The sync-state hook is left for SyncFolderItems, not consumed by other operations.
    emu.inject_fault(FaultSpec::ews(FaultAction::InvalidSyncState));
    assert_eq!(ews(&emu, &token, &room_folder()).await.status, 200);
    assert_eq!(emu.with_state(|s| s.faults.list().len()), 1);
}

#[tokio::test]
async fn token_endpoint_faults() {
    let emu = start().await;
    emu.inject_fault(FaultSpec::new(
        FaultEndpoint::Token,
        FaultAction::HttpStatus {
            status: 503,
            retry_after: Some(3),
            body: None,
        },
    ));
    let r = post_form(
        &emu.token_endpoint(DOMAIN),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!((r.status, r.header("retry-after")), (503, Some("3")));
    emu.inject_fault(FaultSpec::new(
        FaultEndpoint::Token,
        FaultAction::ResetBefore,
    ));
    assert!(
        send("POST", &emu.token_endpoint(DOMAIN), &[], b"")
            .await
            .is_err()
    );
    secret_token(&emu).await;
}

#[tokio::test]
async fn request_log_never_holds_secrets() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    let user = user_token(&emu, SVC, SVC_PASSWORD).await;
    ews(&emu, &token, &room_folder()).await;
    ews(&emu, &user, &soap(V2013, &get_folder("calendar", None))).await;
    ews(&emu, "garbage-token-value", &room_folder()).await;
    let r = send(
        "GET",
        &format!("{}/admin/requests", emu.base_url()),
        &[],
        b"",
    )
    .await
    .unwrap();
    let text = r.text();
    let entries = r.json();
    assert_eq!(entries.as_array().unwrap().len(), 5);
    for secret in [
        token.as_str(),
        user.as_str(),
        SECRET,
        SVC_PASSWORD,
        "garbage-token-value",
    ] {
        assert!(!text.contains(secret), "the log leaks a secret");
    }
    assert!(text.contains("Bearer [redacted]"));
    let filtered = send(
        "GET",
        &format!(
            "{}/admin/requests?endpoint=token&operation=password",
            emu.base_url()
        ),
        &[],
        b"",
    )
    .await
    .unwrap()
    .json();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["mailbox"], SVC);
    send(
        "DELETE",
        &format!("{}/admin/requests", emu.base_url()),
        &[],
        b"",
    )
    .await
    .unwrap();
    assert!(emu.request_log(&LogFilter::default()).is_empty());
}
