//! Secret values, masked: the one place that knows how a secret is hidden (`***`) in child output,
//! annotations, journal text and probe values. A leaf: it depends on nothing else in the crate.

use std::borrow::Cow;
use std::fmt;

use memchr::memmem;

/// What a secret value is replaced with.
const MASK: &[u8] = b"***";

/// Lines of a multi-line secret shorter than this (after trimming) are not masked on their own:
/// `{` or `}` of a JSON credential would otherwise mask every brace in the output.
const MIN_SECRET_LINE: usize = 4;

/// Replaces every occurrence of a set of secret values with `***`.
///
/// Matching works on bytes, leftmost first; of several secrets starting at the same position the
/// longest wins. A secret value containing newlines can never match inside one line, so each of
/// its lines (trimmed, at least 4 bytes long) is masked as a secret of its own.
///
/// `Debug` prints only the number of values, never the values.
#[derive(Default)]
pub struct Masker {
    /// One finder per distinct secret, longest first.
    finders: Vec<memmem::Finder<'static>>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Masker")
            .field("secrets", &self.finders.len())
            .finish()
    }
}

impl Masker {
    /// A masker for these secret values. Empty values are skipped.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<Vec<u8>> = Vec::new();
        for value in values {
            if value.is_empty() {
                continue;
            }
            if value.contains('\n') {
                secrets.extend(
                    value
                        .split('\n')
                        .map(str::trim)
                        .filter(|l| l.len() >= MIN_SECRET_LINE)
                        .map(|l| l.as_bytes().to_vec()),
                );
            } else {
                secrets.push(value.into_bytes());
            }
        }
        // A child printing JSON shows a secret with `"`, `\\` or a control character escaped, so
        // its escaped form is a secret too.
        let escaped: Vec<Vec<u8>> = secrets
            .iter()
            .filter_map(|s| {
                let text = std::str::from_utf8(s).ok()?;
                let json = serde_json::to_string(text).ok()?;
                let inner = &json.as_bytes()[1..json.len() - 1];
                (inner != s.as_slice()).then(|| inner.to_vec())
            })
            .collect();
        secrets.extend(escaped);
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        let finders = secrets
            .iter()
            .map(|s| memmem::Finder::new(s).into_owned())
            .collect();
        Masker { finders }
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.finders.is_empty()
    }

    /// `bytes` with every secret replaced by `***` (borrowed when there is none).
    pub fn mask<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        if !self.finders.iter().any(|f| f.find(bytes).is_some()) {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let end = self.replace_matches(bytes, &mut out);
        out.extend_from_slice(&bytes[end..]);
        Cow::Owned(out)
    }

    /// [`Masker::mask`] for text (the journal masks its events' free-text fields with it).
    pub fn mask_str<'a>(&self, s: &'a str) -> Cow<'a, str> {
        match self.mask(s.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(s),
            // Secrets are valid UTF-8 and UTF-8 is self-synchronising, so a match in valid UTF-8
            // always lies on character boundaries and the result is valid UTF-8 again.
            Cow::Owned(v) => Cow::Owned(
                String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    /// Masks the part of `bytes` that is safe to write before more of the line is known: appends
    /// it (masked) to `out` and returns its length in `bytes`. Held back is the longest suffix
    /// after the last match that is a proper prefix of a secret, so a secret split across two
    /// reads is never written half unmasked.
    pub(crate) fn mask_partial(&self, bytes: &[u8], out: &mut Vec<u8>) -> usize {
        let last_end = self.replace_matches(bytes, out);
        let tail = &bytes[last_end..];
        let keep = self.secret_prefix_suffix(tail);
        let cut = bytes.len() - keep;
        out.extend_from_slice(&bytes[last_end..cut]);
        cut
    }

    /// Appends `bytes` up to the end of the last match to `out`, matches replaced by `***`.
    /// Returns the end of the last match (0 when there is none).
    fn replace_matches(&self, bytes: &[u8], out: &mut Vec<u8>) -> usize {
        if self.finders.is_empty() {
            return 0;
        }
        // Next occurrence of each secret at or after `pos` (usize::MAX: none left).
        let mut next: Vec<usize> = self
            .finders
            .iter()
            .map(|f| f.find(bytes).unwrap_or(usize::MAX))
            .collect();
        let mut pos = 0;
        loop {
            let mut best: Option<(usize, usize)> = None;
            for (slot, finder) in next.iter_mut().zip(&self.finders) {
                if *slot != usize::MAX && *slot < pos {
                    *slot = finder.find(&bytes[pos..]).map_or(usize::MAX, |i| i + pos);
                }
                if *slot == usize::MAX {
                    continue;
                }
                let len = finder.needle().len();
                // Finders are sorted longest first, so on a tie the first one found wins.
                if best.is_none_or(|(start, _)| *slot < start) {
                    best = Some((*slot, len));
                }
            }
            let Some((start, len)) = best else { return pos };
            out.extend_from_slice(&bytes[pos..start]);
            out.extend_from_slice(MASK);
            pos = start + len;
        }
    }

    /// Length of the longest suffix of `tail` that is a proper prefix of some secret.
    fn secret_prefix_suffix(&self, tail: &[u8]) -> usize {
        let mut best = 0;
        for finder in &self.finders {
            let needle = finder.needle();
            let longest = (needle.len() - 1).min(tail.len());
            if let Some(l) = (best + 1..=longest).rev().find(|&l| tail.ends_with(&needle[..l])) {
                best = l;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn masker_matches_leftmost_then_longest() {
        let m = Masker::new(["abc".to_string(), "abcdef".to_string(), "cd".to_string()]);
        assert_eq!(&*m.mask(b"xabcdefx abc xcdx"), b"x***x *** x***x");
        let m = Masker::new(["aXa".to_string()]);
        assert_eq!(&*m.mask(b"aXaXa aXa"), b"***Xa ***");
        assert_eq!(&*m.mask(b""), b"");
    }

    #[test]
    fn masker_borrows_when_nothing_matches() {
        let m = Masker::new(["hunter2".to_string()]);
        assert!(matches!(m.mask(b"nothing here"), Cow::Borrowed(_)));
        assert!(matches!(m.mask_str("nothing here"), Cow::Borrowed(_)));
        assert_eq!(
            m.mask_str("{\"pw\":\"hunter2\",\"ü\":1}"),
            "{\"pw\":\"***\",\"ü\":1}"
        );
    }

    #[test]
    fn masker_skips_empty_values_and_hides_values_in_debug() {
        let m = Masker::new([String::new()]);
        assert!(m.is_empty());
        assert!(matches!(m.mask(b"abc"), Cow::Borrowed(_)));
        let m = Masker::new(["topsecret".to_string()]);
        assert!(!m.is_empty());
        assert!(!format!("{m:?}").contains("topsecret"));
    }

    #[test]
    fn masker_masks_each_line_of_a_multi_line_secret() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\r\nhkiG9w0BAQEFAASC\n}\n".to_string();
        let m = Masker::new([key]);
        assert_eq!(
            &*m.mask(b"leak MIIEvQIBADANBgkq and hkiG9w0BAQEFAASC }"),
            b"leak *** and *** }"
        );
    }

    #[test]
    fn mask_partial_holds_back_only_possible_prefixes() {
        let m = Masker::new(["hunter2".to_string(), "aXa".to_string()]);
        let mut out = Vec::new();
        assert_eq!(m.mask_partial(b"pw=hun", &mut out), 3);
        assert_eq!(out, b"pw=");
        out.clear();
        assert_eq!(m.mask_partial(b"hunter2 hunter", &mut out), 14 - 6);
        assert_eq!(out, b"*** ");
        out.clear();
        // A complete secret at the end is masked, not held back.
        assert_eq!(m.mask_partial(b"..aXa", &mut out), 5);
        assert_eq!(out, b"..***");
        out.clear();
        assert_eq!(m.mask_partial(b"nothing", &mut out), 7);
        assert_eq!(out, b"nothing");
    }
}
