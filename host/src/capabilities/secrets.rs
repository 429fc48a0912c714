//! `rooms:exchange-sync/secrets`: credentials revealed by name, and RS256
//! signatures made with a certificate's private key.
//!
//! Only the two credentials a sign-in needs can be revealed
//! (`ExchangeClientSecret`, `ExchangeServicePassword`), only the calling
//! tenant's, and only from where the operator allows (`--secret-env-prefix`,
//! `--secrets-dir`). Private keys never leave [`crate::certs`]: the component gets a
//! signature and the certificate, never key bytes. Values are never logged;
//! the log says which secret was asked for.

use std::time::SystemTime;

use crate::bindings::rooms::exchange_sync::secrets::{Host, SecretError, Signature};
use crate::bindings::rooms::exchange_sync::types::CertificateError;
use crate::certs::CertError;
use crate::log::Level;
use crate::state::TenantState;

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
        let store = tenant.certificates();
        match store.sign_rs256(&thumbprint, &data, SystemTime::now()) {
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
                    CertError::KeyNotReadable { .. } => {
                        CertificateError::KeyNotReadable(e.to_string())
                    }
                })
            }
        }
    }
}
