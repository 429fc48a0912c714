//! The catalogue of setting keys: their original spelling (`Miliseconds`, `Intervall` included),
//! kind, default and range, and the typo help for unknown keys.

/// `ExchangeTenantId`: the Directory (tenant) ID, a GUID.
pub const TENANT_ID: &str = "ExchangeTenantId";
/// `ExchangeAppId`: the Application (client) ID of the app registration, a GUID.
pub const APP_ID: &str = "ExchangeAppId";
/// `ExchangeClientSecret`: the client secret's value (secret).
pub const CLIENT_SECRET: &str = "ExchangeClientSecret";
/// `ExchangeCertThumbprint`: SHA-1 thumbprint of the sign-in certificate.
pub const CERT_THUMBPRINT: &str = "ExchangeCertThumbprint";
/// `ExchangeCertPassword`: password of `.pfx` files and encrypted keys in `certs/` (secret).
pub const CERT_PASSWORD: &str = "ExchangeCertPassword";
/// `ExchangeUseImpersonation`: `true` (app-only, default) or `false` (delegated service user).
pub const USE_IMPERSONATION: &str = "ExchangeUseImpersonation";
/// `ExchangeServiceUser`: the service user of delegated mode.
pub const SERVICE_USER: &str = "ExchangeServiceUser";
/// `ExchangeServicePassword`: the service user's password (secret).
pub const SERVICE_PASSWORD: &str = "ExchangeServicePassword";
/// `ExchangeAuthorityUrl`: the Entra ID sign-in host.
pub const AUTHORITY_URL: &str = "ExchangeAuthorityUrl";
/// `ExchangeAllowInsecureLoopback`: allow `http://` to 127.0.0.0/8 and `::1` (tests only).
pub const ALLOW_INSECURE_LOOPBACK: &str = "ExchangeAllowInsecureLoopback";
/// `ExchangeAllowPrivateNetworks`: allow outgoing requests to private-range addresses (an
/// on-premises Exchange of a hybrid organisation).
pub const ALLOW_PRIVATE_NETWORKS: &str = "ExchangeAllowPrivateNetworks";
/// `ExchangePushNotificationEndpointUrl`: the public webhook Exchange posts notifications to.
pub const PUSH_NOTIFICATION_ENDPOINT_URL: &str = "ExchangePushNotificationEndpointUrl";
/// `ExchangeEwsUrl`: the EWS endpoint (from `EwsUrl` of `appsettings.json`).
pub const EWS_URL: &str = "ExchangeEwsUrl";
/// `OAuthTokenMinutesBeforeRenew`.
pub const OAUTH_TOKEN_MINUTES_BEFORE_RENEW: &str = "OAuthTokenMinutesBeforeRenew";
/// `BatchGetEventsSize`.
pub const BATCH_GET_EVENTS_SIZE: &str = "BatchGetEventsSize";
/// `BatchGetEventsSleepBetweenBatchesInMiliseconds` (original spelling).
pub const BATCH_GET_EVENTS_SLEEP: &str = "BatchGetEventsSleepBetweenBatchesInMiliseconds";
/// `BatchGetEventsTimeoutInMiliseconds` (original spelling).
pub const BATCH_GET_EVENTS_TIMEOUT: &str = "BatchGetEventsTimeoutInMiliseconds";
/// `BatchSubscribeSize`.
pub const BATCH_SUBSCRIBE_SIZE: &str = "BatchSubscribeSize";
/// `BatchSubscribeTimeoutInMiliseconds` (original spelling).
pub const BATCH_SUBSCRIBE_TIMEOUT: &str = "BatchSubscribeTimeoutInMiliseconds";
/// `FailedGetEventsTillDeactivate`.
pub const FAILED_GET_EVENTS_TILL_DEACTIVATE: &str = "FailedGetEventsTillDeactivate";
/// `FailedSubscribeTillDeactivate`.
pub const FAILED_SUBSCRIBE_TILL_DEACTIVATE: &str = "FailedSubscribeTillDeactivate";
/// `IntervallSubscribeInMinutes` (original spelling).
pub const INTERVALL_SUBSCRIBE: &str = "IntervallSubscribeInMinutes";
/// `IntervallTaskInSeconds` (original spelling).
pub const INTERVALL_TASK: &str = "IntervallTaskInSeconds";
/// `SubscriptionTimeoutInMinutes`.
pub const SUBSCRIPTION_TIMEOUT: &str = "SubscriptionTimeoutInMinutes";
/// `RenewalThresholdMinutes` (`appsettings.json`, `CalendarSync:Ews:Common`).
pub const RENEWAL_THRESHOLD: &str = "RenewalThresholdMinutes";
/// `StatusFrequencyMinutes` (`appsettings.json`, `CalendarSync:Ews:Common`).
pub const STATUS_FREQUENCY: &str = "StatusFrequencyMinutes";
/// `SyncGetItemBatchSize`: items per `GetItem` request of the sync (100).
pub const SYNC_GET_ITEM_BATCH_SIZE: &str = "SyncGetItemBatchSize";
/// `SyncRollbackAttempts`: conflicts in a row before a `Rollback` booking is sync-disabled (5).
pub const SYNC_ROLLBACK_ATTEMPTS: &str = "SyncRollbackAttempts";
/// `SyncCancelAttempts`: conflicts in a row before a `Cancel` booking is cancelled (2).
pub const SYNC_CANCEL_ATTEMPTS: &str = "SyncCancelAttempts";
/// `SyncRetryMaxSeconds`: the total waiting for one request under throttling (300).
pub const SYNC_RETRY_MAX_SECONDS: &str = "SyncRetryMaxSeconds";
/// `SyncMaxConcurrentMailboxes`: mailboxes of a tenant synced at once (4; Exchange Online allows
/// 27 connections per account).
pub const SYNC_MAX_CONCURRENT_MAILBOXES: &str = "SyncMaxConcurrentMailboxes";
/// `SyncSendMeetingInvitations`: `SendMeetingInvitations` of meetings the sync writes to an
/// organiser's calendar (`SendToAllAndSaveCopy`, `SendOnlyToAll` or `SendToNone`).
pub const SYNC_SEND_MEETING_INVITATIONS: &str = "SyncSendMeetingInvitations";

/// The keys whose values are secrets: never in `public_config`, errors or logs.
pub const SECRET_KEYS: [&str; 3] = [CLIENT_SECRET, SERVICE_PASSWORD, CERT_PASSWORD];

/// A numeric setting: key, default, allowed range (inclusive) and what the number counts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Number {
    pub key: &'static str,
    pub default: u32,
    pub min: u32,
    pub max: u32,
    pub unit: &'static str,
}

/// Every numeric setting. The ranges keep values sensible: a pull subscription lives 1 to 1440
/// minutes (EWS `Timeout`), an access token about 60 to 90 minutes.
pub(crate) const NUMBERS: [Number; 18] = [
    number(OAUTH_TOKEN_MINUTES_BEFORE_RENEW, 20, 0, 55, "minutes"),
    number(BATCH_GET_EVENTS_SIZE, 100, 1, 1000, "subscriptions"),
    number(BATCH_GET_EVENTS_SLEEP, 0, 0, 600_000, "milliseconds"),
    number(
        BATCH_GET_EVENTS_TIMEOUT,
        100_000,
        1000,
        600_000,
        "milliseconds",
    ),
    number(BATCH_SUBSCRIBE_SIZE, 100, 1, 1000, "mailboxes"),
    number(
        BATCH_SUBSCRIBE_TIMEOUT,
        10_000,
        1000,
        600_000,
        "milliseconds",
    ),
    number(FAILED_GET_EVENTS_TILL_DEACTIVATE, 10, 1, 1000, "failures"),
    number(FAILED_SUBSCRIBE_TILL_DEACTIVATE, 10, 1, 1000, "failures"),
    number(INTERVALL_SUBSCRIBE, 20, 1, 1440, "minutes"),
    number(INTERVALL_TASK, 30, 1, 86_400, "seconds"),
    number(SUBSCRIPTION_TIMEOUT, 720, 1, 1440, "minutes"),
    number(RENEWAL_THRESHOLD, 40, 1, 1440, "minutes"),
    number(STATUS_FREQUENCY, 30, 1, 1440, "minutes"),
    number(SYNC_GET_ITEM_BATCH_SIZE, 100, 1, 500, "items"),
    number(SYNC_ROLLBACK_ATTEMPTS, 5, 1, 100, "conflicts"),
    number(SYNC_CANCEL_ATTEMPTS, 2, 1, 100, "conflicts"),
    number(SYNC_RETRY_MAX_SECONDS, 300, 0, 86_400, "seconds"),
    number(SYNC_MAX_CONCURRENT_MAILBOXES, 4, 1, 27, "mailboxes"),
];

const fn number(key: &'static str, default: u32, min: u32, max: u32, unit: &'static str) -> Number {
    Number {
        key,
        default,
        min,
        max,
        unit,
    }
}

/// The default of `ExchangeAuthorityUrl`.
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";

/// The default of `ExchangeEwsUrl`, the Sync-URL preset of the original product.
pub const DEFAULT_EWS_URL: &str = "https://outlook.office365.com/EWS/Exchange.asmx";

/// Every key the sync knows, in the order `public_config` lists them.
pub(crate) const ALL: [&str; 32] = [
    TENANT_ID,
    APP_ID,
    CLIENT_SECRET,
    CERT_THUMBPRINT,
    CERT_PASSWORD,
    USE_IMPERSONATION,
    SERVICE_USER,
    SERVICE_PASSWORD,
    AUTHORITY_URL,
    ALLOW_INSECURE_LOOPBACK,
    ALLOW_PRIVATE_NETWORKS,
    EWS_URL,
    PUSH_NOTIFICATION_ENDPOINT_URL,
    OAUTH_TOKEN_MINUTES_BEFORE_RENEW,
    BATCH_GET_EVENTS_SIZE,
    BATCH_GET_EVENTS_SLEEP,
    BATCH_GET_EVENTS_TIMEOUT,
    BATCH_SUBSCRIBE_SIZE,
    BATCH_SUBSCRIBE_TIMEOUT,
    FAILED_GET_EVENTS_TILL_DEACTIVATE,
    FAILED_SUBSCRIBE_TILL_DEACTIVATE,
    INTERVALL_SUBSCRIBE,
    INTERVALL_TASK,
    SUBSCRIPTION_TIMEOUT,
    RENEWAL_THRESHOLD,
    STATUS_FREQUENCY,
    SYNC_GET_ITEM_BATCH_SIZE,
    SYNC_ROLLBACK_ATTEMPTS,
    SYNC_CANCEL_ATTEMPTS,
    SYNC_RETRY_MAX_SECONDS,
    SYNC_MAX_CONCURRENT_MAILBOXES,
    SYNC_SEND_MEETING_INVITATIONS,
];

/// Whether `key` is a setting of the sync (case-insensitive).
pub(crate) fn is_known(key: &str) -> bool {
    ALL.iter().any(|known| known.eq_ignore_ascii_case(key))
}

/// The known key nearest to `key` (by edit distance, ignoring case), with its distance.
pub(crate) fn nearest(key: &str) -> (&'static str, usize) {
    let key = key.to_ascii_lowercase();
    ALL.iter()
        .map(|known| (*known, edit_distance(&key, &known.to_ascii_lowercase())))
        .min_by_key(|(_, distance)| *distance)
        .expect("the catalogue is not empty")
}

/// Levenshtein distance over characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "abd"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("ab", "abc"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_finds_the_intended_key() {
        assert_eq!(nearest("ExchangeTennantId"), (TENANT_ID, 1));
        assert_eq!(nearest("exchangeclientsecrets"), (CLIENT_SECRET, 1));
        assert_eq!(
            nearest("BatchGetEventsSleepBetweenBatchesInMilliseconds").0,
            BATCH_GET_EVENTS_SLEEP
        );
        assert_eq!(
            nearest("IntervalSubscribeInMinutes"),
            (INTERVALL_SUBSCRIBE, 1)
        );
    }

    #[test]
    fn known_keys_keep_their_original_spelling() {
        assert!(is_known("BatchGetEventsTimeoutInMiliseconds"));
        assert!(is_known("intervalltaskinseconds"));
        assert!(!is_known("BatchGetEventsTimeoutInMilliseconds"));
        assert!(!is_known("ExchangeUrl"));
    }
}
