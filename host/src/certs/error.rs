//! The errors of the certificate store: each says what is wrong and what to fix, and none
//! carries key material or a password.

use std::fmt;
use std::path::PathBuf;

/// A file of the folder that could not be used, and why. Never contains key material or a
/// password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    /// The file.
    pub file: PathBuf,
    /// What is wrong and what to do.
    pub problem: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.problem)
    }
}

/// Why the private key of a certificate cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// No private key for the certificate in the folder.
    #[error(
        "no private key for the certificate in {} is in the folder (.cer and .crt files hold \
         only the public part)",
        cert_file.display()
    )]
    Missing {
        /// The certificate's file.
        cert_file: PathBuf,
    },
    /// The key file exists, but the host may not read it.
    #[error("the key file {} cannot be read: {reason}", file.display())]
    Unreadable {
        /// The key's file.
        file: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The key is encrypted, and `ExchangeCertPassword` is not set.
    #[error("the key in {} is protected by a password, and ExchangeCertPassword is not set", file.display())]
    PasswordMissing {
        /// The encrypted file.
        file: PathBuf,
    },
    /// `ExchangeCertPassword` does not open the key.
    #[error("ExchangeCertPassword does not open {}", file.display())]
    WrongPassword {
        /// The encrypted file.
        file: PathBuf,
    },
    /// The key is encrypted in a way this host cannot decrypt.
    #[error("the key in {} is encrypted with {scheme}, which rooms-sync cannot decrypt", file.display())]
    UnsupportedEncryption {
        /// The encrypted file.
        file: PathBuf,
        /// The encryption, as far as known.
        scheme: String,
    },
    /// The certificate or its key is not RSA.
    #[error(
        "the certificate in {} has an {algorithm} key, but Entra ID client assertions signed \
         with RS256 need an RSA key",
        file.display()
    )]
    NotRsa {
        /// The certificate's file.
        file: PathBuf,
        /// The key algorithm (`EC`, `Ed25519`, ...).
        algorithm: String,
    },
    /// A key next to the certificate belongs to another certificate.
    #[error("the private key in {} does not belong to this certificate", key_file.display())]
    Mismatch {
        /// The file with the other key.
        key_file: PathBuf,
    },
    /// The key cannot be parsed.
    #[error("the key in {} cannot be read: {reason}", file.display())]
    Malformed {
        /// The key's file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl KeyProblem {
    /// What to do about it.
    pub fn fix(&self) -> String {
        match self {
            Self::Missing { cert_file } => format!(
                "put the private key into the certs/ folder: export the certificate from Windows \
                 with \"Yes, export the private key\" as .pfx, or add a .key file named like {} \
                 (the original product's \"Keyset does not exist\")",
                cert_file
                    .file_stem()
                    .map_or_else(String::new, |stem| format!(
                        "{}.key",
                        stem.to_string_lossy()
                    ))
            ),
            Self::Unreadable { file, .. } => format!(
                "give the user running rooms-sync read permission on {} (the original product's \
                 \"Keyset does not exist\")",
                file.display()
            ),
            Self::PasswordMissing { .. } => {
                "set ExchangeCertPassword to the password chosen when the key was exported".into()
            }
            Self::WrongPassword { .. } => "set ExchangeCertPassword to the password chosen when \
                                           the key was exported, or export it again"
                .into(),
            Self::UnsupportedEncryption { .. } => "convert the key to PKCS#8 with AES: openssl \
                                                   pkcs8 -topk8 -v2 aes-256-cbc -in old.key -out \
                                                   new.key"
                .into(),
            Self::NotRsa { .. } => "create an RSA certificate (2048 bits or more), upload its \
                                    public part to the app registration, and update \
                                    ExchangeCertThumbprint"
                .into(),
            Self::Mismatch { .. } => "put the key that belongs to the certificate next to it, or \
                                      export certificate and key together as .pfx"
                .into(),
            Self::Malformed { .. } => {
                "export the key again, as PEM (PKCS#8) or together with the certificate as .pfx"
                    .into()
            }
        }
    }
}

/// Why [`CertStore::sign_rs256`] cannot sign.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// No certificate with this thumbprint is in the folder.
    #[error(
        "no certificate with thumbprint {thumbprint} is in {} ({}){}; fix: put the certificate \
         with its private key into {} or correct ExchangeCertThumbprint",
        folder.display(),
        available_list(available),
        unreadable_list(unreadable),
        folder.display()
    )]
    NotFound {
        /// The thumbprint as asked for.
        thumbprint: String,
        /// The folder searched.
        folder: PathBuf,
        /// The thumbprints the folder does have.
        available: Vec<String>,
        /// Files that could not be read (one of them may hold the certificate).
        unreadable: Vec<FileProblem>,
    },
    /// The certificate's validity has ended, or not yet begun.
    #[error(
        "the certificate {thumbprint} {} {date}; fix: create a new certificate, upload its \
         public part to the app registration (Certificates & secrets), put it with its key into \
         the certs/ folder and update ExchangeCertThumbprint",
        if *not_yet_valid { "is valid only from" } else { "expired on" }
    )]
    Expired {
        /// The certificate's thumbprint.
        thumbprint: String,
        /// `notAfter`, or `notBefore` when not yet valid, in RFC 3339.
        date: String,
        /// Whether the validity has not begun yet.
        not_yet_valid: bool,
    },
    /// The certificate is there, but its private key cannot be used.
    #[error("the private key of certificate {thumbprint} cannot be used: {problem}; fix: {}", problem.fix())]
    KeyNotReadable {
        /// The certificate's thumbprint.
        thumbprint: String,
        /// Why.
        problem: KeyProblem,
    },
}

fn available_list(available: &[String]) -> String {
    if available.is_empty() {
        "it holds no certificates".to_owned()
    } else {
        format!("it holds {}", available.join(", "))
    }
}

fn unreadable_list(unreadable: &[FileProblem]) -> String {
    if unreadable.is_empty() {
        String::new()
    } else {
        let files: Vec<String> = unreadable.iter().map(ToString::to_string).collect();
        format!("; files that could not be read: {}", files.join("; "))
    }
}
