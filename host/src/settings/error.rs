//! Errors and warnings about settings: each names the file, the key, where the value came from,
//! the problem and the fix. None of them ever carries the value of a secret setting.

use std::fmt;
use std::path::PathBuf;

/// Where a value of a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A position in the settings file, 1-based.
    File {
        /// Line, counting from 1.
        line: u32,
        /// Column in characters, counting from 1.
        column: u32,
    },
    /// The environment variable with the key's name, which overrides the file.
    Env,
    /// A path in `appsettings.json`, such as `CalendarSync:Ews:Providers:O365:TenantId`.
    Json(String),
}

/// What kind of error a [`SettingsError`] is, for callers that react to some of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The settings file could not be read (missing, permission denied, a directory).
    Unreadable,
    /// The file is not text in a known encoding (UTF-8, or UTF-16 with a byte order mark).
    NotText,
    /// The file is not well-formed XML or JSON.
    Malformed,
    /// Well-formed, but not the expected structure (wrong root, unknown element, `<add>` without
    /// `key`, DOCTYPE).
    UnexpectedContent,
    /// A required setting is missing.
    Missing,
    /// Settings that exclude each other are both set.
    Conflict,
    /// Not a GUID.
    NotAGuid,
    /// Not `true` or `false`.
    NotABoolean,
    /// Not a whole number.
    NotANumber,
    /// A number outside its allowed range.
    OutOfRange,
    /// Not a certificate thumbprint (40 hexadecimal digits).
    BadThumbprint,
    /// Not an absolute `https://` URL of the right shape.
    BadUrl,
    /// A plain `http://` URL that is not allowed.
    InsecureUrl,
    /// `ExchangeServiceUser` is not a user principal name.
    BadUser,
    /// A secret setting with a malformed `env:` or `file:` reference.
    BadSecretReference,
    /// A secret reference the operator does not allow: `env:` of a variable without an allowed
    /// prefix (`--secret-env-prefix`), `file:` outside the tenant directory and the allowed
    /// directories (`--secrets-dir`).
    SecretNotAllowed,
    /// An overriding environment variable that is not UTF-8.
    EnvNotUnicode,
    /// Not one of the values a setting allows.
    NotAChoice,
}

/// What kind of warning a [`SettingsWarning`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// The same key appears more than once; the last one wins.
    DuplicateKey,
    /// A key the sync does not know, probably a typo of a known one.
    UnknownKey,
    /// A setting that the chosen sign-in mode does not use.
    Ignored,
    /// An XML attribute other than `key` and `value`.
    UnknownAttribute,
    /// A value that is valid but probably not what was meant.
    Suspicious,
}

/// One finding about the settings: an error ([`SettingsError`]) or a
/// warning ([`SettingsWarning`]), told apart by its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding<K> {
    /// What kind of finding.
    pub kind: K,
    /// The settings file, when the finding is in (or about) a file.
    pub file: Option<PathBuf>,
    /// The key, when the finding is about one setting.
    pub key: Option<String>,
    /// Where the offending value came from.
    pub origin: Option<Origin>,
    /// What is wrong, one sentence without a secret value.
    pub problem: String,
    /// What to change.
    pub fix: String,
}

/// One problem that stops the settings from loading.
pub type SettingsError = Finding<ErrorKind>;

/// A problem that does not stop the settings from loading, but should be shown to the operator.
pub type SettingsWarning = Finding<WarningKind>;

impl<K> Finding<K> {
    /// A finding about one key.
    pub(crate) fn at(
        kind: K,
        file: Option<&PathBuf>,
        key: &str,
        origin: Option<&Origin>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            file: file.cloned(),
            key: Some(key.to_owned()),
            origin: origin.cloned(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Writes `file:line:column: key (origin): problem; fix: ...`, leaving out what is unknown.
impl<K> fmt::Display for Finding<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let in_file = matches!(self.origin, None | Some(Origin::File { .. }));
        if let Some(file) = self.file.as_ref().filter(|_| in_file) {
            write!(f, "{}", file.display())?;
            if let Some(Origin::File { line, column }) = &self.origin {
                write!(f, ":{line}:{column}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(key) = &self.key {
            f.write_str(key)?;
            match &self.origin {
                Some(Origin::Env) => write!(f, " (from environment variable {key})")?,
                Some(Origin::Json(path)) => match &self.file {
                    Some(file) => write!(f, " ({path} in {})", file.display())?,
                    None => write!(f, " ({path})")?,
                },
                _ => {}
            }
            f.write_str(": ")?;
        }
        write!(f, "{}; fix: {}", self.problem, self.fix)
    }
}

impl std::error::Error for SettingsError {}

/// Every problem found in a tenant's settings (all of them, not just the first), and the
/// warnings collected on the way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsErrors {
    /// The problems; never empty when returned as an error.
    pub errors: Vec<SettingsError>,
    /// Warnings, shown alongside.
    pub warnings: Vec<SettingsWarning>,
}

impl SettingsErrors {
    /// Whether one of the errors is of this kind.
    pub fn has(&self, kind: ErrorKind) -> bool {
        self.errors.iter().any(|error| error.kind == kind)
    }
}

impl From<SettingsError> for SettingsErrors {
    fn from(error: SettingsError) -> Self {
        Self {
            errors: vec![error],
            warnings: Vec::new(),
        }
    }
}

/// One line per error, then one line per warning.
impl fmt::Display for SettingsErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.len();
        write!(
            f,
            "{count} problem{} in the settings",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(f, "\n  error: {error}")?;
        }
        for warning in &self.warnings {
            write!(f, "\n  warning: {warning}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_position_key_problem_and_fix() {
        let file = PathBuf::from("/t/RoomsAppSettings.config");
        let error = SettingsError::at(
            ErrorKind::NotABoolean,
            Some(&file),
            "ExchangeUseImpersonation",
            Some(&Origin::File { line: 3, column: 5 }),
            "`yes` is not true or false",
            "write true or false",
        );
        assert_eq!(
            error.to_string(),
            "/t/RoomsAppSettings.config:3:5: ExchangeUseImpersonation: `yes` is not true or \
             false; fix: write true or false"
        );
    }

    #[test]
    fn display_of_an_environment_value_names_the_variable_not_the_file() {
        let file = PathBuf::from("/t/RoomsAppSettings.config");
        let error = SettingsError::at(
            ErrorKind::NotAGuid,
            Some(&file),
            "ExchangeAppId",
            Some(&Origin::Env),
            "not a GUID",
            "copy the Application (client) ID",
        );
        assert_eq!(
            error.to_string(),
            "ExchangeAppId (from environment variable ExchangeAppId): not a GUID; fix: copy the \
             Application (client) ID"
        );
    }

    #[test]
    fn errors_list_every_error_then_every_warning() {
        let errors = SettingsErrors {
            errors: vec![
                SettingsError::at(ErrorKind::Missing, None, "A", None, "a", "fa"),
                SettingsError::at(ErrorKind::Missing, None, "B", None, "b", "fb"),
            ],
            warnings: vec![SettingsWarning::at(
                WarningKind::UnknownKey,
                None,
                "C",
                None,
                "c",
                "fc",
            )],
        };
        assert_eq!(
            errors.to_string(),
            "2 problems in the settings\n  error: A: a; fix: fa\n  error: B: b; fix: fb\n  \
             warning: C: c; fix: fc"
        );
        assert!(errors.has(ErrorKind::Missing));
        assert!(!errors.has(ErrorKind::Conflict));
    }
}
