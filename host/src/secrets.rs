//! Secret values: literal, `env:NAME` or `file:PATH`, never printed, and read only where the
//! operator allows.
//!
//! A secret setting (`ExchangeClientSecret`, `ExchangeServicePassword`, `ExchangeCertPassword`)
//! holds a [`SecretRef`], which says where the value lives:
//!
//! | setting value | secret |
//! |---|---|
//! | `env:ROOMS_EXCHANGE_SECRET` | the environment variable `ROOMS_EXCHANGE_SECRET` of the host process, if its name starts with a prefix allowed by `--secret-env-prefix` |
//! | `file:secrets/exchange.txt` | the file's content, relative to the tenant directory; the file must lie inside the tenant directory or a directory allowed by `--secrets-dir`; trailing line breaks are trimmed |
//! | `literal:env:abc` | the text after `literal:` (`env:abc`), for a value that starts with a prefix |
//! | anything else | the value itself, as in the original product's files |
//!
//! Whoever writes a tenant's settings decides where its secrets are sent (the authority is a
//! setting too). So a reference must not reach what belongs to the host or to another tenant:
//! [`SecretScope`] holds the operator's choice, the same for every tenant of the process. A
//! `file:` path is resolved to its real location (`..` and symbolic links followed) and must
//! end up inside the tenant directory or an allowed directory; an `env:` variable must start with
//! an allowed prefix, and with no prefix allowed `env:` is off.
//!
//! Resolving gives a [`Secret`], whose `Debug` and `Display` print `[redacted]`, whose bytes are
//! zeroed on drop, and whose value only [`Secret::expose`] reveals. Errors name the variable or
//! file and the fix, never the value. Secret files are opened with [`crate::files`], so a FIFO
//! or device in their place is refused instead of blocking.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use zeroize::Zeroizing;

use crate::env::EnvSource;
use crate::files::{FileError, FileKind, Symlinks};

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
    /// `tenant_dir` for `file:`, each only where `scope` allows. An empty value is an error,
    /// since every secret setting needs one.
    pub fn resolve(
        &self,
        scope: &SecretScope,
        env: &dyn EnvSource,
        tenant_dir: &Path,
    ) -> Result<Secret, SecretError> {
        let secret = match self {
            Self::Literal(secret) => secret.clone(),
            Self::Env(name) => {
                scope.check_env(name)?;
                match env.var_os(name) {
                    None => return Err(SecretError::EnvNotSet { var: name.clone() }),
                    Some(value) => match value.into_string() {
                        Ok(value) => Secret::new(value),
                        Err(_) => return Err(SecretError::EnvNotUnicode { var: name.clone() }),
                    },
                }
            }
            Self::File(path) => {
                let located = scope.locate_file(tenant_dir, path)?;
                read_secret_file(scope, tenant_dir, path, &located)?
            }
        };
        if secret.expose().is_empty() {
            return Err(SecretError::Empty {
                location: self.to_string(),
            });
        }
        Ok(secret)
    }

    /// Checks, without reading anything, that `scope` allows this reference: the `env:` prefix,
    /// and that a `file:` path does not lead out of the allowed directories. Only these refusals
    /// are errors here ([`SecretError::scope_refusal`] has their parts); a file that does not
    /// exist (yet) or cannot be looked at passes, and reading it will say why.
    pub fn check_scope(&self, scope: &SecretScope, tenant_dir: &Path) -> Result<(), SecretError> {
        let result = match self {
            Self::Literal(_) => Ok(()),
            Self::Env(name) => scope.check_env(name),
            Self::File(path) => scope.locate_file(tenant_dir, path).map(|_| ()),
        };
        match result {
            Err(error) if error.scope_refusal().is_some() => Err(error),
            _ => Ok(()),
        }
    }
}

/// Where `file:` and `env:` secrets may be read from: the operator's choice, made on the command
/// line (`--secrets-dir`, `--secret-env-prefix`) and the same for every tenant of the process.
/// The default allows files inside the tenant directory only, and no environment variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretScope {
    /// Directories besides the tenant directory that `file:` may read, canonical.
    dirs: Vec<PathBuf>,
    /// Prefixes of the variable names `env:` may read.
    env_prefixes: Vec<String>,
}

impl SecretScope {
    /// Files inside the tenant directory only; no environment variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also allows `file:` secrets inside `dir` (`--secrets-dir`), by its real location. The
    /// directory must exist.
    pub fn allow_dir(mut self, dir: &Path) -> Result<Self, ScopeError> {
        let real = dir.canonicalize().map_err(|error| ScopeError::BadDir {
            dir: dir.to_owned(),
            reason: error.to_string(),
        })?;
        if !real.is_dir() {
            return Err(ScopeError::BadDir {
                dir: dir.to_owned(),
                reason: "it is not a directory".into(),
            });
        }
        if !self.dirs.contains(&real) {
            self.dirs.push(real);
        }
        Ok(self)
    }

    /// Also allows `env:` secrets from variables whose name starts with `prefix`
    /// (`--secret-env-prefix`; case-sensitive, as variable names are on Linux).
    pub fn allow_env_prefix(mut self, prefix: &str) -> Result<Self, ScopeError> {
        if prefix.is_empty() || prefix.contains(['=', '\0']) {
            return Err(ScopeError::BadPrefix {
                prefix: prefix.to_owned(),
            });
        }
        if !self.env_prefixes.iter().any(|known| known == prefix) {
            self.env_prefixes.push(prefix.to_owned());
        }
        Ok(self)
    }

    /// The allowed directories besides the tenant directory, canonical.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The allowed prefixes of variable names.
    pub fn env_prefixes(&self) -> &[String] {
        &self.env_prefixes
    }

    /// Whether `env:NAME` may be read.
    pub fn check_env(&self, name: &str) -> Result<(), SecretError> {
        if self
            .env_prefixes
            .iter()
            .any(|prefix| name.starts_with(prefix.as_str()))
        {
            Ok(())
        } else {
            Err(SecretError::EnvNotAllowed {
                var: name.to_owned(),
                prefixes: self.env_prefixes.clone(),
            })
        }
    }

    /// The real location of `file:PATH` for the tenant in `tenant_dir`: `path` joined to the
    /// tenant directory (or absolute), with `..` and symbolic links resolved. It must lie inside
    /// the tenant directory or an allowed directory.
    pub fn locate_file(&self, tenant_dir: &Path, path: &Path) -> Result<PathBuf, SecretError> {
        let tenant = tenant_dir
            .canonicalize()
            .map_err(|error| io_error(tenant_dir, &error))?;
        let joined = tenant.join(path);
        let outside = |leads_to: Option<PathBuf>| SecretError::FileOutsideScope {
            path: path.to_owned(),
            leads_to,
            tenant_dir: tenant.clone(),
            allowed_dirs: self.dirs.clone(),
        };
        match joined.canonicalize() {
            Ok(real) if self.contains(&tenant, &real) => Ok(real),
            Ok(real) => {
                let shown = (real != lexically_normal(&joined)).then_some(real);
                Err(outside(shown))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if self.contains(&tenant, &lexically_normal(&joined)) {
                    Err(SecretError::FileNotFound { path: joined })
                } else {
                    Err(outside(None))
                }
            }
            Err(error) => Err(io_error(&joined, &error)),
        }
    }

    /// Whether the real path `real` lies inside the tenant directory `tenant` (canonical) or an
    /// allowed directory.
    fn contains(&self, tenant: &Path, real: &Path) -> bool {
        real.starts_with(tenant) || self.dirs.iter().any(|dir| real.starts_with(dir))
    }
}

/// A path with `.` and `..` resolved as text, without looking at the file system.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// Why an operator's choice of secret sources is refused (a command-line mistake).
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    /// `--secrets-dir` names something that is not an existing directory.
    #[error("--secrets-dir {}: {reason}; name an existing directory", dir.display())]
    BadDir {
        /// The directory as given.
        dir: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// `--secret-env-prefix` is empty or contains `=`.
    #[error(
        "--secret-env-prefix `{prefix}` is not a usable prefix; give the start of the variable \
         names, like ROOMS_SECRET_ (an empty prefix would allow every variable)"
    )]
    BadPrefix {
        /// The prefix as given.
        prefix: String,
    },
}

/// Reads the secret file `written` (as the setting names it) at its real location `located`,
/// at most [`MAX_SECRET_FILE_BYTES`], and trims trailing line breaks. A symbolic link as the last
/// component is refused now (`located` has none, so one there was swapped in after
/// [`SecretScope::locate_file`]); on Linux the opened file's real path is checked against the
/// scope once more, which catches a directory swapped for a link in the same moment.
fn read_secret_file(
    scope: &SecretScope,
    tenant_dir: &Path,
    written: &Path,
    located: &Path,
) -> Result<Secret, SecretError> {
    let file = crate::files::open_regular(located, Symlinks::Refuse).map_err(file_error)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()));
        let tenant = tenant_dir
            .canonicalize()
            .map_err(|error| io_error(tenant_dir, &error))?;
        if let Ok(opened) = opened
            && !scope.contains(&tenant, &opened)
        {
            return Err(SecretError::FileOutsideScope {
                path: written.to_owned(),
                leads_to: Some(opened),
                tenant_dir: tenant,
                allowed_dirs: scope.dirs.clone(),
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (scope, tenant_dir, written);
    let bytes = Zeroizing::new(
        crate::files::read_bounded(file, located, MAX_SECRET_FILE_BYTES).map_err(file_error)?,
    );
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(SecretError::FileNotUtf8 {
            path: located.to_owned(),
        });
    };
    Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
}

/// Maps a failure to open or read a secret file to the error that names its fix.
fn file_error(error: FileError) -> SecretError {
    match error {
        FileError::NotFound { path } => SecretError::FileNotFound { path },
        FileError::PermissionDenied { path } => SecretError::FilePermissionDenied { path },
        FileError::NotRegular { path, kind } => SecretError::FileNotRegular { path, kind },
        FileError::TooLarge { path, .. } => SecretError::FileTooLarge { path },
        FileError::Unreadable { path, reason } => SecretError::FileUnreadable { path, reason },
    }
}

/// Maps an I/O failure on a path of a secret file to the error that names its fix.
fn io_error(path: &Path, error: &io::Error) -> SecretError {
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
    /// `env:NAME` names a variable the operator has not allowed (`--secret-env-prefix`).
    #[error("{}; {}", env_refusal(var, prefixes), env_fix(var, prefixes))]
    EnvNotAllowed {
        /// The variable's name.
        var: String,
        /// The allowed prefixes (none: `env:` is off).
        prefixes: Vec<String>,
    },
    /// `file:PATH` leads outside the tenant directory and the allowed directories.
    #[error(
        "{}; {}",
        file_refusal(path, leads_to.as_deref(), tenant_dir, allowed_dirs),
        FILE_SCOPE_FIX
    )]
    FileOutsideScope {
        /// The path as the setting writes it.
        path: PathBuf,
        /// Where it really leads, when that differs from the path as written (a symbolic link).
        leads_to: Option<PathBuf>,
        /// The tenant directory, canonical.
        tenant_dir: PathBuf,
        /// The directories allowed besides it (`--secrets-dir`).
        allowed_dirs: Vec<PathBuf>,
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
    /// The path names a FIFO, socket, device or directory, which could block or is no secret.
    #[error(
        "secret file {} is {kind}, not a regular file; put the secret into a regular file \
         (rooms-sync reads secrets only from regular files, so that a pipe or device cannot make \
         it wait)",
        path.display()
    )]
    FileNotRegular {
        /// The full path that was tried.
        path: PathBuf,
        /// What is there instead.
        kind: FileKind,
    },
    /// Any other I/O failure (a disk error).
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

impl SecretError {
    /// For a reference the operator's scope refuses: what is wrong and what to change, apart
    /// (settings errors show them apart). `None` for other errors.
    pub fn scope_refusal(&self) -> Option<(String, String)> {
        match self {
            Self::EnvNotAllowed { var, prefixes } => {
                Some((env_refusal(var, prefixes), env_fix(var, prefixes)))
            }
            Self::FileOutsideScope {
                path,
                leads_to,
                tenant_dir,
                allowed_dirs,
            } => Some((
                file_refusal(path, leads_to.as_deref(), tenant_dir, allowed_dirs),
                FILE_SCOPE_FIX.to_owned(),
            )),
            _ => None,
        }
    }
}

fn env_refusal(var: &str, prefixes: &[String]) -> String {
    if prefixes.is_empty() {
        format!(
            "environment variable {var} may not be read as a secret: rooms-sync reads `env:` \
             secrets only from variables whose name starts with a prefix allowed by \
             --secret-env-prefix, and none is given"
        )
    } else {
        format!(
            "environment variable {var} may not be read as a secret: its name does not start \
             with an allowed prefix ({})",
            prefixes.join(", ")
        )
    }
}

fn env_fix(var: &str, prefixes: &[String]) -> String {
    let example = prefixes.first().map_or("ROOMS_SECRET_", String::as_str);
    format!(
        "start rooms-sync with --secret-env-prefix PREFIX for a prefix of {var}, or keep the \
         secret in a variable named like {example}..., or in a file of the tenant directory \
         (file:PATH)"
    )
}

fn file_refusal(
    path: &Path,
    leads_to: Option<&Path>,
    tenant_dir: &Path,
    allowed_dirs: &[PathBuf],
) -> String {
    let leads = leads_to.map_or_else(String::new, |real| {
        format!(" (it leads to {})", real.display())
    });
    let allowed = if allowed_dirs.is_empty() {
        " (no --secrets-dir is given)".to_owned()
    } else {
        let dirs: Vec<String> = allowed_dirs
            .iter()
            .map(|dir| dir.display().to_string())
            .collect();
        format!(" and outside every --secrets-dir ({})", dirs.join(", "))
    };
    format!(
        "secret file {}{leads} is outside the tenant directory {}{allowed}",
        path.display(),
        tenant_dir.display()
    )
}

/// The fix of [`SecretError::FileOutsideScope`].
const FILE_SCOPE_FIX: &str = "move the file into the tenant directory and name it relative to \
                              it, or start rooms-sync with --secrets-dir DIR for the directory \
                              that holds it";

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::ffi::OsString;

    use super::*;

    const DISTINCTIVE: &str = "Zq8~s3cr3t-VALUE-never-printed";

    /// A scope that allows the variables these tests use.
    fn scope() -> SecretScope {
        SecretScope::new()
            .allow_env_prefix("ROOMS_")
            .unwrap()
            .allow_env_prefix("BAD")
            .unwrap()
            .allow_env_prefix("EMPTY")
            .unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, OsString> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect()
    }

    #[test]
    fn literal_values_resolve_to_themselves_and_print_redacted() {
        let reference = SecretRef::parse(DISTINCTIVE).unwrap();
        let secret = reference
            .resolve(&scope(), &env(&[]), Path::new("/"))
            .unwrap();
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
        let secret = reference
            .resolve(&scope(), &env(&[]), Path::new("/"))
            .unwrap();
        assert_eq!(secret.expose(), "env:abc");
    }

    #[test]
    fn env_reference_reads_the_variable() {
        let reference = SecretRef::parse("env:ROOMS_SECRET").unwrap();
        assert_eq!(reference, SecretRef::Env("ROOMS_SECRET".into()));
        let secret = reference
            .resolve(
                &scope(),
                &env(&[("ROOMS_SECRET", DISTINCTIVE)]),
                Path::new("/"),
            )
            .unwrap();
        assert_eq!(secret.expose(), DISTINCTIVE);
    }

    #[test]
    fn missing_variable_names_the_variable_and_the_fix() {
        let reference = SecretRef::parse("env:ROOMS_SECRET").unwrap();
        let error = reference
            .resolve(&scope(), &env(&[]), Path::new("/"))
            .unwrap_err();
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
            .resolve(&scope(), &vars, Path::new("/"))
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
            .resolve(&scope(), &env(&[("EMPTY", "")]), Path::new("/"))
            .unwrap_err();
        assert!(matches!(&error, SecretError::Empty { location } if location.contains("EMPTY")));
        let error = SecretRef::parse("")
            .unwrap()
            .resolve(&scope(), &env(&[]), Path::new("/"))
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
        let secret = reference.resolve(&scope(), &env(&[]), dir.path()).unwrap();
        // Only line breaks are trimmed: spaces may belong to a password.
        assert_eq!(secret.expose(), format!(" {DISTINCTIVE} "));
    }

    #[test]
    fn missing_file_names_the_full_path() {
        let dir = tempfile::tempdir().unwrap();
        let error = SecretRef::parse("file:nope.txt")
            .unwrap()
            .resolve(&scope(), &env(&[]), dir.path())
            .unwrap_err();
        let SecretError::FileNotFound { path } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(path, &dir.path().canonicalize().unwrap().join("nope.txt"));
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
                .resolve(&scope(), &env(&[]), dir.path())
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
            SecretError::FileNotRegular {
                kind: FileKind::Directory,
                ..
            }
        ));
    }

    #[test]
    fn permission_denied_asks_for_read_permission() {
        // The tests may run as root, where file modes do not deny anything: check the mapping.
        let error = io_error(
            Path::new("/tenant/secret.txt"),
            &io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(matches!(error, SecretError::FilePermissionDenied { .. }));
        let message = error.to_string();
        assert!(message.contains("/tenant/secret.txt") && message.contains("read permission"));
    }

    /// A tenant directory `contoso` beside another tenant `other` that holds a secret.
    fn two_tenants() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let tenant = root.path().join("contoso");
        std::fs::create_dir_all(tenant.join("secrets")).unwrap();
        std::fs::create_dir_all(root.path().join("other")).unwrap();
        std::fs::write(root.path().join("other/secret.txt"), DISTINCTIVE).unwrap();
        std::fs::write(tenant.join("secrets/own.txt"), "own-secret").unwrap();
        (root, tenant)
    }

    fn resolve_in(scope: &SecretScope, tenant: &Path, value: &str) -> Result<Secret, SecretError> {
        SecretRef::parse(value)
            .unwrap()
            .resolve(scope, &env(&[]), tenant)
    }

    #[test]
    fn files_resolve_only_inside_the_tenant_directory() {
        let (root, tenant) = two_tenants();
        let scope = SecretScope::new();
        assert_eq!(
            resolve_in(&scope, &tenant, "file:secrets/own.txt")
                .unwrap()
                .expose(),
            "own-secret"
        );
        // `..` that stays inside is fine.
        assert!(resolve_in(&scope, &tenant, "file:secrets/../secrets/own.txt").is_ok());
        let other = root.path().join("other/secret.txt");
        for value in [
            "file:../other/secret.txt".to_owned(),
            format!("file:{}", other.display()),
            "file:/etc/passwd".to_owned(),
            // Outside and missing: still outside, not "does not exist".
            "file:../other/missing.txt".to_owned(),
        ] {
            let error = resolve_in(&scope, &tenant, &value).unwrap_err();
            assert!(
                matches!(error, SecretError::FileOutsideScope { .. }),
                "{value}: {error:?}"
            );
            let message = error.to_string();
            assert!(!message.contains(DISTINCTIVE));
            for needle in [
                "is outside the tenant directory",
                "no --secrets-dir is given",
                "--secrets-dir DIR",
                &value["file:".len()..],
            ] {
                assert!(message.contains(needle), "`{needle}` in {message}");
            }
            // The settings check finds the same without reading anything.
            let reference = SecretRef::parse(&value).unwrap();
            assert!(reference.check_scope(&scope, &tenant).is_err(), "{value}");
        }
        // Missing inside: allowed by the check, reported by the read.
        let reference = SecretRef::parse("file:secrets/later.txt").unwrap();
        assert!(reference.check_scope(&scope, &tenant).is_ok());
        assert!(matches!(
            resolve_in(&scope, &tenant, "file:secrets/later.txt"),
            Err(SecretError::FileNotFound { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_tenant_directory_is_refused_and_says_where_it_leads() {
        let (root, tenant) = two_tenants();
        let other = root.path().join("other/secret.txt");
        std::os::unix::fs::symlink(&other, tenant.join("secrets/link.txt")).unwrap();
        // A link to a directory outside, used as a path component.
        std::os::unix::fs::symlink(root.path().join("other"), tenant.join("elsewhere")).unwrap();
        // A link that stays inside is fine.
        std::os::unix::fs::symlink(tenant.join("secrets/own.txt"), tenant.join("inside.txt"))
            .unwrap();
        let scope = SecretScope::new();
        assert_eq!(
            resolve_in(&scope, &tenant, "file:inside.txt")
                .unwrap()
                .expose(),
            "own-secret"
        );
        for value in ["file:secrets/link.txt", "file:elsewhere/secret.txt"] {
            let error = resolve_in(&scope, &tenant, value).unwrap_err();
            let SecretError::FileOutsideScope { leads_to, .. } = &error else {
                panic!("{value}: {error:?}");
            };
            assert_eq!(
                leads_to.as_deref(),
                Some(other.canonicalize().unwrap().as_path())
            );
            assert!(error.to_string().contains("it leads to"), "{error}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn secrets_dirs_allow_absolute_paths_and_links_into_them() {
        let (root, tenant) = two_tenants();
        let shared = root.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::write(shared.join("exchange.txt"), "shared-secret\n").unwrap();
        std::os::unix::fs::symlink(shared.join("exchange.txt"), tenant.join("shared.txt")).unwrap();
        let absolute = format!("file:{}", shared.join("exchange.txt").display());
        let without = SecretScope::new();
        assert!(matches!(
            resolve_in(&without, &tenant, &absolute),
            Err(SecretError::FileOutsideScope { .. })
        ));
        let scope = SecretScope::new().allow_dir(&shared).unwrap();
        for value in [
            absolute.as_str(),
            "file:shared.txt",
            "file:../shared/exchange.txt",
        ] {
            assert_eq!(
                resolve_in(&scope, &tenant, value).unwrap().expose(),
                "shared-secret",
                "{value}"
            );
        }
        // Another tenant's directory is still out of reach, and the message names the allowed
        // directory.
        let error = resolve_in(&scope, &tenant, "file:../other/secret.txt").unwrap_err();
        assert!(
            error.to_string().contains(&format!(
                "outside every --secrets-dir ({}",
                shared.canonicalize().unwrap().display()
            )),
            "{error}"
        );
    }

    #[test]
    fn secrets_dirs_and_prefixes_must_make_sense() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        for bad in [dir.path().join("missing"), file] {
            let error = SecretScope::new().allow_dir(&bad).unwrap_err();
            assert!(matches!(error, ScopeError::BadDir { .. }));
            assert!(error.to_string().starts_with("--secrets-dir "), "{error}");
        }
        for bad in ["", "A=B"] {
            let error = SecretScope::new().allow_env_prefix(bad).unwrap_err();
            assert!(error.to_string().contains("--secret-env-prefix"), "{error}");
        }
    }

    #[test]
    fn env_reads_only_variables_with_an_allowed_prefix() {
        let vars = env(&[("HOME", DISTINCTIVE), ("ROOMS_SECRET", "allowed")]);
        let home = SecretRef::parse("env:HOME").unwrap();
        let none = SecretScope::new();
        let error = home.resolve(&none, &vars, Path::new("/")).unwrap_err();
        assert!(
            matches!(&error, SecretError::EnvNotAllowed { var, prefixes } if var == "HOME" && prefixes.is_empty()),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(!message.contains(DISTINCTIVE));
        for needle in ["HOME", "--secret-env-prefix", "none is given"] {
            assert!(message.contains(needle), "`{needle}` in {message}");
        }
        let rooms = SecretScope::new().allow_env_prefix("ROOMS_").unwrap();
        let error = home.resolve(&rooms, &vars, Path::new("/")).unwrap_err();
        assert!(error.to_string().contains("(ROOMS_)"), "{error}");
        let allowed = SecretRef::parse("env:ROOMS_SECRET").unwrap();
        assert_eq!(
            allowed
                .resolve(&rooms, &vars, Path::new("/"))
                .unwrap()
                .expose(),
            "allowed"
        );
        // Prefixes are case-sensitive, as Linux variable names are.
        let lower = SecretRef::parse("env:rooms_SECRET").unwrap();
        assert!(lower.check_scope(&rooms, Path::new("/")).is_err());
        let (problem, fix) = home
            .check_scope(&rooms, Path::new("/"))
            .unwrap_err()
            .scope_refusal()
            .unwrap();
        assert!(problem.contains("HOME") && fix.contains("--secret-env-prefix"));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_as_secret_file_is_refused_at_once() {
        use crate::files::test_support::{mkfifo, returns_promptly};
        let dir = tempfile::tempdir().unwrap();
        mkfifo(&dir.path().join("secret.txt"));
        let tenant = dir.path().to_owned();
        let error = returns_promptly("resolving a FIFO secret", move || {
            resolve_in(&SecretScope::new(), &tenant, "file:secret.txt").unwrap_err()
        });
        assert!(
            matches!(
                error,
                SecretError::FileNotRegular {
                    kind: FileKind::Fifo,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("secret.txt") && message.contains("FIFO (named pipe)"),
            "{message}"
        );
    }
}
