//! Fidelity: emulator answers have the element structure and namespaces of real samples
//! (compared as trees, ignoring text and prefixes).

use exo_emulator::seed::BusyShape;
use exo_emulator::{FaultAction, FaultSpec};

use crate::support::*;

fn fixture(name: &str) -> Node {
    let path = format!("{}/../fixtures/ews/{name}", env!("CARGO_MANIFEST_DIR"));
    parse_xml(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn room_folder() -> String {
    soap(
        &format!("{V2013}{}", impersonate("PrimarySmtpAddress", ROOM)),
        &get_folder("calendar", None),
    )
}

#[tokio::test]
async fn soap_faults_match_the_real_samples() {
    let emu = start().await;
    let token = secret_token(&emu).await;

    emu.update_settings(|s| {
        s.budget.enabled = true;
        s.budget.burst = 1;
        s.budget.recharge_per_second = 0.001;
        s.budget.shape = BusyShape::SoapFault;
    });
    ews(&emu, &token, &room_folder()).await;
    let busy = parse_xml(&ews(&emu, &token, &room_folder()).await.text());
    assert_eq!(busy.shape(), fixture("serverbusy-soapfault.xml").shape());
    emu.update_settings(|s| s.budget.enabled = false);

    let schema = parse_xml(
        &ews(
            &emu,
            &token,
            &room_folder().replace("Default", "Everything"),
        )
        .await
        .text(),
    );
    assert_eq!(
        schema.shape(),
        fixture("schemavalidation-soapfault.xml").shape()
    );

    emu.inject_fault(FaultSpec {
        count: 27,
        ..FaultSpec::ews(FaultAction::Latency { ms: 6000 })
    });
    let emu = std::sync::Arc::new(emu);
    let mut held = Vec::new();
    for _ in 0..27 {
        let (emu, token) = (emu.clone(), token.clone());
        held.push(tokio::spawn(async move {
            ews(&emu, &token, &room_folder()).await
        }));
    }
    for _ in 0..600 {
        if emu.shared().inflight(&format!("app:{SECRET_APP}")) == 27 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let exceeded = parse_xml(&ews(&emu, &token, &room_folder()).await.text());
    let sample = fixture("exceededconnectioncount-soapfault.xml");
    assert_eq!(exceeded.shape(), sample.shape());
    assert_eq!(
        exceeded.text_of("faultstring"),
        sample.text_of("faultstring")
    );
    for h in held {
        h.await.unwrap();
    }
}

#[tokio::test]
async fn response_messages_match_the_real_samples() {
    let emu = start().await;
    let token = secret_token(&emu).await;
    // An error message (ErrorInvalidIdMalformed) has the shape of the FindItem sample.
    let body = r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="bad"/></m:FolderIds></m:GetFolder>"#;
    let ours = parse_xml(
        &ews(
            &emu,
            &token,
            &soap(
                &format!("{V2013}{}", impersonate("PrimarySmtpAddress", ROOM)),
                body,
            ),
        )
        .await
        .text(),
    );
    assert_eq!(ours.text_of("ResponseCode"), "ErrorInvalidIdMalformed");
    let sample: Vec<String> = fixture("finditem-error-invalididmalformed.xml")
        .shape()
        .into_iter()
        .map(|l| l.replace("FindItem", "GetFolder"))
        .collect();
    assert_eq!(ours.shape(), sample);

    // ErrorServerBusy as a response message has the real Exchange Online shape (the sample's
    // SyncFolderItems-specific SyncState and IncludesLastItemInRange aside).
    emu.update_settings(|s| {
        s.budget.enabled = true;
        s.budget.burst = 1;
        s.budget.recharge_per_second = 0.001;
        s.budget.shape = BusyShape::ResponseMessage;
    });
    ews(&emu, &token, &room_folder()).await;
    let busy = parse_xml(&ews(&emu, &token, &room_folder()).await.text());
    let sample: Vec<String> = fixture("syncfolderitems-error-serverbusy-o365.xml")
        .shape()
        .into_iter()
        .filter(|l| !l.ends_with("}SyncState") && !l.ends_with("}IncludesLastItemInRange"))
        .map(|l| l.replace("SyncFolderItems", "GetFolder"))
        .collect();
    assert_eq!(busy.shape(), sample);
    let msg = busy.find("MessageText").unwrap().text.clone();
    assert!(msg.starts_with("The server cannot service this request right now. Try again later., This operation exceeds the throttling budget"), "{msg}");
}
