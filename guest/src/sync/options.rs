//! The sync settings, read from the tenant's settings with their defaults.
//!
//! | key | default | what |
//! |---|---|---|
//! | `SyncGetItemBatchSize` | 100 | items per `GetItem` (1 to 500) |
//! | `SyncSendMeetingInvitations` | `SendToAllAndSaveCopy` | invitations for meetings written to an organiser's calendar (`SendToNone`, `SendOnlyToAll`, `SendToAllAndSaveCopy`) |
//! | `SyncRollbackAttempts` | 5 | conflicts in a row before a `Rollback` booking is sync-disabled |
//! | `SyncCancelAttempts` | 2 | conflicts in a row before a `Cancel` booking is cancelled |
//! | `SyncRetryMaxSeconds` | 300 | total waiting for one request under throttling |
//!
//! A value that cannot be used is logged and replaced by its default: the
//! host's settings check (`rooms-sync check`) names it before a run.

use crate::platform::{Level, Platform};

/// `SyncGetItemBatchSize`.
pub const BATCH_SIZE: &str = "SyncGetItemBatchSize";
/// `SyncSendMeetingInvitations`.
pub const SEND_INVITATIONS: &str = "SyncSendMeetingInvitations";
/// `SyncRollbackAttempts`.
pub const ROLLBACK_ATTEMPTS: &str = "SyncRollbackAttempts";
/// `SyncCancelAttempts`.
pub const CANCEL_ATTEMPTS: &str = "SyncCancelAttempts";
/// `SyncRetryMaxSeconds`.
pub const RETRY_MAX_SECONDS: &str = "SyncRetryMaxSeconds";

/// The sync settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Items per GetItem.
    pub batch_size: usize,
    /// `SendMeetingInvitations` for the organiser's calendar.
    pub send_invitations: String,
    /// Conflicts before sync-disabled (`Rollback`).
    pub rollback_attempts: u32,
    /// Conflicts before cancelling (`Cancel`).
    pub cancel_attempts: u32,
    /// Total wait of one request, in milliseconds.
    pub retry_max_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: 100,
            send_invitations: "SendToAllAndSaveCopy".into(),
            rollback_attempts: 5,
            cancel_attempts: 2,
            retry_max_ms: 300_000,
        }
    }
}

impl Options {
    /// The settings of the tenant, defaults for what is unset or unusable.
    pub fn read(platform: &dyn Platform) -> Options {
        let d = Options::default();
        let number = |key: &str, min: u64, max: u64, default: u64| -> u64 {
            match platform.config(key) {
                Ok(Some(v)) => match v.trim().parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => n,
                    _ => {
                        platform.log(
                            Level::Warn,
                            &format!(
                                "{key} must be a whole number from {min} to {max}; using {default}"
                            ),
                        );
                        default
                    }
                },
                _ => default,
            }
        };
        let send = match platform.config(SEND_INVITATIONS) {
            Ok(Some(v)) => match v.trim() {
                s @ ("SendToNone" | "SendOnlyToAll" | "SendToAllAndSaveCopy") => s.to_owned(),
                _ => {
                    platform.log(
                        Level::Warn,
                        &format!(
                            "{SEND_INVITATIONS} must be SendToNone, SendOnlyToAll or \
                             SendToAllAndSaveCopy; using {}",
                            d.send_invitations
                        ),
                    );
                    d.send_invitations.clone()
                }
            },
            _ => d.send_invitations.clone(),
        };
        Options {
            batch_size: number(BATCH_SIZE, 1, 500, d.batch_size as u64) as usize,
            send_invitations: send,
            rollback_attempts: number(ROLLBACK_ATTEMPTS, 1, 100, u64::from(d.rollback_attempts))
                as u32,
            cancel_attempts: number(CANCEL_ATTEMPTS, 1, 100, u64::from(d.cancel_attempts)) as u32,
            retry_max_ms: number(RETRY_MAX_SECONDS, 0, 86_400, d.retry_max_ms / 1000) * 1000,
        }
    }
}
