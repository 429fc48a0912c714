//! The tenant directories under `--tenants DIR`, scanned every few seconds.
//!
//! A tenant is a subdirectory of DIR (not hidden, with a UTF-8 name) that
//! holds `RoomsAppSettings.config` or `appsettings.json`; its name is the
//! directory name. [`scan`] reads a [`Fingerprint`] of each: the length,
//! modification time and SHA-256 of its settings files, so a change of any
//! of them (even one that keeps length and time) is seen. [`diff`] turns two
//! scans into [`Change`]s: a new directory is started, a removed one
//! stopped, a changed one restarted (a broken one fixed on disk starts).
//!
//! Only the settings files count: `rooms.db` changes all the time, and
//! persons added to it are picked up by the running tenant itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::settings::{JSON_SETTINGS_FILE, SETTINGS_FILE};

/// The largest settings file fingerprinted (larger ones still count as
/// present; opening the tenant reports them).
const MAX_SETTINGS_BYTES: u64 = 4 << 20;

/// What identifies the settings of one tenant directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    files: Vec<FileMark>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileMark {
    name: &'static str,
    len: u64,
    modified: Option<SystemTime>,
    digest: Option<[u8; 32]>,
}

/// One tenant directory found by [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The directory.
    pub dir: PathBuf,
    /// Its settings files' fingerprint.
    pub fingerprint: Fingerprint,
}

/// What changed between two scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new tenant directory.
    Added(String),
    /// A tenant directory (or its settings files) is gone.
    Removed(String),
    /// The settings files changed.
    Changed(String),
}

/// The tenant directories of `root`, by name. Hidden directories
/// (`.name`), names that are not UTF-8 and directories without a settings
/// file are left out.
pub fn scan(root: &Path) -> std::io::Result<BTreeMap<String, Found>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(root)? {
        let Ok(entry) = entry else { continue };
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let dir = entry.path();
        if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let files: Vec<FileMark> = [SETTINGS_FILE, JSON_SETTINGS_FILE]
            .into_iter()
            .filter_map(|file| mark(&dir, file))
            .collect();
        if files.is_empty() {
            continue;
        }
        found.insert(
            name,
            Found {
                dir,
                fingerprint: Fingerprint { files },
            },
        );
    }
    Ok(found)
}

fn mark(dir: &Path, name: &'static str) -> Option<FileMark> {
    let path = dir.join(name);
    let meta = std::fs::metadata(&path).ok()?;
    if meta.is_dir() {
        return None;
    }
    // A FIFO or device is not read (it could block); opening the tenant
    // refuses it with a clear error.
    let digest = crate::files::read_regular(&path, MAX_SETTINGS_BYTES)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).into());
    Some(FileMark {
        name,
        len: meta.len(),
        modified: meta.modified().ok(),
        digest,
    })
}

/// The changes from `old` to `new`, by name.
pub fn diff(old: &BTreeMap<String, Fingerprint>, new: &BTreeMap<String, Found>) -> Vec<Change> {
    let mut changes = Vec::new();
    for name in old.keys() {
        if !new.contains_key(name) {
            changes.push(Change::Removed(name.clone()));
        }
    }
    for (name, found) in new {
        match old.get(name) {
            None => changes.push(Change::Added(name.clone())),
            Some(print) if *print != found.fingerprint => {
                changes.push(Change::Changed(name.clone()))
            }
            Some(_) => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prints(found: &BTreeMap<String, Found>) -> BTreeMap<String, Fingerprint> {
        found
            .iter()
            .map(|(n, f)| (n.clone(), f.fingerprint.clone()))
            .collect()
    }

    #[test]
    fn scan_finds_tenant_directories_and_diff_sees_every_change() {
        let root = tempfile::tempdir().unwrap();
        let dir = |n: &str| root.path().join(n);
        for n in ["contoso", "fabrikam", ".hidden", "empty"] {
            std::fs::create_dir(dir(n)).unwrap();
        }
        std::fs::write(dir("contoso").join(SETTINGS_FILE), "<RoomsAppSettings/>").unwrap();
        std::fs::write(dir("fabrikam").join(JSON_SETTINGS_FILE), "{}").unwrap();
        std::fs::write(dir(".hidden").join(SETTINGS_FILE), "x").unwrap();
        std::fs::write(root.path().join("notes.txt"), "not a directory").unwrap();

        let first = scan(root.path()).unwrap();
        assert_eq!(
            first.keys().collect::<Vec<_>>(),
            vec!["contoso", "fabrikam"]
        );
        assert_eq!(
            diff(&BTreeMap::new(), &first),
            vec![
                Change::Added("contoso".into()),
                Change::Added("fabrikam".into())
            ]
        );
        // Nothing changed: no change.
        assert_eq!(diff(&prints(&first), &scan(root.path()).unwrap()), vec![]);

        // Same length, new content: changed (the digest sees it).
        std::fs::write(dir("contoso").join(SETTINGS_FILE), "<RoomsAppSettingz/>").unwrap();
        // A directory gains settings; another loses them.
        std::fs::write(dir("empty").join(SETTINGS_FILE), "<RoomsAppSettings/>").unwrap();
        std::fs::remove_file(dir("fabrikam").join(JSON_SETTINGS_FILE)).unwrap();
        let second = scan(root.path()).unwrap();
        assert_eq!(
            diff(&prints(&first), &second),
            vec![
                Change::Removed("fabrikam".into()),
                Change::Changed("contoso".into()),
                Change::Added("empty".into()),
            ]
        );
        // An appsettings.json beside the .config file is part of the print.
        std::fs::write(dir("contoso").join(JSON_SETTINGS_FILE), "{}").unwrap();
        assert_eq!(
            diff(&prints(&second), &scan(root.path()).unwrap()),
            vec![Change::Changed("contoso".into())]
        );
    }
}
