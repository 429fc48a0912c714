//! The process environment, behind a trait so that tests pass a map instead of changing the
//! process environment. It is read for `env:` secrets (only variables the operator allows, see
//! [`crate::secrets::SecretScope`]) and, with `--env-overrides`, for settings overridden by a
//! variable of the key's name. This module depends on nothing else of the crate.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;

/// A source of environment variables.
pub trait EnvSource {
    /// The variable `name`, or `None` when it is not set. Names are matched exactly (the
    /// operating system decides case: Windows ignores it, Linux does not).
    fn var_os(&self, name: &str) -> Option<OsString>;

    /// The variable `name` as text; `None` when it is not set or not UTF-8.
    fn var(&self, name: &str) -> Option<String> {
        self.var_os(name).and_then(|value| value.into_string().ok())
    }
}

/// The environment of the host process (`std::env`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var_os(&self, name: &str) -> Option<OsString> {
        // `std::env::var_os` panics on names with `=` or NUL; such names are never set.
        if name.is_empty() || name.contains(['=', '\0']) {
            return None;
        }
        std::env::var_os(name)
    }
}

impl EnvSource for HashMap<String, String> {
    fn var_os(&self, name: &str) -> Option<OsString> {
        self.get(name).map(OsString::from)
    }
}

impl EnvSource for HashMap<String, OsString> {
    fn var_os(&self, name: &str) -> Option<OsString> {
        self.get(name).cloned()
    }
}

impl EnvSource for BTreeMap<String, String> {
    fn var_os(&self, name: &str) -> Option<OsString> {
        self.get(name).map(OsString::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_env_reads_std_env_and_ignores_impossible_names() {
        // PATH is set in every test environment this crate runs in.
        assert_eq!(ProcessEnv.var_os("PATH"), std::env::var_os("PATH"));
        assert_eq!(ProcessEnv.var_os("A=B"), None);
        assert_eq!(ProcessEnv.var_os(""), None);
        assert_eq!(ProcessEnv.var_os("NUL\0"), None);
    }

    #[test]
    fn maps_are_environments() {
        let map: BTreeMap<String, String> = [("ExchangeAppId".to_owned(), "x".to_owned())].into();
        assert_eq!(map.var_os("ExchangeAppId"), Some(OsString::from("x")));
        assert_eq!(map.var_os("exchangeappid"), None);
        assert_eq!(map.var("ExchangeAppId").as_deref(), Some("x"));
    }
}
