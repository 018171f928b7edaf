//! Everything the command line prints goes through here: [`outln!`](crate::outln) and
//! [`errln!`](crate::errln) format a message, pass each of its lines through the sanitiser of
//! [`crate::ansi`] (so no escape sequence, bell or other control character from a name, a note, a
//! reason or a child's message reaches the terminal), and write it. A closed pipe
//! (`flightdeck status | head -1`) ends the process quietly instead of panicking as `println!`
//! does. Values that must stay on their line are cleaned first with [`crate::ansi::clean`].

use std::io::Write;

/// The exit status of a process ended by a closed pipe (128 + SIGPIPE, as a shell reports it).
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Print `text` (a newline is added) on stdout, sanitised.
pub fn out_line(text: &str) {
    write_line(&mut std::io::stdout().lock(), text);
}

/// Print `text` (a newline is added) on stderr, sanitised.
pub fn err_line(text: &str) {
    write_line(&mut std::io::stderr().lock(), text);
}

/// Print `text` as it is on stdout (no newline added), sanitised line by line.
pub fn out_text(text: &str) {
    let clean = crate::ansi::clean_lines(text);
    let mut out = std::io::stdout().lock();
    let written = out.write_all(clean.as_bytes()).and_then(|()| out.flush());
    end_on_closed_pipe(written);
}

fn write_line(w: &mut impl Write, text: &str) {
    let clean = crate::ansi::clean_lines(text);
    let written = w
        .write_all(clean.as_bytes())
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush());
    end_on_closed_pipe(written);
}

/// A closed pipe (or a terminal gone) ends the process quietly; other write errors are ignored
/// like `println!` cannot report them either.
fn end_on_closed_pipe(written: std::io::Result<()>) {
    if let Err(e) = written
        && is_closed_pipe(&e)
    {
        std::process::exit(BROKEN_PIPE_EXIT);
    }
}

/// Whether `e` says that the reader of our output has gone.
pub fn is_closed_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe || e.raw_os_error() == Some(libc::EIO)
}

/// For commands that only print: a write to a closed pipe ends the process at once, silently,
/// as it does for any Unix tool (the runtime ignores SIGPIPE by default, so every write would
/// fail instead and `println!` would panic).
pub fn die_quietly_on_closed_pipe() {
    // SAFETY: restoring a signal's default disposition has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `println!` through the sanitiser; a closed pipe ends the process quietly.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::term::out_line(&format!($($arg)*))
    };
}

/// `eprintln!` through the sanitiser; a closed pipe ends the process quietly.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::term::err_line(&format!($($arg)*))
    };
}
