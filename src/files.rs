//! Reading a file someone named (a plan, a settings file, an expected-state file, a saved
//! snapshot): only a regular file, and only up to a size limit, so `--plan /dev/zero`, a FIFO or a
//! huge file is refused with one line instead of reading until memory runs out or blocking.

use std::io::Read;
use std::path::Path;

/// The largest input file read: a plan, a settings file, an expected state.
pub const MAX_INPUT: u64 = 10 * 1024 * 1024;

/// The bytes of the regular file at `path`, refused when it is something else (a device, a FIFO,
/// a folder) or larger than `max` bytes. The errors say why; callers add the path.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking, so that opening a FIFO without a writer does not wait for one.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory, not a regular file",
        ));
    }
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a device, a pipe or a socket)",
        ));
    }
    if meta.len() > max {
        return Err(too_large(max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // It may grow while being read: never past the limit.
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text_bounded(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, max)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn too_large(max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!("larger than {}", size(max)),
    )
}

fn size(n: u64) -> String {
    if n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, "hello").unwrap();
        assert_eq!(read_text_bounded(&f, 5).unwrap(), "hello");
        let e = read_bounded(&f, 4).unwrap_err();
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        let e = read_bounded(Path::new("/dev/zero"), MAX_INPUT).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_bounded(dir.path(), MAX_INPUT).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(read_bounded(&fifo, MAX_INPUT).is_err());
        assert_eq!(size(MAX_INPUT), "10 MiB");
    }
}
