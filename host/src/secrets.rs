//! Secret values: literal, `env:NAME` or `file:PATH`, never printed.
//!
//! A secret setting (`ExchangeClientSecret`, `ExchangeServicePassword`, `ExchangeCertPassword`)
//! holds a [`SecretRef`], which says where the value lives:
//!
//! | setting value | secret |
//! |---|---|
//! | `env:ROOMS_EXCHANGE_SECRET` | the environment variable `ROOMS_EXCHANGE_SECRET` of the host process |
//! | `file:secrets/exchange.txt` | the file's content, relative to the tenant directory (absolute paths work too); trailing line breaks are trimmed |
//! | `literal:env:abc` | the text after `literal:` (`env:abc`), for a value that starts with a prefix |
//! | anything else | the value itself, as in the original product's files |
//!
//! Resolving gives a [`Secret`], whose `Debug` and `Display` print `[redacted]`, whose bytes are
//! zeroed on drop, and whose value only [`Secret::expose`] reveals. Errors name the variable or
//! file and the fix, never the value.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::env::EnvSource;

/// Secret files larger than this are refused: a secret is a line of text, and a larger file is
/// almost certainly the wrong one (a `.pfx`, a log).
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// A secret value (client secret, password). Printing it shows `[redacted]`; the memory is zeroed
/// when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that must send it (a token request, a PFX decryption).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a secret setting's value lives. Parsed from the setting's text with [`SecretRef::parse`].
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value is written in the settings (or the environment variable overriding the key).
    Literal(Secret),
    /// `env:NAME`: the value is in the environment variable `NAME`.
    Env(String),
    /// `file:PATH`: the value is the content of a file, relative to the tenant directory.
    File(PathBuf),
}

impl SecretRef {
    /// Parses a setting value: `env:NAME`, `file:PATH`, `literal:VALUE` or a literal value.
    /// The prefixes are lower case; any other text is a literal secret.
    pub fn parse(value: &str) -> Result<Self, SecretError> {
        if let Some(name) = value.strip_prefix("env:") {
            let name = name.trim();
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(SecretError::BadReference {
                    problem: "`env:` must be followed by the name of an environment variable",
                    example: "env:ROOMS_EXCHANGE_SECRET",
                });
            }
            Ok(Self::Env(name.to_owned()))
        } else if let Some(path) = value.strip_prefix("file:") {
            let path = path.trim();
            if path.is_empty() || path.contains('\0') {
                return Err(SecretError::BadReference {
                    problem: "`file:` must be followed by the path of a file",
                    example: "file:secrets/exchange-client-secret.txt",
                });
            }
            Ok(Self::File(PathBuf::from(path)))
        } else if let Some(literal) = value.strip_prefix("literal:") {
            Ok(Self::Literal(Secret::new(literal)))
        } else {
            Ok(Self::Literal(Secret::new(value)))
        }
    }

    /// Reads the value: from the environment `env` for `env:`, from a file relative to
    /// `base_dir` (the tenant directory) for `file:`. An empty value is an error, since every
    /// secret setting needs one.
    pub fn resolve(&self, env: &dyn EnvSource, base_dir: &Path) -> Result<Secret, SecretError> {
        let secret = match self {
            Self::Literal(secret) => secret.clone(),
            Self::Env(name) => match env.var_os(name) {
                None => return Err(SecretError::EnvNotSet { var: name.clone() }),
                Some(value) => match value.into_string() {
                    Ok(value) => Secret::new(value),
                    Err(_) => return Err(SecretError::EnvNotUnicode { var: name.clone() }),
                },
            },
            Self::File(path) => read_secret_file(&base_dir.join(path))?,
        };
        if secret.expose().is_empty() {
            return Err(SecretError::Empty {
                location: self.to_string(),
            });
        }
        Ok(secret)
    }
}

/// Reads a secret file, at most [`MAX_SECRET_FILE_BYTES`], and trims trailing line breaks.
fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    let unreadable = |error: io::Error| io_error(path, error);
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(SecretError::FileTooLarge {
            path: path.to_owned(),
        });
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(SecretError::FileNotUtf8 {
            path: path.to_owned(),
        });
    };
    Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
}

/// Maps an I/O failure on a secret file to the error that names its fix.
fn io_error(path: &Path, error: io::Error) -> SecretError {
    let path = path.to_owned();
    match error.kind() {
        io::ErrorKind::NotFound => SecretError::FileNotFound { path },
        io::ErrorKind::PermissionDenied => SecretError::FilePermissionDenied { path },
        _ => SecretError::FileUnreadable {
            path,
            reason: error.to_string(),
        },
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(_) => f.write_str("Literal([redacted])"),
            Self::Env(name) => f.debug_tuple("Env").field(name).finish(),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Says where the secret lives without showing it: `a value in the settings`,
/// `environment variable NAME`, `file PATH`.
impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(_) => f.write_str("the value in the settings"),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Why a secret could not be read. Messages name the variable or file and the fix; they never
/// contain the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `env:` or `file:` without a name.
    #[error("{problem}, as in `{example}`; write the reference in that form or the value itself")]
    BadReference {
        /// What is wrong.
        problem: &'static str,
        /// A correct reference.
        example: &'static str,
    },
    /// The environment variable named by `env:` is not set.
    #[error(
        "environment variable {var} is not set; set it in the environment of the rooms-sync \
         process, or change the setting to name another variable"
    )]
    EnvNotSet {
        /// The variable's name.
        var: String,
    },
    /// The environment variable holds bytes that are not UTF-8.
    #[error("environment variable {var} is not valid UTF-8; set it to the secret as plain text")]
    EnvNotUnicode {
        /// The variable's name.
        var: String,
    },
    /// The file named by `file:` does not exist.
    #[error(
        "secret file {} does not exist; create it with the secret as its only line, or correct \
         the path (relative paths start at the tenant directory)",
        path.display()
    )]
    FileNotFound {
        /// The full path that was tried.
        path: PathBuf,
    },
    /// The host process may not read the file.
    #[error(
        "rooms-sync may not read secret file {}; give the user running rooms-sync read \
         permission on it",
        path.display()
    )]
    FilePermissionDenied {
        /// The full path that was tried.
        path: PathBuf,
    },
    /// Any other I/O failure (the path is a directory, a disk error).
    #[error("cannot read secret file {}: {reason}; point the setting at a readable file", path.display())]
    FileUnreadable {
        /// The full path that was tried.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is larger than a secret can be.
    #[error(
        "secret file {} is larger than 64 KiB, so it is not a secret; point the setting at the \
         file that holds only the secret",
        path.display()
    )]
    FileTooLarge {
        /// The full path that was tried.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("secret file {} is not UTF-8 text; save the secret as plain UTF-8 text", path.display())]
    FileNotUtf8 {
        /// The full path that was tried.
        path: PathBuf,
    },
    /// The value is empty.
    #[error("the secret in {location} is empty; put the secret value there")]
    Empty {
        /// Where the secret was read from (as [`SecretRef`]'s `Display`).
        location: String,
    },
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::ffi::OsString;

    use super::*;

    const DISTINCTIVE: &str = "Zq8~s3cr3t-VALUE-never-printed";

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, OsString> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect()
    }

    #[test]
    fn literal_values_resolve_to_themselves_and_print_redacted() {
        let reference = SecretRef::parse(DISTINCTIVE).unwrap();
        let secret = reference.resolve(&env(&[]), Path::new("/")).unwrap();
        assert_eq!(secret.expose(), DISTINCTIVE);
        for shown in [
            format!("{secret}"),
            format!("{secret:?}"),
            format!("{reference}"),
            format!("{reference:?}"),
        ] {
            assert!(!shown.contains(DISTINCTIVE), "{shown}");
        }
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(format!("{reference:?}"), "Literal([redacted])");
    }

    #[test]
    fn literal_prefix_escapes_a_value_that_looks_like_a_reference() {
        let reference = SecretRef::parse("literal:env:abc").unwrap();
        let secret = reference.resolve(&env(&[]), Path::new("/")).unwrap();
        assert_eq!(secret.expose(), "env:abc");
    }

    #[test]
    fn env_reference_reads_the_variable() {
        let reference = SecretRef::parse("env:ROOMS_SECRET").unwrap();
        assert_eq!(reference, SecretRef::Env("ROOMS_SECRET".into()));
        let secret = reference
            .resolve(&env(&[("ROOMS_SECRET", DISTINCTIVE)]), Path::new("/"))
            .unwrap();
        assert_eq!(secret.expose(), DISTINCTIVE);
    }

    #[test]
    fn missing_variable_names_the_variable_and_the_fix() {
        let reference = SecretRef::parse("env:ROOMS_SECRET").unwrap();
        let error = reference.resolve(&env(&[]), Path::new("/")).unwrap_err();
        assert!(matches!(&error, SecretError::EnvNotSet { var } if var == "ROOMS_SECRET"));
        let message = error.to_string();
        assert!(
            message.contains("ROOMS_SECRET") && message.contains("set it"),
            "{message}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_unicode_variable_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let mut vars = HashMap::new();
        vars.insert("BAD".to_owned(), OsString::from_vec(vec![0xff, 0xfe]));
        let error = SecretRef::Env("BAD".into())
            .resolve(&vars, Path::new("/"))
            .unwrap_err();
        assert!(matches!(error, SecretError::EnvNotUnicode { .. }));
    }

    #[test]
    fn empty_references_are_refused_with_an_example() {
        for value in ["env:", "env:  ", "file:", "env:A=B"] {
            let error = SecretRef::parse(value).unwrap_err();
            assert!(matches!(error, SecretError::BadReference { .. }), "{value}");
            assert!(error.to_string().contains("as in `"), "{error}");
        }
    }

    #[test]
    fn empty_values_are_refused_naming_the_source() {
        let error = SecretRef::parse("env:EMPTY")
            .unwrap()
            .resolve(&env(&[("EMPTY", "")]), Path::new("/"))
            .unwrap_err();
        assert!(matches!(&error, SecretError::Empty { location } if location.contains("EMPTY")));
        let error = SecretRef::parse("")
            .unwrap()
            .resolve(&env(&[]), Path::new("/"))
            .unwrap_err();
        assert!(matches!(error, SecretError::Empty { .. }));
    }

    #[test]
    fn file_reference_is_relative_to_the_tenant_directory_and_trims_line_breaks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(
            dir.path().join("secrets/client.txt"),
            format!(" {DISTINCTIVE} \r\n\n"),
        )
        .unwrap();
        let reference = SecretRef::parse("file:secrets/client.txt").unwrap();
        let secret = reference.resolve(&env(&[]), dir.path()).unwrap();
        // Only line breaks are trimmed: spaces may belong to a password.
        assert_eq!(secret.expose(), format!(" {DISTINCTIVE} "));
    }

    #[test]
    fn missing_file_names_the_full_path() {
        let dir = tempfile::tempdir().unwrap();
        let error = SecretRef::parse("file:nope.txt")
            .unwrap()
            .resolve(&env(&[]), dir.path())
            .unwrap_err();
        let SecretError::FileNotFound { path } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(path, &dir.path().join("nope.txt"));
        assert!(error.to_string().contains("nope.txt"));
    }

    #[test]
    fn directory_or_binary_or_huge_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bin"), [0xff, 0x00, 0xfe]).unwrap();
        std::fs::write(dir.path().join("big"), vec![b'a'; 70 * 1024]).unwrap();
        let resolve = |value: &str| {
            SecretRef::parse(value)
                .unwrap()
                .resolve(&env(&[]), dir.path())
                .unwrap_err()
        };
        assert!(matches!(
            resolve("file:bin"),
            SecretError::FileNotUtf8 { .. }
        ));
        assert!(matches!(
            resolve("file:big"),
            SecretError::FileTooLarge { .. }
        ));
        assert!(matches!(
            resolve("file:."),
            SecretError::FileUnreadable { .. }
        ));
    }

    #[test]
    fn permission_denied_asks_for_read_permission() {
        // The tests may run as root, where file modes do not deny anything: check the mapping.
        let error = io_error(
            Path::new("/tenant/secret.txt"),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(matches!(error, SecretError::FilePermissionDenied { .. }));
        let message = error.to_string();
        assert!(message.contains("/tenant/secret.txt") && message.contains("read permission"));
    }
}
