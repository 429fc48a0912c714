//! Entra ID token-endpoint errors, shaped like `fixtures/oauth/*.json`.
//!
//! Each constructor carries the real AADSTS code, OAuth `error` value, HTTP status and message
//! text of Entra ID (from the public error-code reference and real responses quoted in issue
//! threads). Where Entra's exact wording for a case is not public, the text says so plainly and
//! the code is the closest real one; the README lists those cases.

use jiff::Timestamp;
use serde_json::json;

/// One token-endpoint error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status (400, or 401 for `invalid_client`).
    pub status: u16,
    /// The OAuth `error` value.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// Message text after `AADSTSnnnnn: `.
    pub message: String,
    /// Entra's `suberror`, where it sends one.
    pub suberror: Option<&'static str>,
}

impl EntraError {
    fn new(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            code,
            message: message.into(),
            suberror: None,
        }
    }

    fn sub(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(suberror);
        self
    }

    /// The JSON body, with a trace id, the correlation id and the timestamp.
    pub fn body(&self, now: Timestamp, trace_id: &str, correlation_id: &str) -> serde_json::Value {
        let ts = now.strftime("%Y-%m-%d %H:%M:%SZ").to_string();
        let mut v = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {ts}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(s) = self.suberror {
            v["suberror"] = json!(s);
        }
        v
    }

    /// AADSTS900561: the endpoint takes POST only.
    pub fn post_only(method: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900561,
            format!("The endpoint only accepts POST requests. Received a {method} request."),
        )
    }

    /// AADSTS900023: the tenant segment is not a GUID or domain.
    pub fn tenant_malformed(tenant: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900023,
            format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        )
    }

    /// AADSTS90002: unknown tenant.
    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// AADSTS900144: a required parameter is missing.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// AADSTS70003: unsupported grant type.
    pub fn unsupported_grant(grant: &str) -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    /// AADSTS700038: the client id is not a GUID.
    pub fn client_id_malformed(client_id: &str) -> Self {
        Self::new(
            400,
            "unauthorized_client",
            700038,
            format!("{client_id} is not a valid application identifier."),
        )
    }

    /// AADSTS700016: app not found in the tenant.
    pub fn app_not_found(client_id: &str, tenant: &str) -> Self {
        Self::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// AADSTS7000218: a confidential client sent no credential.
    pub fn credential_required() -> Self {
        Self::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    }

    /// AADSTS7000215: wrong client secret.
    pub fn invalid_secret(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    /// AADSTS7000222: the client secret expired.
    pub fn secret_expired(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
            ),
        )
    }

    /// AADSTS50027: the client assertion is not a valid JWT.
    pub fn assertion_malformed(detail: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            50027,
            format!("JWT token is invalid or malformed. {detail}"),
        )
    }

    /// AADSTS700027: the signing certificate is not registered.
    pub fn assertion_key_not_found(thumbprint: &str, client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]"
            ),
        )
    }

    /// AADSTS700027: bad signature.
    pub fn assertion_signature() -> Self {
        Self::new(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        )
    }

    /// AADSTS700021: `iss`/`sub` is not the client id.
    pub fn assertion_issuer() -> Self {
        Self::new(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        )
    }

    /// AADSTS50012: `aud` is not this token endpoint.
    pub fn assertion_audience(aud: &str, expected: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            50012,
            format!(
                "Client assertion audience claim does not match Realm issuer. The audience in the assertion was '{aud}' and the expected audience is '{expected}'."
            ),
        )
    }

    /// AADSTS700024: outside `nbf`..`exp` (or an over-long validity).
    pub fn assertion_time(now: Timestamp, nbf: Option<Timestamp>, exp: Option<Timestamp>) -> Self {
        let fmt = |t: Option<Timestamp>| {
            t.unwrap_or(Timestamp::UNIX_EPOCH)
                .strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
                .to_string()
        };
        Self::new(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                fmt(Some(now)),
                fmt(nbf),
                fmt(exp)
            ),
        )
    }

    /// AADSTS700024 variant: the assertion's validity exceeds the allowed lifetime.
    pub fn assertion_too_long(max_seconds: u64) -> Self {
        Self::new(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. The assertion is valid for longer than the allowed {max_seconds} seconds ('exp' - 'nbf'). Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
            ),
        )
    }

    /// Replayed `jti` (Entra's wording for this case is not public).
    pub fn assertion_replayed() -> Self {
        Self::new(
            401,
            "invalid_client",
            700027,
            "Client assertion failed validation: the 'jti' claim was already used by an earlier assertion of this client. Create a new assertion with a unique 'jti' for every request.",
        )
    }

    /// AADSTS1002012: client credentials need `<resource>/.default`.
    pub fn scope_not_default(scope: &str) -> Self {
        Self::new(
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    }

    /// AADSTS70011: invalid scope.
    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    /// AADSTS500011: unknown resource.
    pub fn resource_not_found(resource: &str, tenant: &str) -> Self {
        Self::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// AADSTS50034: unknown user.
    pub fn user_not_found(tenant: &str) -> Self {
        Self::new(
            400,
            "invalid_grant",
            50034,
            format!(
                "The user account {{EUII Hidden}} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory."
            ),
        )
    }

    /// AADSTS50126: wrong password.
    pub fn bad_password() -> Self {
        Self::new(
            400,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        )
    }

    /// AADSTS50055: password expired.
    pub fn password_expired() -> Self {
        Self::new(400, "invalid_grant", 50055, "The password is expired.")
            .sub("user_password_expired")
    }

    /// AADSTS50076: MFA required.
    pub fn mfa_required() -> Self {
        Self::new(400, "invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.").sub("basic_action")
    }

    /// AADSTS53003: blocked by Conditional Access.
    pub fn conditional_access() -> Self {
        Self::new(400, "invalid_grant", 53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.").sub("message_only")
    }

    /// AADSTS65001: no consent.
    pub fn consent_required(client_id: &str, name: &str) -> Self {
        Self::new(400, "invalid_grant", 65001, format!("The user or administrator has not consented to use the application with ID '{client_id}' named '{name}'. Send an interactive authorization request for this user and resource.")).sub("consent_required")
    }

    /// AADSTS9002313: malformed refresh token.
    pub fn refresh_malformed() -> Self {
        Self::new(
            400,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        )
    }

    /// AADSTS70000: the refresh token was already redeemed (rotated) or belongs to another client.
    pub fn refresh_invalid() -> Self {
        Self::new(
            400,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed.",
        )
    }

    /// AADSTS700082: the refresh token expired.
    pub fn refresh_expired(issued: Timestamp) -> Self {
        Self::new(
            400,
            "invalid_grant",
            700082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for the maximum allowed lifetime.",
                issued.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_fixture_shape() {
        let now: Timestamp = "2026-01-09T02:02:12Z".parse().unwrap();
        let body = EntraError::invalid_scope("x").body(now, "t", "c");
        let desc = body["error_description"].as_str().unwrap();
        assert!(desc.starts_with("AADSTS70011: "));
        assert!(
            desc.ends_with(
                "\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-09 02:02:12Z"
            )
        );
        assert_eq!(body["error_codes"][0], 70011);
        for key in [
            "error",
            "error_description",
            "error_codes",
            "timestamp",
            "trace_id",
            "correlation_id",
            "error_uri",
        ] {
            assert!(body.get(key).is_some(), "missing key {key}");
        }
    }
}
