wit_bindgen::generate!({
    world: "plugin",
    path: "../wit",
    with: {
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:config/store@0.2.0-rc.1": generate,
    },
});
use exports::rooms::exchange_sync::sync::{Guest, CheckResult, SyncError};
struct C;
impl Guest for C {
    fn check_person(email: String) -> Result<Vec<CheckResult>, SyncError> {
        let _ = wasi::config::store::get("x");
        Err(SyncError::UnknownPerson(email))
    }
}
export!(C);
