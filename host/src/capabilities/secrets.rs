//! `rooms:exchange-sync/secrets`: credentials revealed by name, and RS256
//! signatures made with a certificate's private key.
//!
//! Only the two credentials a sign-in needs can be revealed
//! (`ExchangeClientSecret`, `ExchangeServicePassword`), only the calling
//! tenant's, and only from where the operator allows (`--secret-env-prefix`,
//! `--secrets-dir`). Only the certificates the tenant's settings name
//! (`ExchangeCertThumbprint`, also in a domain override) sign; another
//! certificate in `certs/` is refused as not found. Private keys never leave
//! [`crate::certs`]: the component gets a signature and the certificate, never
//! key bytes. Values are never logged; the log says which secret or
//! certificate was asked for.

use std::time::SystemTime;

use crate::bindings::rooms::exchange_sync::secrets::{Host, SecretError, Signature};
use crate::bindings::rooms::exchange_sync::types::CertificateError;
use crate::certs::{CertError, normalize_thumbprint};
use crate::log::Level;
use crate::state::TenantState;
use crate::tenant::Tenant;

/// The secrets a component may ask for by name.
pub const REVEALABLE: [&str; 2] = ["ExchangeClientSecret", "ExchangeServicePassword"];

impl Host for TenantState {
    fn reveal(&mut self, name: String) -> Result<String, SecretError> {
        let tenant = self.tenant();
        if !REVEALABLE.contains(&name.as_str()) {
            tenant.log().write(
                Level::Warn,
                &format!("component asked for secret `{name}`, which is not revealable"),
            );
            return Err(SecretError::NotFound);
        }
        let Some(reference) = tenant.settings().secret(&name) else {
            return Err(SecretError::NotFound);
        };
        match reference.resolve(&tenant.inputs().secrets, tenant.env(), tenant.dir()) {
            Ok(secret) => {
                tenant.log().write(
                    Level::Debug,
                    &format!("revealed secret `{name}` to the component"),
                );
                Ok(secret.expose().to_string())
            }
            Err(e) => Err(SecretError::Unreadable(format!("{name}: {e}"))),
        }
    }

    fn sign_rs256(
        &mut self,
        thumbprint: String,
        data: Vec<u8>,
    ) -> Result<Signature, CertificateError> {
        let tenant = self.tenant().clone();
        sign_for(&tenant, &thumbprint, &data, SystemTime::now())
    }
}

/// Signs `data` for `tenant` with the certificate `thumbprint`, if the tenant's settings name
/// that certificate; any other certificate is refused as not found, with a log line.
pub(crate) fn sign_for(
    tenant: &Tenant,
    thumbprint: &str,
    data: &[u8],
    now: SystemTime,
) -> Result<Signature, CertificateError> {
    let configured = normalize_thumbprint(thumbprint)
        .is_ok_and(|normalized| tenant.settings().uses_certificate(&normalized));
    if !configured {
        let message = format!(
            "the component asked to sign with certificate {thumbprint}, which the tenant's \
             settings do not name (ExchangeCertThumbprint); refused"
        );
        tenant.log().write(Level::Warn, &message);
        return Err(CertificateError::NotFound(message));
    }
    match tenant.certificates().sign_rs256(thumbprint, data, now) {
        Ok(signed) => {
            tenant.log().write(
                Level::Debug,
                &format!("signed a client assertion with certificate {thumbprint}"),
            );
            Ok(Signature {
                signature: signed.signature,
                certificate_der: signed.certificate_der,
            })
        }
        Err(e) => {
            tenant.log().write(Level::Warn, &e.to_string());
            Err(match e {
                CertError::NotFound { .. } => CertificateError::NotFound(e.to_string()),
                CertError::Expired { .. } => CertificateError::Expired(e.to_string()),
                CertError::KeyNotReadable { .. } => CertificateError::KeyNotReadable(e.to_string()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::log::{LogSink, MemoryLog};
    use crate::settings::TenantInputs;

    /// The demo certificate (`tests/certs/demo-app.*`) and another one with its key
    /// (`tests/certs/pkcs8-combined.pem`).
    const DEMO: &str = "332459433B54FC0C2185F75A618FD3C83C7B9584";
    const OTHER: &str = "747907D37625EDAC941AC8DC72B2BA85FF4E9B14";

    /// 2027-01-15, inside the fixtures' validity.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// A tenant whose settings name `thumbprint`, with both certificates in `certs/`.
    fn tenant(settings_thumbprint: &str) -> (tempfile::TempDir, Arc<Tenant>, MemoryLog) {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/certs");
        std::fs::create_dir(dir.path().join("certs")).unwrap();
        for file in ["demo-app.crt", "demo-app.key", "pkcs8-combined.pem"] {
            std::fs::copy(fixtures.join(file), dir.path().join("certs").join(file)).unwrap();
        }
        std::fs::write(
            dir.path().join("RoomsAppSettings.config"),
            format!(
                "<RoomsAppSettings>\n\
                 <add key=\"ExchangeTenantId\" value=\"72f988bf-86f1-41af-91ab-2d7cd011db47\" />\n\
                 <add key=\"ExchangeAppId\" value=\"6e9157a8-801c-4f5c-9522-9ae9ffd2aa4f\" />\n\
                 <add key=\"ExchangeCertThumbprint\" value=\"{settings_thumbprint}\" />\n\
                 </RoomsAppSettings>\n"
            ),
        )
        .unwrap();
        let (sink, log) = LogSink::memory();
        let tenant = Tenant::open(
            dir.path(),
            Arc::new(std::collections::HashMap::<String, String>::new()),
            TenantInputs::default(),
            sink,
        )
        .unwrap();
        (dir, tenant, log)
    }

    #[test]
    fn only_the_configured_certificate_signs() {
        // Spaced and lower case, as Windows shows it: the comparison is normalized.
        let spaced = "33 24 59 43 3b 54 fc 0c 21 85 f7 5a 61 8f d3 c8 3c 7b 95 84";
        let (_dir, tenant, log) = tenant(spaced);
        assert!(tenant.certificates().check(OTHER, now()).is_ok());
        let signed = sign_for(&tenant, &DEMO.to_ascii_lowercase(), b"data", now()).unwrap();
        assert!(!signed.signature.is_empty());

        let refused = sign_for(&tenant, OTHER, b"data", now()).unwrap_err();
        let CertificateError::NotFound(message) = refused else {
            panic!("{refused:?}");
        };
        assert!(message.contains(OTHER), "{message}");
        let log = log.text();
        assert!(
            log.contains(&format!("asked to sign with certificate {OTHER}")),
            "{log}"
        );
        for garbage in ["", "not a thumbprint"] {
            assert!(matches!(
                sign_for(&tenant, garbage, b"data", now()),
                Err(CertificateError::NotFound(_))
            ));
        }
    }
}
