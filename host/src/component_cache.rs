//! The cache of precompiled components: native code, so it is trusted only
//! after it has been verified.
//!
//! Compiling the component with Cranelift costs hundreds of milliseconds;
//! loading a precompiled artefact costs about one. But a precompiled
//! artefact is machine code that runs outside the sandbox, so a file that
//! someone else put into the cache must never be loaded. What the cache
//! trusts, and what it checks before every load:
//!
//! | what | check | when it fails |
//! |---|---|---|
//! | the cache directory | owned by the user running rooms-sync, not writable by group or others (created with mode 0700) | the cache is not used: the component is compiled in memory, with a warning |
//! | the key | `<cache dir>.key`, beside the directory and not in it: 32 random bytes, a regular file owned by the user, mode 0600, created with `create_new` | as above |
//! | an entry | `<sha256 of wasm>-<engine hash>.cwasm`, opened without following symlinks; a regular file owned by the user and not writable by group or others; its first 32 bytes are an HMAC-SHA256, under the key, of the rest | the entry is ignored (warning) and replaced by a fresh compile |
//!
//! New entries are written to a fresh temporary name with `create_new` and
//! mode 0600 (so a planted symlink or file is never followed or reused), then
//! renamed into place. The bytes that were verified are the bytes that are
//! deserialized: the file is not opened twice. Whoever can write as the user
//! running rooms-sync can replace both the key and the entries; the cache
//! does not defend against that user, only against everyone else.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::files::{self, FileError, Symlinks};

/// Length of the key and of the digest in front of every entry.
const DIGEST_BYTES: usize = 32;

/// Largest entry read back (the component's artefact is about 1 MiB).
const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// A verified cache directory with its key.
pub struct ComponentCache {
    dir: PathBuf,
    key: [u8; DIGEST_BYTES],
}

/// What happened when an entry was looked up.
pub enum Lookup {
    /// A verified entry, deserialized.
    Hit(Component),
    /// No entry under this name.
    Miss,
    /// An entry that failed verification; the reason is for the log.
    Rejected(String),
}

impl ComponentCache {
    /// Opens (creating when needed) the cache directory `dir` and its key.
    /// Fails, with the reason for the log, when either is not safe to trust.
    pub fn open(dir: &Path) -> anyhow::Result<ComponentCache> {
        create_private_dir(dir)?;
        let meta = std::fs::symlink_metadata(dir)?;
        if !meta.file_type().is_dir() {
            anyhow::bail!(
                "the cache directory {} is not a plain directory",
                dir.display()
            );
        }
        check_owner(dir, &meta, "cache directory")?;
        let key = load_or_create_key(&key_path(dir))?;
        Ok(ComponentCache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// The path of the entry for `name`.
    pub fn entry_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Loads the entry `name` if it exists and passes every check.
    pub fn lookup(&self, engine: &Engine, name: &str) -> Lookup {
        let path = self.entry_path(name);
        let mut file = match files::open_regular(&path, Symlinks::Refuse) {
            Ok(file) => file,
            Err(FileError::NotFound { .. }) => return Lookup::Miss,
            Err(e) => return Lookup::Rejected(e.to_string()),
        };
        let bytes = match read_checked(&mut file, &path) {
            Ok(bytes) => bytes,
            Err(e) => return Lookup::Rejected(format!("{e:#}")),
        };
        if bytes.len() < DIGEST_BYTES {
            return Lookup::Rejected(format!("{} is too short", path.display()));
        }
        let (digest, artefact) = bytes.split_at(DIGEST_BYTES);
        if self.mac(artefact).verify_slice(digest).is_err() {
            return Lookup::Rejected(format!(
                "{} does not carry this cache's digest (it was not written by rooms-sync with this cache's key)",
                path.display()
            ));
        }
        // SAFETY: these bytes are the ones whose HMAC under our private key
        // we just verified, so they were written by `store` of a rooms-sync
        // process of this user from `Engine::precompile_component`; the
        // engine's compatibility hash is part of the name, and wasmtime
        // checks the artefact's header as well.
        match unsafe { Component::deserialize(engine, artefact) } {
            Ok(component) => Lookup::Hit(component),
            Err(e) => Lookup::Rejected(format!("{}: {e}", path.display())),
        }
    }

    /// Writes `artefact` as the entry `name`: a fresh temporary file
    /// (`create_new`, mode 0600) renamed into place.
    pub fn store(&self, name: &str, artefact: &[u8]) -> anyhow::Result<()> {
        let path = self.entry_path(name);
        let digest = self.mac(artefact).finalize().into_bytes();
        let (tmp, mut file) = create_temp(&self.dir, name)?;
        let written = file
            .write_all(&digest)
            .and_then(|()| file.write_all(artefact))
            .and_then(|()| file.sync_all());
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        Ok(())
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(data);
        mac
    }
}

/// `<cache dir>.key`: beside the directory, not in it.
pub fn key_path(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "rooms-sync-cache".into());
    name.push(".key");
    dir.with_file_name(name)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the component cache {}", dir.display()))
}

fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; DIGEST_BYTES]> {
    let mut key = [0u8; DIGEST_BYTES];
    match create_new_private(path) {
        Ok(mut file) => {
            getrandom::fill(&mut key)
                .map_err(|e| anyhow::anyhow!("no randomness for the cache key: {e}"))?;
            file.write_all(&key)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write the cache key {}", path.display()))?;
            return Ok(key);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot create the cache key {}", path.display()));
        }
    }
    let mut file = files::open_regular(path, Symlinks::Refuse)
        .with_context(|| format!("cannot open the cache key {}", path.display()))?;
    let meta = file.metadata()?;
    check_owner(path, &meta, "cache key")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            anyhow::bail!(
                "the cache key {} is readable by others (mode {:o}); remove it, rooms-sync creates a new one",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    if meta.len() != DIGEST_BYTES as u64 {
        anyhow::bail!(
            "the cache key {} is not {DIGEST_BYTES} bytes long; remove it, rooms-sync creates a new one",
            path.display()
        );
    }
    file.read_exact(&mut key)?;
    Ok(key)
}

/// Reads an opened entry after checking what the handle refers to.
fn read_checked(file: &mut File, path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = file.metadata()?;
    check_owner(path, &meta, "cache entry")?;
    if meta.len() > MAX_ENTRY_BYTES {
        anyhow::bail!("{} is larger than any component artefact", path.display());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Owned by the effective user, and not writable by group or others. (What
/// kind of file it is, the caller has checked.)
fn check_owner(path: &Path, meta: &std::fs::Metadata, what: &str) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            anyhow::bail!(
                "the {what} {} belongs to user id {}, not to the user running rooms-sync ({me}); use a cache directory of your own (--cache-dir)",
                path.display(),
                meta.uid()
            );
        }
        if meta.mode() & 0o022 != 0 {
            anyhow::bail!(
                "the {what} {} can be written by group or others (mode {:o}); make it private (chmod go-w) or use another --cache-dir",
                path.display(),
                meta.mode() & 0o777
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, meta, what);
    Ok(())
}

fn create_new_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// A new file beside the entry `name`, under a name nobody can have planted.
fn create_temp(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, File)> {
    for _ in 0..16 {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", u64::from_le_bytes(nonce)));
        match create_new_private(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot write into {}", dir.display()));
            }
        }
    }
    anyhow::bail!("cannot create a temporary file in {}", dir.display())
}
