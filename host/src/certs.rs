//! The certificate store of a tenant, indexed by SHA-1 thumbprint.
//!
//! [`CertStore::load`] reads every file of the tenant's `certs/` folder once, parses certificates
//! and private keys, pairs each certificate with the key whose public part matches it, and keeps
//! the keys inside this module: the component asks for a signature
//! ([`CertStore::sign_rs256`]) and never sees key bytes. A broken file never aborts the load; it
//! is listed in [`CertStore::problems`].
//!
//! | file | content |
//! |---|---|
//! | `.pem` (or `.crt`, `.cer`, `.key` in PEM) | `CERTIFICATE` blocks and keys: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1), `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2: AES or 3DES, opened with `ExchangeCertPassword`) |
//! | `.crt`, `.cer`, `.der` in DER | one certificate; its key in a `.key` file of the same name, or anywhere in the folder |
//! | `.pfx`, `.p12` | PKCS#12 with `ExchangeCertPassword` (or an empty password): AES/PBES2 as OpenSSL 3 and current Windows export, and the legacy 3DES/RC2 of older exports |
//!
//! Thumbprints are matched case-insensitively, ignoring spaces, colons and the invisible
//! left-to-right mark (U+200E) that Windows' certificate dialog puts in front of a copied
//! thumbprint. Every error says what to fix, the way an Exchange administrator knows it: the
//! original product's "Keyset does not exist" is [`CertError::KeyNotReadable`].

mod error;
mod loader;
#[cfg(test)]
mod tests;
pub mod thumbprint;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};

pub use error::{CertError, FileProblem, KeyProblem};
pub use thumbprint::{ThumbprintError, normalize_thumbprint, thumbprint_of};

use crate::secrets::Secret;

/// An RS256 signature and the certificate whose key made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over the data.
    pub signature: Vec<u8>,
    /// The certificate's DER; its SHA-1 is the thumbprint (JWT `x5t`).
    pub certificate_der: Vec<u8>,
}

/// What the store knows about one certificate, for diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// SHA-1 thumbprint, 40 upper-case hexadecimal digits.
    pub thumbprint: String,
    /// The subject, as in `CN=rooms-sync`.
    pub subject: String,
    /// `notBefore` in RFC 3339.
    pub not_before: String,
    /// `notAfter` in RFC 3339.
    pub not_after: String,
    /// The file the certificate came from.
    pub file: PathBuf,
    /// Why the private key cannot be used; `None` when it can.
    pub key_problem: Option<KeyProblem>,
}

/// One certificate of the store with its key.
struct Stored {
    info: CertInfo,
    der: Vec<u8>,
    /// `notBefore` in seconds since 1970.
    not_before: u64,
    /// `notAfter` in seconds since 1970.
    not_after: u64,
    /// The signing key; `None` with the reason in `info.key_problem`.
    key: Option<SigningKey<Sha256>>,
}

/// The certificates and keys of a tenant's `certs/` folder.
pub struct CertStore {
    dir: PathBuf,
    certs: BTreeMap<String, Stored>,
    problems: Vec<FileProblem>,
}

/// Lists thumbprints and problems; never key material.
impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("dir", &self.dir)
            .field("certificates", &self.certs.keys().collect::<Vec<_>>())
            .field("problems", &self.problems)
            .finish()
    }
}

impl CertStore {
    /// Reads every file of `dir` (the tenant's `certs/` folder, not recursive). Encrypted keys
    /// and PFX files are opened with `pfx_password` (`ExchangeCertPassword`); PFX files also with
    /// an empty password when none is given. Never fails: problems are kept per file.
    pub fn load(dir: &Path, pfx_password: Option<&Secret>) -> Self {
        let (found, mut problems) = loader::load(dir, pfx_password);
        let mut certs: BTreeMap<String, Stored> = BTreeMap::new();
        for stored in found {
            // The same certificate in two files: keep the one with a usable key.
            let keep_old = certs
                .get(&stored.info.thumbprint)
                .is_some_and(|old| old.key.is_some() || stored.key.is_none());
            if !keep_old {
                certs.insert(stored.info.thumbprint.clone(), stored);
            }
        }
        problems.sort_by(|a, b| a.file.cmp(&b.file));
        Self {
            dir: dir.to_owned(),
            certs,
            problems,
        }
    }

    /// The folder the store was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Files that could not be used, with the reason.
    pub fn problems(&self) -> &[FileProblem] {
        &self.problems
    }

    /// Every certificate, ordered by thumbprint.
    pub fn certificates(&self) -> impl Iterator<Item = &CertInfo> {
        self.certs.values().map(|stored| &stored.info)
    }

    /// Checks that the certificate `thumbprint` can sign at `now`, without signing: the same
    /// errors as [`Self::sign_rs256`].
    pub fn check(&self, thumbprint: &str, now: SystemTime) -> Result<&CertInfo, CertError> {
        self.usable(thumbprint, now).map(|(stored, _)| &stored.info)
    }

    /// Signs `data` with RSASSA-PKCS1-v1_5 and SHA-256 (JWS `RS256`) using the key of the
    /// certificate `thumbprint` (any case; spaces, colons and U+200E ignored), if that
    /// certificate is valid at `now`.
    pub fn sign_rs256(
        &self,
        thumbprint: &str,
        data: &[u8],
        now: SystemTime,
    ) -> Result<Signature, CertError> {
        let (stored, key) = self.usable(thumbprint, now)?;
        // Signing blinds the RSA operation with the system's random numbers; the signature is the
        // same as without.
        let signature = key
            .try_sign(data)
            .map_err(|error| CertError::KeyNotReadable {
                thumbprint: stored.info.thumbprint.clone(),
                problem: KeyProblem::Malformed {
                    file: stored.info.file.clone(),
                    reason: format!("signing failed: {error}"),
                },
            })?;
        Ok(Signature {
            signature: signature.to_vec(),
            certificate_der: stored.der.clone(),
        })
    }

    /// The certificate and its key, if both can be used at `now`.
    fn usable(
        &self,
        thumbprint: &str,
        now: SystemTime,
    ) -> Result<(&Stored, &SigningKey<Sha256>), CertError> {
        let not_found = || CertError::NotFound {
            thumbprint: thumbprint.to_owned(),
            folder: self.dir.clone(),
            available: self.certs.keys().cloned().collect(),
            unreadable: self.problems.clone(),
        };
        let normalized = normalize_thumbprint(thumbprint).map_err(|_| not_found())?;
        let stored = self.certs.get(&normalized).ok_or_else(not_found)?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if now > stored.not_after {
            return Err(CertError::Expired {
                thumbprint: normalized,
                date: stored.info.not_after.clone(),
                not_yet_valid: false,
            });
        }
        if now < stored.not_before {
            return Err(CertError::Expired {
                thumbprint: normalized,
                date: stored.info.not_before.clone(),
                not_yet_valid: true,
            });
        }
        match (&stored.key, &stored.info.key_problem) {
            (Some(key), _) => Ok((stored, key)),
            (None, problem) => Err(CertError::KeyNotReadable {
                thumbprint: normalized,
                problem: problem.clone().unwrap_or(KeyProblem::Missing {
                    cert_file: stored.info.file.clone(),
                }),
            }),
        }
    }
}
