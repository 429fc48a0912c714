//! `rooms:exchange-sync/rooms`: the persons of the tenant's ROOMS database.

use crate::bindings::rooms::exchange_sync::rooms::{Host, Person};
use crate::bindings::rooms::exchange_sync::types::{ConflictBehaviour, SyncMode};
use crate::log::Level;
use crate::rooms_db;
use crate::state::TenantState;

impl Host for TenantState {
    fn get_person(&mut self, email: String) -> Option<Person> {
        match self.tenant().db().get_person(&email) {
            Ok(found) => found.map(to_wit),
            Err(e) => {
                // The WIT function has no error case: a database failure looks
                // like an unknown person to the component, and the operator
                // sees the real cause in the log.
                self.tenant()
                    .log()
                    .write(Level::Error, &format!("reading person {email}: {e}"));
                None
            }
        }
    }
}

/// A ROOMS person as the WIT `person` record.
pub(crate) fn to_wit(p: rooms_db::Person) -> Person {
    Person {
        email: p.email,
        sync_mode: match p.sync_mode {
            rooms_db::SyncMode::O365 => SyncMode::O365,
            rooms_db::SyncMode::O365Pull => SyncMode::O365Pull,
        },
        sync_url: p.sync_url,
        conflict_behaviour: match p.conflict {
            rooms_db::ConflictBehaviour::Rollback => ConflictBehaviour::Rollback,
            rooms_db::ConflictBehaviour::Cancel => ConflictBehaviour::Cancel,
        },
        sync_disabled: p.sync_disabled,
    }
}
