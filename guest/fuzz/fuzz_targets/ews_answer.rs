//! Fuzz target: an EWS answer, read as the component reads it.
//!
//! The input is the body of an answer to `GetFolder`. It is parsed alone
//! (default and tight limits), read as an envelope with its response
//! messages or fault, and classified as the client does under HTTP 200 and
//! under one more status picked by its length (with header texts taken from
//! it), down to the calendar check. The same bytes are also read as a
//! `SendNotification` POSTed to the push webhook. Besides not panicking,
//! every error and check must quote server text and be safe to show, and a
//! webhook refusal must be safe to show too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rooms_sync_guest::diagnostics;
use rooms_sync_guest::ews::response::{self, Content};
use rooms_sync_guest::ews::xml::{self, Limits};
use rooms_sync_guest::ews::{self, get_folder, send_notification};
use rooms_sync_guest_fuzz::{
    EWS_URL, MAILBOX, STATUSES, access, answer, assert_quoted, check_check, check_error,
};

/// Limits small enough that fuzzed inputs reach them.
const TIGHT: Limits = Limits {
    max_bytes: 4096,
    max_depth: 8,
    max_elements: 40,
    max_attributes: 4,
    max_name_len: 16,
    max_attribute_len: 64,
    max_text_len: 64,
    max_tree_bytes: 4096,
};

fuzz_target!(|body: &[u8]| {
    let access = access(body.len());
    if let Err(e) = xml::parse(body) {
        assert_quoted(&e.0);
    }
    if let Err(e) = xml::parse_with(body, TIGHT) {
        assert_quoted(&e.0);
    }
    match response::read_envelope(body) {
        Ok(envelope) => {
            if let Some(version) = &envelope.server_version {
                assert_quoted(version);
            }
            match envelope.content {
                Content::Fault(fault) => check_error(&ews::classify_code(
                    fault.code(),
                    fault.text(),
                    &fault.message_xml,
                    MAILBOX,
                    &access,
                )),
                Content::Response(element) => {
                    let operation = element
                        .name
                        .strip_suffix("Response")
                        .unwrap_or(get_folder::NAME)
                        .to_owned();
                    match response::response_messages(element, &operation) {
                        Ok(messages) => {
                            for message in &messages {
                                if let Err(e) = ews::check_message(message, MAILBOX, &access) {
                                    check_error(&e);
                                }
                                if let Ok(folder) = get_folder::parse_folder(message) {
                                    check_check(&diagnostics::evaluate_calendar(
                                        &folder, &access, MAILBOX,
                                    ));
                                }
                            }
                        }
                        Err(e) => assert_quoted(&e.to_string()),
                    }
                }
            }
        }
        Err(e) => assert_quoted(&e.to_string()),
    }
    match send_notification::parse_request(body) {
        Ok(notification) => {
            assert!(!notification.events.is_empty());
            for token in std::iter::once(&notification.subscription_id)
                .chain(notification.events.iter().map(|e| &e.watermark))
            {
                assert!(!token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
        Err(reason) => assert_quoted(&reason),
    }
    for status in [200, STATUSES[body.len() % STATUSES.len()]] {
        let answer = answer(status, "text/xml; charset=utf-8", body);
        match ews::classify(EWS_URL, &answer, MAILBOX, &access) {
            Ok((version, element)) => {
                if let Some(version) = version {
                    assert_quoted(&version);
                }
                let message = match get_folder::single_message(element) {
                    Ok(message) => message,
                    Err(problem) => {
                        assert_quoted(&problem);
                        continue;
                    }
                };
                match ews::check_message(&message, MAILBOX, &access) {
                    Ok(()) => {
                        if let Ok(folder) = get_folder::parse_folder(&message) {
                            check_check(&diagnostics::evaluate_calendar(&folder, &access, MAILBOX));
                        }
                    }
                    Err(e) => check_error(&e),
                }
            }
            Err(e) => check_error(&e),
        }
    }
});
