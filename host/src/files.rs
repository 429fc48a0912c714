//! Reading input files so that nothing can make the host wait.
//!
//! Opening a FIFO (named pipe) for reading blocks until a writer opens the other end, and
//! reading a character device may never end. A settings file, a secret file or a certificate
//! that is one of these would hang the whole process. [`open_regular`] therefore
//!
//! 1. looks at the path first and refuses anything that is not a regular file without opening
//!    it (opening some devices has effects of its own);
//! 2. opens with `O_NONBLOCK` (and `O_NOCTTY`), so that even a FIFO swapped in after the first
//!    look cannot block the open;
//! 3. asks the opened handle what it is (`fstat`) and refuses anything but a regular file;
//! 4. clears `O_NONBLOCK` again, so that reading the regular file behaves as usual.
//!
//! [`read_regular`] adds a size bound: files larger than the caller's limit are refused rather
//! than read to the end. Errors name the path, what was found there and the fix. Use these
//! functions for every file whose path an operator or a settings file chooses.

use std::fmt;
use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What kind of file system object a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file: the only kind these functions read.
    Regular,
    /// A directory.
    Directory,
    /// A FIFO (named pipe): opening it for reading waits for a writer.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device (`/dev/zero`, a terminal): reading may never end.
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// A symbolic link, where links are not followed.
    Symlink,
    /// Anything else the operating system reports.
    Other,
}

impl FileKind {
    /// The kind of a file type.
    pub fn of(file_type: &FileType) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if file_type.is_fifo() {
                return Self::Fifo;
            }
            if file_type.is_socket() {
                return Self::Socket;
            }
            if file_type.is_char_device() {
                return Self::CharDevice;
            }
            if file_type.is_block_device() {
                return Self::BlockDevice;
            }
        }
        if file_type.is_file() {
            Self::Regular
        } else if file_type.is_dir() {
            Self::Directory
        } else if file_type.is_symlink() {
            Self::Symlink
        } else {
            Self::Other
        }
    }

    /// What to do when this kind stands where a regular file is expected.
    pub fn fix(self) -> &'static str {
        match self {
            Self::Directory => "name a file, not a directory",
            Self::Symlink => "put the file itself there, not a symbolic link",
            _ => {
                "replace it with a regular file holding the content (a pipe, socket or device \
                 could make rooms-sync wait forever)"
            }
        }
    }
}

/// `a FIFO (named pipe)`, `a directory`, ...
impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Regular => "a regular file",
            Self::Directory => "a directory",
            Self::Fifo => "a FIFO (named pipe)",
            Self::Socket => "a socket",
            Self::CharDevice => "a character device",
            Self::BlockDevice => "a block device",
            Self::Symlink => "a symbolic link",
            Self::Other => "a special file",
        })
    }
}

/// Whether the last component of a path may be a symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow a symbolic link to what it points at (which must be a regular file).
    Follow,
    /// Refuse a symbolic link as the last component (`O_NOFOLLOW`).
    Refuse,
}

/// Why a file could not be read. Every message names the path and the fix.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Nothing is at the path.
    #[error("{} does not exist; create it or correct the path", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The host process may not read it.
    #[error(
        "rooms-sync may not read {}; give the user running rooms-sync read permission on it",
        path.display()
    )]
    PermissionDenied {
        /// The path as given.
        path: PathBuf,
    },
    /// Something other than a regular file is at the path.
    #[error("{} is {kind}, not a regular file; {}", path.display(), kind.fix())]
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What is there instead.
        kind: FileKind,
    },
    /// The file is larger than the caller accepts.
    #[error("{} is larger than {} bytes, too large for what is expected here; point rooms-sync at the right file", path.display(), limit)]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// The largest accepted size in bytes.
        limit: u64,
    },
    /// Any other failure of the operating system.
    #[error("{} cannot be read ({reason}); point rooms-sync at a readable file", path.display())]
    Unreadable {
        /// The path as given.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

impl FileError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotFound { path }
            | Self::PermissionDenied { path }
            | Self::NotRegular { path, .. }
            | Self::TooLarge { path, .. }
            | Self::Unreadable { path, .. } => path,
        }
    }

    /// Maps an I/O error on `path`.
    fn io(path: &Path, error: &io::Error) -> Self {
        let path = path.to_owned();
        #[cfg(unix)]
        if error.raw_os_error() == Some(libc::ELOOP) {
            // O_NOFOLLOW met a symbolic link.
            return Self::NotRegular {
                path,
                kind: FileKind::Symlink,
            };
        }
        match error.kind() {
            io::ErrorKind::NotFound => Self::NotFound { path },
            io::ErrorKind::PermissionDenied => Self::PermissionDenied { path },
            _ => Self::Unreadable {
                path,
                reason: error.to_string(),
            },
        }
    }
}

/// Opens `path` for reading if, and only if, it is a regular file, without ever blocking (see
/// the module documentation). The returned handle reads as a normal blocking file.
pub fn open_regular(path: &Path, symlinks: Symlinks) -> Result<File, FileError> {
    let seen = match symlinks {
        Symlinks::Follow => std::fs::metadata(path),
        Symlinks::Refuse => std::fs::symlink_metadata(path),
    }
    .map_err(|error| FileError::io(path, &error))?;
    refuse_irregular(path, &seen.file_type())?;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if symlinks == Symlinks::Refuse {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    let file = options
        .open(path)
        .map_err(|error| FileError::io(path, &error))?;
    let opened = file
        .metadata()
        .map_err(|error| FileError::io(path, &error))?;
    // The path may have changed between the first look and the open.
    refuse_irregular(path, &opened.file_type())?;
    #[cfg(unix)]
    clear_nonblocking(&file).map_err(|error| FileError::io(path, &error))?;
    Ok(file)
}

/// Reads the regular file at `path` (following symbolic links), at most `max_bytes` bytes;
/// a larger file is refused. Never blocks on a FIFO or device.
pub fn read_regular(path: &Path, max_bytes: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path, Symlinks::Follow)?;
    read_bounded(file, path, max_bytes)
}

/// Reads an opened file to its end, at most `max_bytes` bytes; a larger file is refused. `path`
/// is used in errors only. The buffer is sized once from the file's length, so that a secret is
/// not left behind in a reallocated copy.
pub fn read_bounded(file: File, path: &Path, max_bytes: u64) -> Result<Vec<u8>, FileError> {
    let too_large = || FileError::TooLarge {
        path: path.to_owned(),
        limit: max_bytes,
    };
    let length = file
        .metadata()
        .map_err(|error| FileError::io(path, &error))?
        .len();
    if length > max_bytes {
        return Err(too_large());
    }
    let capacity = usize::try_from(length.saturating_add(1)).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| FileError::io(path, &error))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

fn refuse_irregular(path: &Path, file_type: &FileType) -> Result<(), FileError> {
    match FileKind::of(file_type) {
        FileKind::Regular => Ok(()),
        kind => Err(FileError::NotRegular {
            path: path.to_owned(),
            kind,
        }),
    }
}

/// Clears `O_NONBLOCK` on an opened regular file, so that reads wait for the file system as
/// usual (some honour the flag, for example under mandatory locks).
#[cfg(unix)]
fn clear_nonblocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `file` for the duration of both calls;
    // F_GETFL and F_SETFL only read and set its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Helpers for tests of code that reads files: real FIFOs, and a guard against a call that
/// blocks.
#[cfg(all(test, unix))]
pub(crate) mod test_support {
    use std::path::Path;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `work` on a thread and fails the test if it has not returned within 10 s, instead
    /// of hanging the test run (the blocked thread is left behind).
    pub(crate) fn returns_promptly<T: Send + 'static>(
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(work());
        });
        receiver
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what} did not return within 10 s: it blocked"))
    }

    /// Makes a FIFO at `path` with the `mkfifo` program.
    pub(crate) fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo {}", path.display());
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::test_support::{mkfifo, returns_promptly};
    use super::*;

    #[test]
    fn a_regular_file_is_read_and_then_reads_blocking_as_usual() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.txt");
        std::fs::write(&path, "content").unwrap();
        assert_eq!(read_regular(&path, 100).unwrap(), b"content");
        use std::os::fd::AsRawFd;
        let file = open_regular(&path, Symlinks::Follow).unwrap();
        // SAFETY: F_GETFL on a descriptor `file` owns.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0, "O_NONBLOCK is cleared");
    }

    #[test]
    fn a_fifo_is_refused_at_once_naming_path_kind_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        mkfifo(&path);
        let checked = path.clone();
        let error = returns_promptly("read_regular on a FIFO", move || {
            read_regular(&checked, 100).unwrap_err()
        });
        assert!(
            matches!(&error, FileError::NotRegular { kind: FileKind::Fifo, path: p } if p == &path),
            "{error:?}"
        );
        let message = error.to_string();
        for needle in [
            path.to_str().unwrap(),
            "FIFO (named pipe)",
            "not a regular file",
            "replace it with a regular file",
        ] {
            assert!(message.contains(needle), "`{needle}` in {message}");
        }
    }

    #[test]
    fn a_fifo_is_refused_also_when_the_first_look_is_skipped() {
        // A FIFO swapped in after the first look: the open itself must not block, and the
        // opened handle is refused.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        mkfifo(&path);
        let opened = returns_promptly("opening a FIFO with O_NONBLOCK", move || {
            use std::os::unix::fs::OpenOptionsExt;
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .unwrap();
            let metadata = file.metadata().unwrap();
            refuse_irregular(&path, &metadata.file_type()).unwrap_err()
        });
        assert!(matches!(
            opened,
            FileError::NotRegular {
                kind: FileKind::Fifo,
                ..
            }
        ));
    }

    #[test]
    fn directories_devices_and_sockets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_regular(dir.path(), 100).unwrap_err();
        assert!(matches!(
            error,
            FileError::NotRegular {
                kind: FileKind::Directory,
                ..
            }
        ));
        assert!(error.to_string().contains("name a file, not a directory"));
        let error = returns_promptly("read_regular on /dev/zero", || {
            read_regular(Path::new("/dev/zero"), 100).unwrap_err()
        });
        assert!(
            matches!(
                error,
                FileError::NotRegular {
                    kind: FileKind::CharDevice,
                    ..
                }
            ),
            "{error:?}"
        );
        let socket_path = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
        let error = read_regular(&socket_path, 100).unwrap_err();
        assert!(matches!(
            error,
            FileError::NotRegular {
                kind: FileKind::Socket,
                ..
            }
        ));
    }

    #[test]
    fn symlinks_are_followed_or_refused_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_regular(&link, Symlinks::Follow).is_ok());
        let error = open_regular(&link, Symlinks::Refuse).unwrap_err();
        assert!(matches!(
            error,
            FileError::NotRegular {
                kind: FileKind::Symlink,
                ..
            }
        ));
        // A link to a FIFO is a FIFO.
        let pipe = dir.path().join("pipe");
        mkfifo(&pipe);
        let to_pipe = dir.path().join("to-pipe");
        std::os::unix::fs::symlink(&pipe, &to_pipe).unwrap();
        let error = returns_promptly("following a link to a FIFO", move || {
            open_regular(&to_pipe, Symlinks::Follow).unwrap_err()
        });
        assert!(matches!(
            error,
            FileError::NotRegular {
                kind: FileKind::Fifo,
                ..
            }
        ));
    }

    #[test]
    fn files_over_the_limit_are_refused_and_at_the_limit_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, vec![b'a'; 64]).unwrap();
        assert_eq!(read_regular(&path, 64).unwrap().len(), 64);
        let error = read_regular(&path, 63).unwrap_err();
        assert!(
            matches!(&error, FileError::TooLarge { limit: 63, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn missing_and_forbidden_files_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let error = read_regular(&missing, 10).unwrap_err();
        assert!(matches!(error, FileError::NotFound { .. }));
        assert_eq!(error.path(), missing);
        let error = FileError::io(&missing, &io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(error.to_string().contains("read permission"));
    }
}
