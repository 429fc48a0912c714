//! Reading a `certs/` folder: PEM, DER, encrypted PKCS#8 and PKCS#12 files into certificates
//! and RSA keys, and pairing each certificate with the key whose public part matches.

use std::path::{Path, PathBuf};

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::{PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use x509_cert::der::{Decode, Encode};

use super::{CertInfo, FileProblem, KeyProblem, Stored, thumbprint_of};
use crate::secrets::Secret;

/// Files larger than this are not certificates or keys and are skipped.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Object identifiers of key algorithms, for messages about keys that are not RSA.
const KEY_ALGORITHMS: [(&str, &str); 6] = [
    ("1.2.840.113549.1.1.1", "RSA"),
    ("1.2.840.113549.1.1.10", "RSA-PSS"),
    ("1.2.840.10045.2.1", "EC"),
    ("1.3.101.112", "Ed25519"),
    ("1.3.101.113", "Ed448"),
    ("1.2.840.10040.4.1", "DSA"),
];

/// The rsaEncryption algorithm, the only one that signs RS256.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// Reads every regular file of `dir` and returns its certificates, each paired with its key or
/// the reason it has none, and the problems of files that could not be used.
pub(super) fn load(dir: &Path, password: Option<&Secret>) -> (Vec<Stored>, Vec<FileProblem>) {
    let mut loader = Loader {
        password,
        certs: Vec::new(),
        keys: Vec::new(),
        key_failures: Vec::new(),
        problems: Vec::new(),
    };
    loader.read_dir(dir);
    let stored = std::mem::take(&mut loader.certs)
        .into_iter()
        .filter_map(|found| loader.pair(found))
        .collect();
    (stored, loader.problems)
}

/// A certificate found in a file, not yet paired with a key.
struct FoundCert {
    der: Vec<u8>,
    file: PathBuf,
}

/// A usable RSA key and its file.
struct FoundKey {
    key: RsaPrivateKey,
    public: RsaPublicKey,
    file: PathBuf,
}

/// The state of one load.
struct Loader<'a> {
    password: Option<&'a Secret>,
    certs: Vec<FoundCert>,
    keys: Vec<FoundKey>,
    /// Keys that were found but could not be used, by file.
    key_failures: Vec<(PathBuf, KeyProblem)>,
    problems: Vec<FileProblem>,
}

impl Loader<'_> {
    fn problem(&mut self, file: &Path, problem: impl Into<String>) {
        self.problems.push(FileProblem {
            file: file.to_owned(),
            problem: problem.into(),
        });
    }

    /// Reads every regular file of `dir`, in name order.
    fn read_dir(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) => {
                let problem = if error.kind() == std::io::ErrorKind::NotFound {
                    "the certificate folder does not exist; create it and put the certificate \
                     with its private key into it"
                        .to_owned()
                } else {
                    format!(
                        "the certificate folder cannot be read ({error}); give the user running \
                         rooms-sync read permission on it"
                    )
                };
                self.problem(dir, problem);
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect();
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || path.is_dir() {
                continue;
            }
            let extension = path
                .extension()
                .map(|ext| ext.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if !matches!(
                extension.as_str(),
                "pem" | "crt" | "cer" | "der" | "key" | "pfx" | "p12"
            ) {
                if !name.to_ascii_lowercase().starts_with("readme") {
                    self.problem(
                        &path,
                        "ignored: not a certificate file (.pem, .crt, .cer, .der, .key, .pfx, \
                         .p12)",
                    );
                }
                continue;
            }
            let Some(bytes) = self.read_file(&path, &extension) else {
                continue;
            };
            match extension.as_str() {
                "pfx" | "p12" => self.pkcs12(&path, &bytes),
                _ if is_pem(&bytes) => self.pem(&path, &bytes),
                "key" => self.der_key(&path, &bytes),
                _ => self.certs.push(FoundCert {
                    der: bytes,
                    file: path,
                }),
            }
        }
    }

    /// Reads a file, noting unreadable key files as key failures. Anything but a regular file (a
    /// FIFO, a device) is refused without waiting on it.
    fn read_file(&mut self, path: &Path, extension: &str) -> Option<Vec<u8>> {
        use crate::files::FileError;
        let error = match crate::files::read_regular(path, MAX_FILE_BYTES) {
            Ok(bytes) => return Some(bytes),
            Err(error) => error,
        };
        let (problem, reason) = match error {
            FileError::TooLarge { .. } => {
                self.problem(path, "larger than 1 MiB, so not a certificate; remove it");
                return None;
            }
            FileError::NotRegular { kind, .. } => (
                format!(
                    "is {kind}, not a regular file, and is skipped; {}",
                    kind.fix()
                ),
                format!("it is {kind}, not a regular file"),
            ),
            FileError::PermissionDenied { .. } => (
                "cannot be read (permission denied); give the user running rooms-sync read \
                 permission on it"
                    .to_owned(),
                "permission denied".to_owned(),
            ),
            FileError::NotFound { .. } => (
                "cannot be read: it is a symbolic link to a file that does not exist (or it was \
                 removed while the folder was read); point the link at the file or remove it"
                    .to_owned(),
                "the file it names does not exist".to_owned(),
            ),
            FileError::Unreadable { reason, .. } => (
                format!("cannot be read ({reason}); make it a readable file"),
                reason,
            ),
        };
        self.problem(path, problem);
        if matches!(extension, "key" | "pem" | "pfx" | "p12") {
            self.key_failures.push((
                path.to_owned(),
                KeyProblem::Unreadable {
                    file: path.to_owned(),
                    reason,
                },
            ));
        }
        None
    }

    /// Reads the PEM blocks of a file.
    fn pem(&mut self, path: &Path, bytes: &[u8]) {
        let blocks = match pem::parse_many(bytes) {
            Ok(blocks) => blocks,
            Err(error) => {
                let reason = match error {
                    pem::PemError::InvalidData(_) => "a PEM block is damaged (not base64)",
                    pem::PemError::MismatchedTags(..) => "BEGIN and END lines do not match",
                    pem::PemError::MissingEndTag => "a PEM block has no END line",
                    _ => "the PEM framing is damaged",
                };
                self.problem(path, format!("{reason}; export the file again"));
                if text_contains(bytes, "PRIVATE KEY") {
                    self.key_failures.push((
                        path.to_owned(),
                        KeyProblem::Malformed {
                            file: path.to_owned(),
                            reason: reason.to_owned(),
                        },
                    ));
                }
                return;
            }
        };
        for block in blocks {
            let encrypted_legacy = block
                .headers()
                .get("Proc-Type")
                .is_some_and(|value| value.contains("ENCRYPTED"));
            match block.tag() {
                "CERTIFICATE" | "X509 CERTIFICATE" => self.certs.push(FoundCert {
                    der: block.into_contents(),
                    file: path.to_owned(),
                }),
                _ if encrypted_legacy => self.key_failure(
                    path,
                    KeyProblem::UnsupportedEncryption {
                        file: path.to_owned(),
                        scheme: "the legacy OpenSSL PEM encryption (Proc-Type: 4,ENCRYPTED)".into(),
                    },
                ),
                "PRIVATE KEY" => self.pkcs8(path, block.contents()),
                "RSA PRIVATE KEY" => match RsaPrivateKey::from_pkcs1_der(block.contents()) {
                    Ok(key) => self.add_key(path, key),
                    Err(_) => self.malformed_key(path, "the PKCS#1 RSA key is damaged"),
                },
                "ENCRYPTED PRIVATE KEY" => self.encrypted_pkcs8(path, block.contents()),
                "EC PRIVATE KEY" | "DSA PRIVATE KEY" | "OPENSSH PRIVATE KEY" => {
                    let algorithm = block.tag().trim_end_matches(" PRIVATE KEY");
                    self.key_failure(
                        path,
                        KeyProblem::NotRsa {
                            file: path.to_owned(),
                            algorithm: algorithm.to_owned(),
                        },
                    );
                }
                "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => self.problem(
                    path,
                    "holds a certificate request, not a certificate; put the issued certificate \
                     here",
                ),
                other => {
                    let other = other.to_owned();
                    self.problem(path, format!("ignored a PEM block of type {other}"));
                }
            }
        }
    }

    /// A DER key in a `.key` file: PKCS#8, else PKCS#1.
    fn der_key(&mut self, path: &Path, bytes: &[u8]) {
        if rsa::pkcs8::PrivateKeyInfoRef::try_from(bytes).is_ok() {
            self.pkcs8(path, bytes);
        } else if let Ok(key) = RsaPrivateKey::from_pkcs1_der(bytes) {
            self.add_key(path, key);
        } else if pkcs8::EncryptedPrivateKeyInfoRef::try_from(bytes).is_ok() {
            self.encrypted_pkcs8(path, bytes);
        } else {
            self.malformed_key(path, "it is neither PEM nor a DER private key");
        }
    }

    /// An unencrypted PKCS#8 key: RSA, or a failure naming the algorithm.
    fn pkcs8(&mut self, path: &Path, der: &[u8]) {
        let info = match rsa::pkcs8::PrivateKeyInfoRef::try_from(der) {
            Ok(info) => info,
            Err(_) => return self.malformed_key(path, "the PKCS#8 key is damaged"),
        };
        let oid = info.algorithm.oid.to_string();
        if oid != RSA_ENCRYPTION {
            return self.key_failure(
                path,
                KeyProblem::NotRsa {
                    file: path.to_owned(),
                    algorithm: algorithm_name(&oid),
                },
            );
        }
        match RsaPrivateKey::from_pkcs8_der(der) {
            Ok(key) => self.add_key(path, key),
            Err(_) => self.malformed_key(path, "the PKCS#8 RSA key is damaged"),
        }
    }

    /// A password-protected PKCS#8 key (PBES2 with AES or 3DES).
    fn encrypted_pkcs8(&mut self, path: &Path, der: &[u8]) {
        let info = match pkcs8::EncryptedPrivateKeyInfoRef::try_from(der) {
            Ok(info) => info,
            Err(_) => return self.malformed_key(path, "the encrypted PKCS#8 key is damaged"),
        };
        let Some(password) = self.password else {
            return self.key_failure(
                path,
                KeyProblem::PasswordMissing {
                    file: path.to_owned(),
                },
            );
        };
        match info.decrypt(password.expose()) {
            Ok(document) => self.pkcs8(path, document.as_bytes()),
            Err(pkcs8::Error::EncryptedPrivateKey(
                pkcs8::pkcs5::Error::UnsupportedAlgorithm { oid }
                | pkcs8::pkcs5::Error::AlgorithmParametersInvalid { oid },
            )) => self.key_failure(
                path,
                KeyProblem::UnsupportedEncryption {
                    file: path.to_owned(),
                    scheme: format!("algorithm {oid}"),
                },
            ),
            Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::NoPbes1CryptSupport)) => {
                self.key_failure(
                    path,
                    KeyProblem::UnsupportedEncryption {
                        file: path.to_owned(),
                        scheme: "PBES1 (a legacy PKCS#5 v1.5 scheme)".into(),
                    },
                )
            }
            // A failed decryption, or plaintext that is not a key: the password is wrong.
            Err(_) => self.key_failure(
                path,
                KeyProblem::WrongPassword {
                    file: path.to_owned(),
                },
            ),
        }
    }

    /// A PKCS#12 (`.pfx`/`.p12`) file.
    fn pkcs12(&mut self, path: &Path, bytes: &[u8]) {
        let password = self.password.map_or("", Secret::expose);
        let archive = match p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password) {
            Ok(archive) => archive,
            Err(error) => {
                use p12_keystore::error::Error;
                let problem = match error {
                    Error::MacError(_) | Error::UnpadError if self.password.is_none() => {
                        "is protected by a password, and ExchangeCertPassword is not set; set it \
                         to the password chosen when the .pfx was exported"
                    }
                    Error::MacError(_) | Error::UnpadError => {
                        "cannot be opened with ExchangeCertPassword (wrong password); set it to \
                         the password chosen when the .pfx was exported, or export it again"
                    }
                    Error::UnsupportedEncryptionScheme | Error::UnsupportedMacAlgorithm => {
                        "uses an encryption rooms-sync cannot open; export it again with AES \
                         (Windows: \"AES256-SHA256\"; OpenSSL 3: the default of openssl pkcs12 \
                         -export)"
                    }
                    _ => "is not a readable PKCS#12 (.pfx) file; export it again",
                };
                return self.problem(path, problem);
            }
        };
        for bag in archive.certs {
            self.certs.push(FoundCert {
                der: bag.cert.as_der().to_vec(),
                file: path.to_owned(),
            });
        }
        for bag in archive.keys {
            self.pkcs8(path, bag.key.as_der());
        }
    }

    fn add_key(&mut self, path: &Path, key: RsaPrivateKey) {
        let public = key.to_public_key();
        self.keys.push(FoundKey {
            key,
            public,
            file: path.to_owned(),
        });
    }

    fn key_failure(&mut self, path: &Path, problem: KeyProblem) {
        self.problem(path, format!("{problem}; {}", problem.fix()));
        self.key_failures.push((path.to_owned(), problem));
    }

    fn malformed_key(&mut self, path: &Path, reason: &str) {
        self.key_failure(
            path,
            KeyProblem::Malformed {
                file: path.to_owned(),
                reason: reason.to_owned(),
            },
        );
    }

    /// Parses a certificate and pairs it with its key.
    fn pair(&mut self, found: FoundCert) -> Option<Stored> {
        let Ok(certificate) = x509_cert::Certificate::from_der(&found.der) else {
            self.problem(
                &found.file,
                "holds no readable X.509 certificate; export the certificate again (PEM or DER)",
            );
            return None;
        };
        let tbs = &certificate.tbs_certificate;
        let validity = &tbs.validity;
        let spki = &tbs.subject_public_key_info;
        let algorithm = spki.algorithm.oid.to_string();
        let public = spki
            .to_der()
            .ok()
            .and_then(|der| rsa::pkcs8::DecodePublicKey::from_public_key_der(&der).ok())
            .filter(|_| algorithm == RSA_ENCRYPTION);
        let key = public.as_ref().and_then(|public: &RsaPublicKey| {
            self.keys
                .iter()
                .find(|candidate| &candidate.public == public)
                .map(|found| SigningKey::<Sha256>::new(found.key.clone()))
        });
        let key_problem = match (&key, &public) {
            (Some(_), _) => None,
            (None, None) => Some(KeyProblem::NotRsa {
                file: found.file.clone(),
                algorithm: algorithm_name(&algorithm),
            }),
            (None, Some(_)) => Some(self.why_no_key(&found.file)),
        };
        Some(Stored {
            info: CertInfo {
                thumbprint: thumbprint_of(&found.der),
                subject: tbs.subject.to_string(),
                not_before: validity.not_before.to_date_time().to_string(),
                not_after: validity.not_after.to_date_time().to_string(),
                file: found.file,
                key_problem,
            },
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
            der: found.der,
            key,
        })
    }

    /// Explains a missing key from what was found in the certificate's file or in files of the
    /// same name: a failed key there, a key of another certificate, or nothing.
    fn why_no_key(&self, cert_file: &Path) -> KeyProblem {
        let related = |file: &Path| file == cert_file || file.file_stem() == cert_file.file_stem();
        if let Some((_, problem)) = self.key_failures.iter().find(|(file, _)| related(file)) {
            return problem.clone();
        }
        if let Some(other) = self.keys.iter().find(|key| related(&key.file)) {
            return KeyProblem::Mismatch {
                key_file: other.file.clone(),
            };
        }
        KeyProblem::Missing {
            cert_file: cert_file.to_owned(),
        }
    }
}

/// Whether the bytes look like PEM text.
fn is_pem(bytes: &[u8]) -> bool {
    text_contains(bytes, "-----BEGIN ")
}

fn text_contains(bytes: &[u8], needle: &str) -> bool {
    bytes
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The name of a key algorithm, or its object identifier.
fn algorithm_name(oid: &str) -> String {
    KEY_ALGORITHMS
        .iter()
        .find(|(known, _)| *known == oid)
        .map_or_else(
            || format!("unknown ({oid})"),
            |(_, name)| (*name).to_owned(),
        )
}
