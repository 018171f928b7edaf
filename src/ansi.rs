//! The one place where hostile child bytes become safe styled text.
//!
//! A [`vte`] parser (built without `std`, so OSC strings are capped at 1 KiB) turns one logical
//! line of child output into what a terminal would finally show on that line:
//!
//! - SGR sequences (`CSI … m`) are kept as [`Style`]s: bold, dim, italic, underline, reverse,
//!   16/256/truecolour foreground and background (both `;` and `:` forms).
//! - `\r` returns to column 0 so later text overwrites the line (`"10%\r55%\r100%"` → `"100%"`,
//!   `"abcdef\rXY"` → `"XYcdef"`); `\b` moves back one column; `\t` moves to the next multiple of
//!   8. The line-local redraw sequences progress bars use with them are applied to the line too:
//!   erase in line (`CSI K`, `CSI 1 K`, `CSI 2 K`), cursor to column (`CSI n G`) and cursor
//!   forward/back (`CSI n C`, `CSI n D`).
//! - Everything else is dropped: vertical cursor moves, clears, scroll regions, modes (alternate
//!   screen, mouse, bracketed paste), window titles, OSC 52 clipboard, OSC 8 hyperlinks, DCS,
//!   APC/PM/SOS strings, queries, bells and all other C0 controls. C1 controls (and stray bytes
//!   `0x80`–`0x9F`) and invalid UTF-8 show as U+FFFD.
//!
//! Nothing here emits anything but printable text and the SGR sequences this module generates
//! itself. No UI crate is imported: the cockpit converts [`Styled`] in its own module.

use std::ops::Range;

use vte::{Params, ParamsIter, Parser, Perform};

/// A colour: `Indexed(0..=15)` are the 16 basic colours (8–15 bright), 16–255 the 256-colour
/// palette.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Color {
    /// A palette index.
    Indexed(u8),
    /// A truecolour value.
    Rgb(u8, u8, u8),
}

/// Text attributes set by SGR sequences. `Style::default()` is the terminal's default.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Hash)]
pub struct Style {
    /// Foreground colour (`None`: default).
    pub fg: Option<Color>,
    /// Background colour (`None`: default).
    pub bg: Option<Color>,
    /// SGR 1.
    pub bold: bool,
    /// SGR 2.
    pub dim: bool,
    /// SGR 3.
    pub italic: bool,
    /// SGR 4 (any underline style).
    pub underline: bool,
    /// SGR 7.
    pub reverse: bool,
}

impl Style {
    /// True for the terminal's default style.
    pub fn is_default(&self) -> bool {
        *self == Style::default()
    }

    /// Appends the SGR sequence that sets exactly this style from any previous one: `ESC[0m` for
    /// the default style, otherwise `ESC[0;…m` (reset, then the attributes).
    pub fn write_sgr(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\x1b[0");
        for (on, code) in [
            (self.bold, b'1'),
            (self.dim, b'2'),
            (self.italic, b'3'),
            (self.underline, b'4'),
            (self.reverse, b'7'),
        ] {
            if on {
                out.extend_from_slice(&[b';', code]);
            }
        }
        if let Some(c) = self.fg {
            write_color(out, c, 30, 90, 38);
        }
        if let Some(c) = self.bg {
            write_color(out, c, 40, 100, 48);
        }
        out.push(b'm');
    }
}

fn write_color(out: &mut Vec<u8>, color: Color, base: u8, bright: u8, extended: u8) {
    out.push(b';');
    match color {
        Color::Indexed(n @ 0..=7) => push_u8(out, base + n),
        Color::Indexed(n @ 8..=15) => push_u8(out, bright + n - 8),
        Color::Indexed(n) => {
            push_u8(out, extended);
            out.extend_from_slice(b";5;");
            push_u8(out, n);
        }
        Color::Rgb(r, g, b) => {
            push_u8(out, extended);
            out.extend_from_slice(b";2;");
            push_u8(out, r);
            out.push(b';');
            push_u8(out, g);
            out.push(b';');
            push_u8(out, b);
        }
    }
}

fn push_u8(out: &mut Vec<u8>, n: u8) {
    if n >= 100 {
        out.push(b'0' + n / 100);
    }
    if n >= 10 {
        out.push(b'0' + n / 10 % 10);
    }
    out.push(b'0' + n % 10);
}

/// One line as safe text plus style runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Styled {
    /// The visible text: printable characters only.
    pub text: String,
    /// Style runs: byte ranges into `text`, in order, contiguous, covering all of it (one run
    /// per change of style, default-styled runs included; none for an empty line).
    pub spans: Vec<(Range<usize>, Style)>,
}

/// Whether colour is off by <https://no-color.org>: `NO_COLOR` set to a non-empty value (an empty
/// one does not count). Every part of flightdeck that colours asks this one function.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether to colour what goes to stdout: a terminal, and colour not turned off.
pub fn color_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && !no_color()
}

/// True when `bytes` can be shown as is: valid UTF-8 without C0 controls, DEL or C1 controls.
/// (The fast path of [`parse_line`] and [`sanitize_line`].)
pub fn is_plain(bytes: &[u8]) -> bool {
    // One branch-free pass: printable ASCII is 0x20..=0x7e.
    if bytes
        .iter()
        .fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f))
    {
        return true;
    }
    if bytes.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return false;
    }
    // C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
    std::str::from_utf8(bytes).is_ok()
        && memchr::memchr_iter(0xc2, bytes).all(|i| !matches!(bytes.get(i + 1), Some(0x80..=0x9f)))
}

/// Turns one logical line of child output into safe text and style runs.
pub fn parse_line(bytes: &[u8]) -> Styled {
    if is_plain(bytes) {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let spans = if text.is_empty() {
            Vec::new()
        } else {
            vec![(0..text.len(), Style::default())]
        };
        return Styled { text, spans };
    }
    let mut styled = Styled::default();
    let mut run_start = 0;
    let mut run_style = Style::default();
    Line::parse(bytes).for_each_char(|c, style| {
        if style != run_style {
            if styled.text.len() > run_start {
                styled.spans.push((run_start..styled.text.len(), run_style));
            }
            run_start = styled.text.len();
            run_style = style;
        }
        styled.text.push(c);
    });
    if styled.text.len() > run_start {
        styled.spans.push((run_start..styled.text.len(), run_style));
    }
    styled
}

/// Appends one line for printing to a real terminal (headless mode): the visible text with only
/// SGR kept, re-encoded by this module, and a reset at the end if a style is still set. With
/// `color == false`, plain text. No newline is appended.
pub fn sanitize_line(bytes: &[u8], color: bool, out: &mut Vec<u8>) {
    if is_plain(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut current = Style::default();
    let mut utf8 = [0u8; 4];
    Line::parse(bytes).for_each_char(|c, style| {
        if color && style != current {
            style.write_sgr(out);
            current = style;
        }
        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    });
    if !current.is_default() {
        out.extend_from_slice(b"\x1b[0m");
    }
}

/// One value from a user, a journal or a child (a name, a note, a reason, a message) made safe to
/// print inside a line: escape and control sequences are dropped as [`parse_line`] drops them,
/// and everything that would move the cursor (newlines, carriage returns, tabs, backspaces) shows
/// as a space, so a value can neither style the terminal nor fake a line of its own.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if is_plain(s.as_bytes()) {
        return std::borrow::Cow::Borrowed(s);
    }
    let flat: Vec<u8> = s
        .bytes()
        .map(|b| {
            if matches!(b, b'\n' | b'\r' | b'\t' | 0x08 | 0x0b | 0x0c) {
                b' '
            } else {
                b
            }
        })
        .collect();
    std::borrow::Cow::Owned(parse_line(&flat).text)
}

/// Text of several lines (a status, a message) made safe to print: each line as
/// [`sanitize_line`] without colour makes it, the newlines kept.
pub fn clean_lines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.split('\n').all(|l| is_plain(l.as_bytes())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        sanitize_line(line.as_bytes(), false, &mut out);
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// True when `bytes` look like binary data rather than text: a NUL byte, or at least two control
/// bytes (C0 other than `\t \n \r \b \f ESC`, or DEL) making up more than 1/16 of the bytes.
pub fn is_probably_binary(bytes: &[u8]) -> bool {
    if memchr::memchr(0, bytes).is_some() {
        return true;
    }
    let controls = bytes
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x08 | 0x0c | 0x1b)) || b == 0x7f)
        .count();
    controls >= 2 && controls * 16 > bytes.len()
}

// ---------------------------------------------------------------------------------------------
// The line model
// ---------------------------------------------------------------------------------------------

/// How far cursor movement sequences may move right of the line's content, so that a few bytes
/// (`ESC[65535C`) cannot blow up into a huge line. Printed text and tabs are not limited (they
/// are proportional to the input).
const MAX_MOVE_COLUMN: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Half {
    /// A narrow character.
    No,
    /// First column of a wide character.
    Head,
    /// Second column of a wide character (not printed).
    Tail,
}

#[derive(Clone, Copy)]
struct Cell {
    ch: char,
    style: Style,
    half: Half,
}

const BLANK: Cell = Cell {
    ch: ' ',
    style: Style {
        fg: None,
        bg: None,
        bold: false,
        dim: false,
        italic: false,
        underline: false,
        reverse: false,
    },
    half: Half::No,
};

/// One terminal line: cells by column, a cursor and the current style.
#[derive(Default)]
struct Line {
    cells: Vec<Cell>,
    /// Zero-width characters (combining marks, joiners, variation selectors) by cell index.
    marks: Vec<(usize, char)>,
    cursor: usize,
    style: Style,
    /// Cell of the last printed character (zero-width characters attach to it).
    last: Option<usize>,
}

impl Line {
    fn parse(bytes: &[u8]) -> Line {
        let mut line = Line::default();
        let mut parser: Parser = Parser::new();
        parser.advance(&mut line, bytes);
        // An incomplete UTF-8 sequence at the end is held by the parser; an ESC terminates it
        // (printing U+FFFD) and has no other visible effect in any state.
        parser.advance(&mut line, b"\x1b");
        line
    }

    /// Calls `f` with every visible character and its style, in column order.
    fn for_each_char(&mut self, mut f: impl FnMut(char, Style)) {
        self.marks.sort_by_key(|&(i, _)| i);
        let mut marks = self.marks.iter().peekable();
        for (i, cell) in self.cells.iter().enumerate() {
            if cell.half != Half::Tail {
                f(cell.ch, cell.style);
            }
            while let Some(&(_, m)) = marks.next_if(|&&(at, _)| at == i) {
                f(m, cell.style);
            }
        }
    }

    /// Sets cell `i` blank (dropping its marks).
    fn blank(&mut self, i: usize) {
        self.cells[i] = BLANK;
        if !self.marks.is_empty() {
            self.marks.retain(|&(at, _)| at != i);
        }
    }

    /// Before cell `i` is overwritten: the other half of a wide character there becomes blank.
    fn split_wide(&mut self, i: usize) {
        match self.cells[i].half {
            Half::Head if i + 1 < self.cells.len() => self.blank(i + 1),
            Half::Tail if i > 0 => self.blank(i - 1),
            _ => {}
        }
    }

    fn put(&mut self, ch: char, width: usize) {
        let at = self.cursor;
        if self.cells.len() < at + width {
            self.cells.resize(at + width, BLANK);
        }
        for i in at..at + width {
            self.split_wide(i);
        }
        if !self.marks.is_empty() {
            self.marks.retain(|&(i, _)| i < at || i >= at + width);
        }
        let style = self.style;
        if width == 2 {
            self.cells[at] = Cell {
                ch,
                style,
                half: Half::Head,
            };
            self.cells[at + 1] = Cell {
                ch: ' ',
                style,
                half: Half::Tail,
            };
        } else {
            self.cells[at] = Cell {
                ch,
                style,
                half: Half::No,
            };
        }
        self.last = Some(at);
        self.cursor = at + width;
    }

    fn move_right_to(&mut self, column: usize) {
        let limit = self.cells.len().max(MAX_MOVE_COLUMN);
        self.cursor = column.min(limit).max(self.cursor);
    }

    fn erase_in_line(&mut self, mode: u16) {
        let len = self.cells.len();
        let (from, to) = match mode {
            0 => (self.cursor.min(len), len),
            1 => (0, (self.cursor + 1).min(len)),
            2 => (0, len),
            _ => return,
        };
        if from >= to {
            return;
        }
        // Wide characters cut by the edges are erased whole.
        if from > 0 && self.cells[from].half == Half::Tail {
            self.blank(from - 1);
        }
        if to < len && self.cells[to].half == Half::Tail {
            self.blank(to);
        }
        if to == len {
            self.cells.truncate(from);
            self.marks.retain(|&(i, _)| i < from);
        } else {
            self.cells[from..to].fill(BLANK);
            self.marks.retain(|&(i, _)| i < from || i >= to);
        }
        if self.last.is_some_and(|l| l >= from && l < to) {
            self.last = None;
        }
    }

    fn sgr(&mut self, params: &Params) {
        let mut it = params.iter();
        while let Some(p) = it.next() {
            let s = &mut self.style;
            match p[0] {
                0 => *s = Style::default(),
                1 => s.bold = true,
                2 => s.dim = true,
                3 => s.italic = true,
                // 4:0 is "no underline"; 4:1..4:5 are underline styles.
                4 => s.underline = p.get(1).is_none_or(|&v| v != 0),
                7 => s.reverse = true,
                21 => s.underline = true,
                22 => {
                    s.bold = false;
                    s.dim = false;
                }
                23 => s.italic = false,
                24 => s.underline = false,
                27 => s.reverse = false,
                n @ 30..=37 => s.fg = Some(Color::Indexed((n - 30) as u8)),
                38 => {
                    if let Some(c) = extended_color(p, &mut it) {
                        s.fg = Some(c);
                    }
                }
                39 => s.fg = None,
                n @ 40..=47 => s.bg = Some(Color::Indexed((n - 40) as u8)),
                48 => {
                    if let Some(c) = extended_color(p, &mut it) {
                        s.bg = Some(c);
                    }
                }
                49 => s.bg = None,
                // Underline colour: not kept, but its parameters must be consumed.
                58 => {
                    let _ = extended_color(p, &mut it);
                }
                n @ 90..=97 => s.fg = Some(Color::Indexed((n - 90 + 8) as u8)),
                n @ 100..=107 => s.bg = Some(Color::Indexed((n - 100 + 8) as u8)),
                _ => {}
            }
        }
    }
}

/// The colour of `38`/`48`/`58`: colon form in `p` (`38:5:n`, `38:2:r:g:b`, `38:2:cs:r:g:b`) or
/// semicolon form in the following parameters (`38;5;n`, `38;2;r;g;b`), which are consumed.
fn extended_color(p: &[u16], it: &mut ParamsIter<'_>) -> Option<Color> {
    let byte = |v: u16| u8::try_from(v).ok();
    if p.len() > 1 {
        return match p[1] {
            5 => byte(*p.get(2)?).map(Color::Indexed),
            2 => {
                let rgb = match p.len() {
                    5 => &p[2..5],
                    n if n >= 6 => &p[3..6],
                    _ => return None,
                };
                Some(Color::Rgb(byte(rgb[0])?, byte(rgb[1])?, byte(rgb[2])?))
            }
            _ => None,
        };
    }
    match it.next()?[0] {
        5 => byte(it.next()?[0]).map(Color::Indexed),
        2 => {
            let r = it.next()?[0];
            let g = it.next()?[0];
            let b = it.next()?[0];
            Some(Color::Rgb(byte(r)?, byte(g)?, byte(b)?))
        }
        _ => None,
    }
}

impl Perform for Line {
    fn print(&mut self, c: char) {
        if c == '\x7f' {
            return;
        }
        match char_width(c) {
            0 => match self.last {
                Some(i) => self.marks.push((i, c)),
                None => self.put(c, 1),
            },
            w => self.put(c, w),
        }
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\r' => self.cursor = 0,
            b'\t' => self.cursor = (self.cursor / 8 + 1) * 8,
            0x08 => self.cursor = self.cursor.saturating_sub(1),
            // C1 controls (or stray bytes that would be ones): visible, never interpreted.
            0x80..=0x9f => self.print('\u{fffd}'),
            _ => {}
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        // Private (`?`, `>`…) and intermediate forms are other functions: `CSI > 4 ; 2 m` is not
        // SGR.
        if ignore || !intermediates.is_empty() {
            return;
        }
        let first = params.iter().next().map_or(0, |p| p[0]);
        match action {
            'm' => self.sgr(params),
            'K' => self.erase_in_line(first),
            'G' | '`' => {
                let column = usize::from(first.max(1) - 1);
                if column <= self.cursor {
                    self.cursor = column;
                } else {
                    self.move_right_to(column);
                }
            }
            'C' => self.move_right_to(self.cursor + usize::from(first.max(1))),
            'D' => self.cursor = self.cursor.saturating_sub(usize::from(first.max(1))),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Character width
// ---------------------------------------------------------------------------------------------

/// Columns a character takes in a terminal: 0 for combining marks and other zero-width
/// characters, 2 for East Asian wide/fullwidth characters and emoji, 1 otherwise. A compact
/// approximation of Unicode's tables covering the common scripts, CJK and emoji.
fn char_width(c: char) -> usize {
    let cp = u32::from(c);
    if cp < 0x300 {
        return 1;
    }
    if in_table(ZERO_WIDTH, cp) {
        0
    } else if in_table(WIDE, cp) {
        2
    } else {
        1
    }
}

fn in_table(table: &[(u32, u32)], cp: u32) -> bool {
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Zero-width ranges (sorted, inclusive).
const ZERO_WIDTH: &[(u32, u32)] = &[
    (0x0300, 0x036f),
    (0x0483, 0x0489),
    (0x0591, 0x05bd),
    (0x05bf, 0x05bf),
    (0x05c1, 0x05c2),
    (0x05c4, 0x05c5),
    (0x05c7, 0x05c7),
    (0x0610, 0x061a),
    (0x064b, 0x065f),
    (0x0670, 0x0670),
    (0x06d6, 0x06dc),
    (0x06df, 0x06e4),
    (0x06e7, 0x06e8),
    (0x06ea, 0x06ed),
    (0x0900, 0x0902),
    (0x093a, 0x093a),
    (0x093c, 0x093c),
    (0x0941, 0x0948),
    (0x094d, 0x094d),
    (0x0951, 0x0957),
    (0x0e31, 0x0e31),
    (0x0e34, 0x0e3a),
    (0x0e47, 0x0e4e),
    (0x1ab0, 0x1aff),
    (0x1dc0, 0x1dff),
    (0x200b, 0x200f),
    (0x202a, 0x202e),
    (0x2060, 0x2064),
    (0x2066, 0x206f),
    (0x20d0, 0x20ff),
    (0xfe00, 0xfe0f),
    (0xfe20, 0xfe2f),
    (0xfeff, 0xfeff),
    (0x1f3fb, 0x1f3ff),
    (0xe0000, 0xe0fff),
];

/// Wide ranges (sorted, inclusive).
const WIDE: &[(u32, u32)] = &[
    (0x1100, 0x115f),
    (0x231a, 0x231b),
    (0x2329, 0x232a),
    (0x23e9, 0x23ec),
    (0x23f0, 0x23f0),
    (0x23f3, 0x23f3),
    (0x25fd, 0x25fe),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267f, 0x267f),
    (0x2693, 0x2693),
    (0x26a1, 0x26a1),
    (0x26aa, 0x26ab),
    (0x26bd, 0x26be),
    (0x26c4, 0x26c5),
    (0x26ce, 0x26ce),
    (0x26d4, 0x26d4),
    (0x26ea, 0x26ea),
    (0x26f2, 0x26f3),
    (0x26f5, 0x26f5),
    (0x26fa, 0x26fa),
    (0x26fd, 0x26fd),
    (0x2705, 0x2705),
    (0x270a, 0x270b),
    (0x2728, 0x2728),
    (0x274c, 0x274c),
    (0x274e, 0x274e),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27b0, 0x27b0),
    (0x27bf, 0x27bf),
    (0x2b1b, 0x2b1c),
    (0x2b50, 0x2b50),
    (0x2b55, 0x2b55),
    (0x2e80, 0x303e),
    (0x3041, 0x33ff),
    (0x3400, 0x4dbf),
    (0x4e00, 0x9fff),
    (0xa000, 0xa4cf),
    (0xa960, 0xa97f),
    (0xac00, 0xd7a3),
    (0xf900, 0xfaff),
    (0xfe10, 0xfe19),
    (0xfe30, 0xfe6f),
    (0xff00, 0xff60),
    (0xffe0, 0xffe6),
    (0x16fe0, 0x16fe4),
    (0x17000, 0x18cff),
    (0x1b000, 0x1b2ff),
    (0x1f004, 0x1f004),
    (0x1f0cf, 0x1f0cf),
    (0x1f18e, 0x1f18e),
    (0x1f191, 0x1f19a),
    (0x1f200, 0x1f202),
    (0x1f210, 0x1f23b),
    (0x1f240, 0x1f248),
    (0x1f250, 0x1f251),
    (0x1f260, 0x1f265),
    (0x1f300, 0x1f3fa),
    (0x1f400, 0x1f64f),
    (0x1f680, 0x1f6ff),
    (0x1f7e0, 0x1f7eb),
    (0x1f7f0, 0x1f7f0),
    (0x1f90c, 0x1f9ff),
    (0x1fa70, 0x1faff),
    (0x20000, 0x2fffd),
    (0x30000, 0x3fffd),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        parse_line(bytes).text
    }

    fn sanitized(bytes: &[u8], color: bool) -> String {
        let mut out = Vec::new();
        sanitize_line(bytes, color, &mut out);
        String::from_utf8(out).expect("sanitized output is UTF-8")
    }

    fn fg(c: Color) -> Style {
        Style {
            fg: Some(c),
            ..Style::default()
        }
    }

    const RED: Color = Color::Indexed(1);

    #[test]
    fn plain_lines_are_copied_as_is() {
        for line in ["", "hello world", "1234567", "héllo wörld — 日本語 ✅"] {
            assert!(is_plain(line.as_bytes()));
            assert_eq!(sanitized(line.as_bytes(), true), line);
            let styled = parse_line(line.as_bytes());
            assert_eq!(styled.text, line);
            let expected: Vec<_> = if line.is_empty() {
                vec![]
            } else {
                vec![(0..line.len(), Style::default())]
            };
            assert_eq!(styled.spans, expected);
        }
        assert!(!is_plain(b"tab\there"));
        assert!(!is_plain(b"del\x7f"));
        assert!(!is_plain(b"bad \xff"));
        assert!(!is_plain("c1 \u{9b}31m".as_bytes()));
    }

    #[test]
    fn keeps_sgr_as_spans() {
        let s = parse_line(b"\x1b[1;31merror\x1b[0m: \x1b[4mfile\x1b[24m ok");
        assert_eq!(s.text, "error: file ok");
        let bold_red = Style {
            bold: true,
            fg: Some(RED),
            ..Style::default()
        };
        let underline = Style {
            underline: true,
            ..Style::default()
        };
        assert_eq!(
            s.spans,
            [
                (0..5, bold_red),
                (5..7, Style::default()),
                (7..11, underline),
                (11..14, Style::default()),
            ]
        );
    }

    #[test]
    fn sgr_attributes_and_resets() {
        let style_of = |bytes: &[u8]| parse_line(bytes).spans[0].1;
        let all = Style {
            fg: None,
            bg: None,
            bold: true,
            dim: true,
            italic: true,
            underline: true,
            reverse: true,
        };
        assert_eq!(style_of(b"\x1b[1;2;3;4;7mx"), all);
        assert_eq!(style_of(b"\x1b[1;2;3;4;7m\x1b[22;23;24;27mx"), Style::default());
        assert_eq!(style_of(b"\x1b[1;31m\x1b[mx"), Style::default());
        assert_eq!(style_of(b"\x1b[1;31m\x1b[0mx"), Style::default());
        assert_eq!(
            style_of(b"\x1b[1;31;42m\x1b[39mx"),
            Style {
                bold: true,
                bg: Some(Color::Indexed(2)),
                ..Style::default()
            }
        );
        assert_eq!(style_of(b"\x1b[31;42m\x1b[49mx"), fg(RED));
        assert_eq!(style_of(b"\x1b[4:0mx"), Style::default());
        assert_eq!(
            style_of(b"\x1b[4:3mx"),
            Style {
                underline: true,
                ..Style::default()
            }
        );
        assert_eq!(style_of(b"\x1b[91mx"), fg(Color::Indexed(9)));
        assert_eq!(
            style_of(b"\x1b[107mx"),
            Style {
                bg: Some(Color::Indexed(15)),
                ..Style::default()
            }
        );
        // Unknown attributes are ignored, the rest of the sequence still applies.
        assert_eq!(style_of(b"\x1b[5;9;53;31mx"), fg(RED));
        // Not SGR: a private `m` (xterm modifyOtherKeys).
        assert_eq!(style_of(b"\x1b[>4;2mx"), Style::default());
    }

    #[test]
    fn extended_colours() {
        let style_of = |bytes: &[u8]| parse_line(bytes).spans[0].1;
        assert_eq!(style_of(b"\x1b[38;5;208mx"), fg(Color::Indexed(208)));
        assert_eq!(style_of(b"\x1b[38:5:208mx"), fg(Color::Indexed(208)));
        assert_eq!(style_of(b"\x1b[38;2;1;2;3mx"), fg(Color::Rgb(1, 2, 3)));
        assert_eq!(style_of(b"\x1b[38:2::1:2:3mx"), fg(Color::Rgb(1, 2, 3)));
        assert_eq!(style_of(b"\x1b[38:2:1:2:3mx"), fg(Color::Rgb(1, 2, 3)));
        assert_eq!(
            style_of(b"\x1b[48;2;255;128;0;1mx"),
            Style {
                bg: Some(Color::Rgb(255, 128, 0)),
                bold: true,
                ..Style::default()
            }
        );
        // The underline colour is consumed, not mistaken for other attributes.
        assert_eq!(style_of(b"\x1b[58;2;1;2;3;31mx"), fg(RED));
        // Out of range: ignored.
        assert_eq!(style_of(b"\x1b[38;5;300mx"), Style::default());
    }

    #[test]
    fn clean_values_cannot_style_the_terminal_or_fake_a_line() {
        assert_eq!(clean("bob"), "bob");
        assert!(matches!(clean("bob"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(clean("evil\x1b]0;pwned\x07name"), "evilname");
        assert_eq!(clean("a\nb\rc\td\x08e"), "a b c d e");
        assert_eq!(clean("\x1b[31mred\x1b[0m\x07"), "red");
        assert_eq!(clean("c1\u{9b}31m"), "c1\u{fffd}31m");
        assert_eq!(clean_lines("one\x1b[2J\ntwo\x07\n"), "one\ntwo\n");
        assert_eq!(clean_lines("plain\nlines\n"), "plain\nlines\n");
    }

    #[test]
    fn sanitize_reencodes_sgr_and_resets_at_the_end() {
        assert_eq!(
            sanitized(b"\x1b[1;31merr\x1b[0m ok", true),
            "\x1b[0;1;31merr\x1b[0m ok"
        );
        assert_eq!(sanitized(b"\x1b[31mred", true), "\x1b[0;31mred\x1b[0m");
        assert_eq!(
            sanitized(b"\x1b[38;5;208ma\x1b[48;2;1;2;3mb", true),
            "\x1b[0;38;5;208ma\x1b[0;38;5;208;48;2;1;2;3mb\x1b[0m"
        );
        assert_eq!(sanitized(b"\x1b[92;104mx", true), "\x1b[0;92;104mx\x1b[0m");
        // Style without text: nothing to set.
        assert_eq!(sanitized(b"abc\x1b[31m", true), "abc");
        assert_eq!(sanitized(b"\x1b[1;31merr\x1b[0m ok", false), "err ok");
        // Redundant sequences collapse.
        assert_eq!(
            sanitized(b"\x1b[31ma\x1b[31mb\x1b[0m\x1b[0mc", true),
            "\x1b[0;31mab\x1b[0mc"
        );
    }

    #[test]
    fn drops_osc_titles_clipboard_and_hyperlinks() {
        assert_eq!(text(b"\x1b]0;pwned title\x07text"), "text");
        assert_eq!(text(b"\x1b]2;title\x1b\\text"), "text");
        assert_eq!(text(b"a\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07b"), "ab");
        assert_eq!(
            text(b"\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ after"),
            "link after"
        );
        // Unterminated at the end of the line.
        assert_eq!(text(b"ok\x1b]0;never ends"), "ok");
        // An OSC longer than vte's buffer is dropped whole.
        let mut long = b"x\x1b]52;c;".to_vec();
        long.extend(std::iter::repeat_n(b'A', 5000));
        long.extend(b"\x07y");
        assert_eq!(text(&long), "xy");
    }

    #[test]
    fn drops_screen_control_sequences() {
        assert_eq!(text(b"\x1b[?1049hfull screen\x1b[?1049l"), "full screen");
        assert_eq!(text(b"\x1b[2J\x1b[Hclear"), "clear");
        assert_eq!(
            text(b"\x1b[3Aup\x1b[2Bdown\x1b[5;10Hpos\x1b[s\x1b[u"),
            "updownpos"
        );
        assert_eq!(text(b"q\x1b[6n\x1b[c\x1b[>c\x1b[?25l"), "q");
        assert_eq!(text(b"dcs\x1bP1$tx\x1b\\ done"), "dcs done");
        assert_eq!(text(b"apc\x1b_Gf=100;AAAA\x1b\\ done"), "apc done");
        assert_eq!(text(b"esc\x1bc\x1b7\x1b8\x1b(B done"), "esc done");
        assert_eq!(text(b"bell\x07\x00\x0b\x0c\x0e\x1f\x7f done"), "bell done");
        // A raw C1 CSI is not interpreted, only shown as a replacement character.
        assert_eq!(text(b"c1\x9b2J done"), "c1\u{fffd}2J done");
        assert_eq!(text("c1\u{9b}2J".as_bytes()), "c1\u{fffd}2J");
    }

    #[test]
    fn carriage_return_overwrites_from_column_zero() {
        assert_eq!(text(b"10%\r55%\r100%"), "100%");
        assert_eq!(text(b"abcdef\rXY"), "XYcdef");
        assert_eq!(text(b"windows line\r"), "windows line");
        // With erase in line, as progress bars do it.
        assert_eq!(text(b"Downloading 10%\r\x1b[2KDone"), "Done");
        assert_eq!(text(b"Downloading 10%\r\x1b[KDone"), "Done");
        assert_eq!(text(b"abcdef\x1b[3D\x1b[1K!"), "   !ef");
        assert_eq!(text(b"abcdef\x1b[1Gxy\x1b[2Cz"), "xycdzf");
    }

    #[test]
    fn carriage_return_overwrite_keeps_styles_per_column() {
        let s = parse_line(b"\x1b[31mabcdef\x1b[0m\rXY");
        assert_eq!(s.text, "XYcdef");
        assert_eq!(s.spans, [(0..2, Style::default()), (2..6, fg(RED))]);
        assert_eq!(
            sanitized(b"\x1b[31mabcdef\x1b[0m\rXY", true),
            "XY\x1b[0;31mcdef\x1b[0m"
        );
    }

    #[test]
    fn tabs_and_backspaces() {
        assert_eq!(text(b"a\tb"), "a       b");
        assert_eq!(text(b"12345678\tb"), "12345678        b");
        assert_eq!(text(b"abcdefghij\rX\tY"), "XbcdefghYj");
        assert_eq!(text(b"ab\x08c"), "ac");
        assert_eq!(text(b"\x08\x08x"), "x");
        assert_eq!(text(b"a\tb\x1b[31m"), "a       b");
    }

    #[test]
    fn wide_characters_are_kept_intact() {
        assert_eq!(text("日本語 ✅ 🚀 ok\x07".as_bytes()), "日本語 ✅ 🚀 ok");
        // Columns count two per wide character.
        assert_eq!(text("日\tx".as_bytes()), "日      x");
        // Overwriting half of a wide character blanks its other half.
        assert_eq!(text("日本\rX".as_bytes()), "X 本");
        assert_eq!(text("ab\rX日".as_bytes()), "X日");
        assert_eq!(text("a日\r\x1b[2Cx".as_bytes()), "a x");
        // Combining marks stay with their base character.
        assert_eq!(text("e\u{301}\u{301}x\x07".as_bytes()), "e\u{301}\u{301}x");
        assert_eq!(text("e\u{301}x\ry".as_bytes()), "yx");
    }

    #[test]
    fn invalid_utf8_shows_as_replacement() {
        assert_eq!(text(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(text(b"ok \xe2\x82"), "ok \u{fffd}");
        assert_eq!(text(b"\xe2\x82\x1b[31mx"), "\u{fffd}x");
        assert_eq!(text(b"\xf0\x9f\x9a\x80\t\xc3"), "\u{1f680}      \u{fffd}");
    }

    #[test]
    fn hostile_bytes_never_reach_the_output() {
        // Random lines from an alphabet rich in escape material.
        const ALPHABET: &[u8] = b"\x1b\x1b\x1b[[[]]]PX^_\\;;:0123456789mmHJKhl?>\x07\x08\t\r\n\x00\x7f\x9b\x9d\xc2\xe2\x82\xff ab";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let line: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            for color in [true, false] {
                let out = sanitized(&line, color);
                assert!(
                    !out.chars()
                        .any(|c| c == '\x7f' || ('\u{80}'..='\u{9f}').contains(&c)),
                    "{line:?}"
                );
                let mut rest = out.as_bytes();
                while let Some(i) = rest.iter().position(|&b| b < 0x20) {
                    assert!(color && rest[i] == 0x1b, "control byte in {out:?} from {line:?}");
                    let seq = &rest[i + 1..];
                    let end = seq.iter().position(|&b| b == b'm').expect("SGR terminated");
                    assert!(
                        seq[0] == b'[' && seq[1..end].iter().all(|&b| b.is_ascii_digit() || b == b';'),
                        "{out:?}"
                    );
                    rest = &seq[end + 1..];
                }
                // The last SGR always returns to the default style.
                if let Some(last) = out.rfind('\x1b') {
                    assert!(out[last..].starts_with("\x1b[0m"), "{out:?}");
                }
            }
            let styled = parse_line(&line);
            let mut covered = 0;
            for (range, _) in &styled.spans {
                assert_eq!(range.start, covered);
                covered = range.end;
            }
            assert_eq!(covered, styled.text.len());
        }
    }

    #[test]
    fn cursor_moves_cannot_blow_up_a_line() {
        let line = b"\x1b[65535C\x1b[65535Cx\x1b[65535Gy".repeat(100);
        let out = text(&line);
        // Moves reach at most MAX_MOVE_COLUMN past nothing; the rest is what was printed.
        assert!(out.len() <= MAX_MOVE_COLUMN + 200, "{}", out.len());
        assert!(out.ends_with("xy"));
    }

    #[test]
    fn binary_detection() {
        assert!(is_probably_binary(b"PNG\x00\x01"));
        assert!(is_probably_binary(b"\x01\x02\x03garbage\x04\x05"));
        assert!(!is_probably_binary(b"plain text"));
        assert!(!is_probably_binary(b"\x1b[31mcolour\x1b[0m\tand\r\x08tabs"));
        assert!(!is_probably_binary(b"a single bell\x07 is fine"));
        assert!(!is_probably_binary(b"caf\xc3\xa9 \xff latin-1"));
        assert!(!is_probably_binary(b""));
    }
}
