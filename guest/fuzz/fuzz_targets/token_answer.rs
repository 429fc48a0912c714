//! Fuzz target: an Entra ID token-endpoint answer.
//!
//! The input is the body of the answer. It is read as an Entra error body
//! alone, and as a whole answer under HTTP 200, 400 and one more status
//! picked by its length (with header texts taken from it); a refusal becomes
//! the advice of each of the three sign-in flows. Besides not panicking: an
//! issued token is never over the token cap, an error body's texts are
//! clean, and every error is safe to show.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rooms_sync_guest::auth::endpoint::{self, Answer, MAX_TOKEN_BYTES};
use rooms_sync_guest::auth::entra;
use rooms_sync_guest::error::Error;
use rooms_sync_guest::safe_text;
use rooms_sync_guest_fuzz::{CONTEXTS, STATUSES, TOKEN_URL, answer, check_error};

fuzz_target!(|body: &[u8]| {
    if let Some(refusal) = entra::parse_error(400, body) {
        for text in [&refusal.error, &refusal.description]
            .into_iter()
            .chain(refusal.trace_id.as_ref())
            .chain(refusal.correlation_id.as_ref())
        {
            assert!(safe_text::is_clean(text), "{text:?}");
            assert!(text.chars().count() <= safe_text::QUOTE_MAX_CHARS);
        }
        assert!(refusal.codes.len() <= 16);
    }
    for status in [200, 400, STATUSES[body.len() % STATUSES.len()]] {
        let answer = answer(status, "application/json; charset=utf-8", body);
        match endpoint::read_answer(TOKEN_URL, &answer) {
            Ok(Answer::Issued(issued)) => {
                assert_eq!(status, 200);
                assert!(issued.access_token.expose().len() <= MAX_TOKEN_BYTES);
                assert!(!issued.access_token.is_blank());
                if let Some(refresh) = &issued.refresh_token {
                    assert!(refresh.expose().len() <= MAX_TOKEN_BYTES);
                }
            }
            Ok(Answer::Refused(refusal)) => {
                for ctx in CONTEXTS.iter() {
                    check_error(&Error::SignIn(refusal.to_failure(ctx)));
                }
            }
            Err(e) => check_error(&e),
        }
    }
});
