//! The commits of a range (`base..head`), read once each.
//!
//! git2's revwalk reads every commit to learn its parents and date, and a notes entry then needs
//! the same commit again for its message: two reads and two parses per commit. This walk reads each
//! commit's raw object once and takes everything from it. It follows git's own `limit_list`
//! (revision.c): a queue ordered by committer date; commits reachable from `base` are marked
//! uninteresting (hidden) and pass the mark on to their parents, including parents already reached
//! some other way. The walk may stop once only hidden commits are queued, but a commit already
//! taken could still be an ancestor of a queued hidden one whose date is wrong (a skewed clock).
//! git goes on for 5 more commits ("slop"), which a clock off by hours defeats; this walk goes on
//! until every queued commit is more than [`SKEW`] older than the oldest commit taken, so any clock
//! error below that is harmless. The extra cost is walking a day of history before `base`.

use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use git2::{ObjectType, Odb, Oid};

use super::GitError;

/// How wrong a commit's date may be (against its descendants') without changing the result.
const SKEW: i64 = 24 * 3600;

const SEEN: u8 = 1;
const QUEUED: u8 = 2;
const HIDDEN: u8 = 4;
const PARSED: u8 = 8;

/// What [`commits`] hands to its visitor for each commit of the range.
pub(super) struct RawCommit<'a> {
    pub id: Oid,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    /// The author's name as stored.
    pub author: &'a [u8],
    /// The whole message as stored (subject, body, footers).
    pub message: &'a [u8],
}

/// What [`commits`] found.
pub(super) struct Walked<T> {
    /// What `make` made of each commit of the range, newest first.
    pub commits: Vec<T>,
    /// Whether `base` is `head` or one of its ancestors. (A commit taken has it as a parent
    /// exactly then: every commit on a path from `head` down to `base` is in the range.)
    pub base_reached: bool,
}

/// The commits reachable from `head` but not from `base`, newest first by committer date, merge
/// commits left out. `make` turns a commit into whatever the caller keeps; it may be called for a
/// commit that later turns out to be reachable from `base` (its result is then dropped).
pub(super) fn commits<T>(
    odb: &Odb<'_>,
    head: Oid,
    base: Option<Oid>,
    mut make: impl FnMut(&RawCommit<'_>) -> T,
) -> Result<Walked<T>, GitError> {
    let mut walk = Walk {
        odb,
        index: HashMap::default(),
        nodes: Vec::new(),
        parents: Vec::new(),
        made: Vec::new(),
        queue: BinaryHeap::new(),
        interesting_queued: 0,
        seq: 0,
        scratch: Vec::new(),
        base: None,
        base_reached: false,
    };
    let head = walk.node(head);
    walk.parse(head, &mut make)?;
    walk.push(head);
    if let Some(base) = base {
        let base = walk.node(base);
        walk.base = Some(base);
        walk.base_reached = base == head;
        walk.hide(base);
        walk.parse(base, &mut make)?;
        walk.mark_parents_hidden(base);
        if walk.flags(base) & SEEN == 0 {
            walk.push(base);
        }
    }

    // git's limit_list.
    let mut out: Vec<u32> = Vec::new();
    let mut oldest_out = i64::MAX;
    while let Some(n) = walk.pop() {
        walk.process_parents(n, &mut make)?;
        if walk.flags(n) & HIDDEN != 0 {
            walk.mark_parents_hidden(n);
            if !walk.still_interesting(oldest_out) {
                break;
            }
            continue;
        }
        oldest_out = oldest_out.min(walk.nodes[n as usize].time);
        out.push(n);
    }
    let mut made = std::mem::take(&mut walk.made);
    let commits = out
        .into_iter()
        .filter(|&n| walk.flags(n) & HIDDEN == 0)
        .filter_map(|n| made[n as usize].take())
        .collect();
    Ok(Walked {
        commits,
        base_reached: walk.base_reached,
    })
}

struct Node {
    id: Oid,
    time: i64,
    /// Range in `Walk::parents`.
    parents: (u32, u32),
    flags: u8,
}

struct Walk<'o, 'r, T> {
    odb: &'o Odb<'r>,
    index: HashMap<Oid, u32, BuildHasherDefault<OidHasher>>,
    nodes: Vec<Node>,
    parents: Vec<u32>,
    /// Per node: what `make` returned for it (interesting non-merge commits only).
    made: Vec<Option<T>>,
    /// (committer time, insertion order reversed, node): newest first, first in first out on
    /// equal times.
    queue: BinaryHeap<(i64, std::cmp::Reverse<u32>, u32)>,
    /// Queued nodes not marked hidden.
    interesting_queued: usize,
    seq: u32,
    scratch: Vec<Oid>,
    base: Option<u32>,
    /// Whether a commit taken into the range has `base` as a parent.
    base_reached: bool,
}

impl<T> Walk<'_, '_, T> {
    fn flags(&self, n: u32) -> u8 {
        self.nodes[n as usize].flags
    }

    /// The node of a commit id, created (unparsed) on first sight.
    fn node(&mut self, id: Oid) -> u32 {
        let next = self.nodes.len() as u32;
        let n = *self.index.entry(id).or_insert(next);
        if n == next {
            self.nodes.push(Node {
                id,
                time: 0,
                parents: (0, 0),
                flags: 0,
            });
            self.made.push(None);
        }
        n
    }

    fn parents_of(&self, n: u32) -> std::ops::Range<usize> {
        let (start, len) = self.nodes[n as usize].parents;
        start as usize..(start + len) as usize
    }

    fn hide(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if node.flags & HIDDEN == 0 {
            node.flags |= HIDDEN;
            if node.flags & QUEUED != 0 {
                self.interesting_queued -= 1;
            }
        }
    }

    fn push(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        node.flags |= SEEN | QUEUED;
        if node.flags & HIDDEN == 0 {
            self.interesting_queued += 1;
        }
        self.queue.push((node.time, std::cmp::Reverse(self.seq), n));
        self.seq = self.seq.wrapping_add(1);
    }

    fn pop(&mut self) -> Option<u32> {
        let (_, _, n) = self.queue.pop()?;
        let node = &mut self.nodes[n as usize];
        node.flags &= !QUEUED;
        if node.flags & HIDDEN == 0 {
            self.interesting_queued -= 1;
        }
        Some(n)
    }

    /// Read a commit: its date and parents, and for a commit not (yet) hidden and not a merge,
    /// what `make` makes of it. Reading a commit that is not there (a shallow clone's edge) is
    /// an error only for the range's ends; see `process_parents`.
    fn parse(&mut self, n: u32, make: &mut impl FnMut(&RawCommit<'_>) -> T) -> Result<(), GitError> {
        if self.flags(n) & PARSED != 0 {
            return Ok(());
        }
        let id = self.nodes[n as usize].id;
        let object = self.odb.read(id)?;
        if object.kind() != ObjectType::Commit {
            return Err(GitError::Git(git2::Error::from_str(&format!(
                "{id} is not a commit"
            ))));
        }
        let data = object.data();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let header = parse_header(data, &mut scratch)
            .ok_or_else(|| GitError::Git(git2::Error::from_str(&format!("commit {id} is malformed"))))?;
        let start = self.parents.len() as u32;
        for &parent in &scratch {
            let p = self.node(parent);
            self.parents.push(p);
        }
        let node = &mut self.nodes[n as usize];
        node.time = header.time;
        node.parents = (start, scratch.len() as u32);
        node.flags |= PARSED;
        if node.flags & HIDDEN == 0 && scratch.len() <= 1 {
            let raw = RawCommit {
                id,
                time: header.time,
                author: header.author,
                message: header.message,
            };
            self.made[n as usize] = Some(make(&raw));
        }
        self.scratch = scratch;
        Ok(())
    }

    /// git's process_parents: read each parent, pass the hidden mark on, queue the new ones.
    fn process_parents(
        &mut self,
        n: u32,
        make: &mut impl FnMut(&RawCommit<'_>) -> T,
    ) -> Result<(), GitError> {
        let hidden = self.flags(n) & HIDDEN != 0;
        for i in self.parents_of(n) {
            let p = self.parents[i];
            if hidden {
                self.hide(p);
            } else if Some(p) == self.base {
                self.base_reached = true;
            }
            if self.flags(p) & PARSED == 0 {
                match self.parse(p, make) {
                    Ok(()) => {}
                    // A parent that is not in the repository (a shallow clone's edge, a
                    // grafted history) ends the walk on that side, as in git.
                    Err(GitError::Git(e)) if e.code() == git2::ErrorCode::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
            if hidden {
                self.mark_parents_hidden(p);
            }
            if self.flags(p) & SEEN == 0 {
                self.push(p);
            }
        }
        Ok(())
    }

    /// Hide the known ancestors of `n` (those parsed so far), depth first.
    fn mark_parents_hidden(&mut self, n: u32) {
        let mut stack: Vec<u32> = self.parents_of(n).map(|i| self.parents[i]).collect();
        while let Some(p) = stack.pop() {
            if self.flags(p) & HIDDEN != 0 {
                continue;
            }
            self.hide(p);
            stack.extend(self.parents_of(p).map(|i| self.parents[i]));
        }
    }

    /// Whether the walk must go on: while commits not hidden are queued (they may be in the
    /// range), and while a queued hidden commit is recent enough that, with a clock off by less
    /// than [`SKEW`], it could still lead to a commit taken (which would then leave the range).
    fn still_interesting(&self, oldest_out: i64) -> bool {
        let Some(&(newest_queued, _, _)) = self.queue.peek() else {
            return false;
        };
        self.interesting_queued > 0 || newest_queued >= oldest_out.saturating_sub(SKEW)
    }
}

/// The parts of a raw commit object the notes use.
struct Header<'a> {
    time: i64,
    author: &'a [u8],
    message: &'a [u8],
}

/// Parse a raw commit object: parents (into `parents`), committer time, author name, message.
fn parse_header<'a>(data: &'a [u8], parents: &mut Vec<Oid>) -> Option<Header<'a>> {
    let mut rest = data;
    let mut time = None;
    let mut author: &[u8] = b"";
    loop {
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if line.is_empty() {
            break;
        }
        if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(Oid::from_str(std::str::from_utf8(hex).ok()?).ok()?);
        } else if let Some(sig) = line.strip_prefix(b"author ") {
            author = signature_name(sig);
        } else if let Some(sig) = line.strip_prefix(b"committer ") {
            time = signature_time(sig);
        }
        if rest.is_empty() {
            break;
        }
    }
    Some(Header {
        time: time.unwrap_or(0),
        author,
        message: rest,
    })
}

/// `Name <email> 1700000000 +0000` -> `Name`.
fn signature_name(sig: &[u8]) -> &[u8] {
    let end = memchr::memchr(b'<', sig).unwrap_or(sig.len());
    sig[..end].trim_ascii()
}

/// `Name <email> 1700000000 +0000` -> 1700000000.
fn signature_time(sig: &[u8]) -> Option<i64> {
    let after = &sig[memchr::memrchr(b'>', sig)? + 1..];
    let digits = after.trim_ascii_start();
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Object ids are uniformly distributed already: their first 8 bytes are the hash.
#[derive(Default)]
struct OidHasher(u64);

impl Hasher for OidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 ^= u64::from_le_bytes(*first);
        } else {
            for &b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(b);
            }
        }
    }
    // The length prefix of the id's byte array carries nothing.
    fn write_usize(&mut self, _: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_give_parents_time_author_and_message() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
            parent a1b2c3d4e5f60718293a4b5c6d7e8f9012345678\n\
            parent 0000000000000000000000000000000000000001\n\
            author Ada Lovelace <ada@example.com> 1700000000 +0100\n\
            committer Grace Hopper <grace@example.com> 1700000060 -0500\n\
            gpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP SIGNATURE-----\n\
            \n\
            feat: x\n\nbody\n";
        let mut parents = Vec::new();
        let h = parse_header(raw, &mut parents).unwrap();
        assert_eq!(parents.len(), 2);
        assert_eq!(parents[0].to_string(), "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678");
        assert_eq!(h.time, 1_700_000_060);
        assert_eq!(h.author, b"Ada Lovelace");
        assert_eq!(h.message, b"feat: x\n\nbody\n");
    }

    #[test]
    fn a_commit_without_message_has_an_empty_one() {
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
            author A <a@x> 5 +0000\ncommitter A <a@x> 7 +0000\n";
        let h = parse_header(raw, &mut Vec::new()).unwrap();
        assert_eq!((h.time, h.author, h.message), (7, &b"A"[..], &b""[..]));
    }
}
