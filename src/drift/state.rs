//! A flattened state: `(key, value)` pairs in the order they were read, stored in one text arena
//! (for `key=value` output the arena is the probe's output itself, so nothing is copied).
//!
//! A key may appear more than once (a repeated `key=value` line, or `{"a.b": 1, "a": {"b": 2}}`);
//! the last one wins everywhere a single value is needed.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The arena holds at most this many bytes (offsets are `u32`).
pub const MAX_ARENA: usize = u32::MAX as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

/// A state grew past [`MAX_ARENA`] bytes (keys and values included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the flattened state is larger than 4 GiB")]
pub struct TooLarge;

/// Flattened keys and values, in the order they were read.
#[derive(Clone, Default)]
pub struct State {
    text: String,
    entries: Vec<(Span, Span)>,
    /// Entries whose value was masked (a secret replaced by `***`): `(entry, seal of the real
    /// value)`, in entry order. Never serialised; lets two masked values be compared honestly.
    seals: Vec<(u32, u64)>,
}

/// A keyed digest of a secret value, with a key drawn once per process: equal values give equal
/// seals, different values (almost surely) different ones, and a seal cannot be checked against
/// guesses outside this process. Never written anywhere.
pub fn seal_of(value: &str) -> u64 {
    use std::hash::BuildHasher;
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    KEY.get_or_init(std::collections::hash_map::RandomState::new)
        .hash_one(value)
}

/// Equal when the entries are, in the same order (however the arenas are laid out).
impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for State {}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl State {
    /// An empty state.
    pub fn new() -> Self {
        State::default()
    }

    /// A state whose keys and values will be ranges of `text` (see [`State::push_range`]).
    pub(crate) fn over(text: String) -> Result<Self, TooLarge> {
        if text.len() > MAX_ARENA {
            return Err(TooLarge);
        }
        Ok(State {
            text,
            entries: Vec::new(),
            seals: Vec::new(),
        })
    }

    /// Reserve room for `n` more entries.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }

    /// Add an entry whose key and value are byte ranges of the arena (on character boundaries).
    pub(crate) fn push_range(&mut self, key: (usize, usize), value: (usize, usize)) {
        debug_assert!(self.text.is_char_boundary(key.0) && self.text.is_char_boundary(key.1));
        debug_assert!(self.text.is_char_boundary(value.0) && self.text.is_char_boundary(value.1));
        // The arena is at most MAX_ARENA bytes, so every offset fits.
        let span = |(a, b): (usize, usize)| Span {
            start: a as u32,
            end: b as u32,
        };
        self.entries.push((span(key), span(value)));
    }

    /// Append `key` and `value` to the arena and add them as an entry.
    pub fn push(&mut self, key: &str, value: &str) -> Result<(), TooLarge> {
        let start = self.text.len();
        if start + key.len() + value.len() > MAX_ARENA {
            return Err(TooLarge);
        }
        self.text.push_str(key);
        self.text.push_str(value);
        let mid = start + key.len();
        self.push_range((start, mid), (mid, self.text.len()));
        Ok(())
    }

    /// Append an entry whose shown `value` is a masked form of a secret value sealed as `seal`
    /// (see [`seal_of`]).
    pub fn push_sealed(&mut self, key: &str, value: &str, seal: u64) -> Result<(), TooLarge> {
        self.push(key, value)?;
        self.seals.push((self.entries.len() as u32 - 1, seal));
        Ok(())
    }

    /// The seal of entry `i`'s real value, when that value was masked.
    pub fn seal(&self, i: usize) -> Option<u64> {
        if self.seals.is_empty() {
            return None;
        }
        self.seals
            .binary_search_by_key(&(i as u32), |&(e, _)| e)
            .ok()
            .map(|at| self.seals[at].1)
    }

    /// Whether entry `i` of `self` and entry `j` of `other` hold the same value. Masked values
    /// compare by their seals (two different secrets both shown `***` differ); when only one
    /// side has a seal (a saved snapshot keeps none), by the text shown.
    pub fn same_value(&self, i: usize, other: &State, j: usize) -> bool {
        if self.entry(i).1 != other.entry(j).1 {
            return false;
        }
        match (self.seal(i), other.seal(j)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// This state with `masker` applied to every key and value; values that changed are sealed
    /// (their real value's [`seal_of`]) so that comparisons stay honest.
    pub fn masked(self, masker: &crate::mask::Masker) -> State {
        if masker.is_empty() {
            return self;
        }
        let changed = self.iter().any(|(k, v)| {
            matches!(masker.mask_str(k), std::borrow::Cow::Owned(_))
                || matches!(masker.mask_str(v), std::borrow::Cow::Owned(_))
        });
        if !changed {
            return self;
        }
        let mut out = State::new();
        out.reserve(self.len());
        for (k, v) in self.iter() {
            let key = masker.mask_str(k);
            // `***` can make a short secret longer: past the arena's limit, keep what fits.
            let pushed = match masker.mask_str(v) {
                std::borrow::Cow::Borrowed(v) => out.push(&key, v),
                std::borrow::Cow::Owned(shown) => out.push_sealed(&key, &shown, seal_of(v)),
            };
            if pushed.is_err() {
                break;
            }
        }
        out
    }

    /// Number of entries (a repeated key counts each time).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn str(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// Key and value of entry `i` (in reading order).
    pub fn entry(&self, i: usize) -> (&str, &str) {
        let (k, v) = self.entries[i];
        (self.str(k), self.str(v))
    }

    /// Every entry in reading order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|&(k, v)| (self.str(k), self.str(v)))
    }

    /// The value of `key` (the last one when it repeats). Linear: for a few lookups only.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|&&(k, _)| self.str(k) == key)
            .map(|&(_, v)| self.str(v))
    }

    /// Build a state from pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, TooLarge> {
        let mut state = State::new();
        for (k, v) in pairs {
            state.push(k, v)?;
        }
        Ok(state)
    }
}

/// Append `s` to `buf` as a JSON string (quotes, escapes). Plain text, the usual case, is copied
/// as it is.
pub(crate) fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    let plain = !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    if plain {
        buf.reserve(s.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        serde_json::to_writer(&mut *buf, s).expect("writing to a Vec cannot fail");
    }
}

impl State {
    /// Append the state to `buf` as a JSON object, like its [`Serialize`] impl but faster.
    pub(crate) fn push_json(&self, buf: &mut Vec<u8>) {
        buf.push(b'{');
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            push_json_str(buf, k);
            buf.push(b':');
            push_json_str(buf, v);
        }
        buf.push(b'}');
    }
}

/// A JSON object `{"key": "value", ...}` in reading order (repeated keys repeat).
impl Serialize for State {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StateVisitor;
        impl<'de> Visitor<'de> for StateVisitor {
            type Value = State;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<State, M::Error> {
                let mut state = State::new();
                if let Some(n) = map.size_hint() {
                    state.reserve(n);
                }
                while let Some((k, v)) =
                    map.next_entry::<std::borrow::Cow<'de, str>, std::borrow::Cow<'de, str>>()?
                {
                    state.push(&k, &v).map_err(serde::de::Error::custom)?;
                }
                Ok(state)
            }
        }
        deserializer.deserialize_map(StateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_iterates_and_finds_the_last_value() {
        let mut s = State::new();
        s.push("a.b", "1").unwrap();
        s.push("c", "").unwrap();
        s.push("a.b", "2").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [("a.b", "1"), ("c", ""), ("a.b", "2")]
        );
        assert_eq!(s.get("a.b"), Some("2"));
        assert_eq!(s.get("c"), Some(""));
        assert_eq!(s.get("d"), None);
        assert_eq!(s.entry(1), ("c", ""));
    }

    #[test]
    fn ranges_of_the_arena_are_not_copied() {
        let mut s = State::over("k=v\nx=y\n".to_string()).unwrap();
        s.push_range((0, 1), (2, 3));
        s.push_range((4, 5), (6, 7));
        assert_eq!(s.iter().collect::<Vec<_>>(), [("k", "v"), ("x", "y")]);
        assert_eq!(s.text.len(), 8);
    }

    #[test]
    fn fast_json_matches_serde() {
        let s =
            State::from_pairs([("a", "plain"), ("q\"", "back\\slash"), ("ctl", "\u{1}\n\u{7f}é")]).unwrap();
        let mut fast = Vec::new();
        s.push_json(&mut fast);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            serde_json::to_string(&s).unwrap()
        );
    }

    #[test]
    fn round_trips_through_json_in_order() {
        let s = State::from_pairs([("z", "1"), ("a", "two \"quoted\""), ("é", "ü")]).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"z":"1","a":"two \"quoted\"","é":"ü"}"#);
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<State>(r#"{"a": 1}"#).is_err());
    }
}
