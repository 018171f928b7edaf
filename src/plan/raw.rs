//! The raw shape of `flightdeck.toml`: serde types that keep every span, and a reader that
//! recovers from wrong value types so that all of them are reported at once.
//!
//! The text is parsed into toml's spanned tree ([`DeTable`]), then deserialized into [`RawFile`].
//! Every value type here rejects a wrong TOML type with "expected ...", which the reader completes
//! with the path and the type actually found, then takes the offending key (or array element) out
//! and deserializes again.
//! Unknown keys are not errors at this level: each [`Section`] collects the keys its struct does
//! not know (the list comes from the struct's serde fields), and validation reports them in context.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_aux::serde_introspection::serde_introspect;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::source::Issue;

pub(super) type Span = Range<usize>;
/// An optional key with the span of its value.
pub(super) type Field<T> = Option<Spanned<T>>;

// ---------------------------------------------------------------------------------------------
// The file

#[derive(Deserialize)]
pub(super) struct RawFile {
    pub plan: Field<Section<RawPlan>>,
    pub environments: Field<Table<Section<RawEnvironment>>>,
    pub stage: Field<List<Section<RawStage>>>,
    pub gates: Field<Table<Section<RawGate>>>,
    pub drift: Field<Section<RawDrift>>,
    /// `[teams] cab = ["carol", "dan"]`: named lists of people, `@cab` in a gate's approvers.
    pub teams: Field<Table<List<Text>>>,
    /// `[[freeze]]`: windows when stages on some environments do not start.
    pub freeze: Field<List<Section<RawFreeze>>>,
    /// `[[notify]]`: who hears of what, by webhook or by a command.
    pub notify: Field<List<Section<RawNotify>>>,
}

#[derive(Deserialize)]
pub(super) struct RawNotify {
    /// An HTTP(S) URL that gets each message as JSON (POST).
    pub webhook: Field<Text>,
    /// A shell command that gets each message as JSON on stdin.
    pub run: Field<Text>,
    /// The events it hears of.
    pub on: Field<List<Text>>,
    /// Only about these environments (default: all).
    pub environments: Field<List<Text>>,
    /// Attempts after the first before giving up (default 5).
    pub retries: Field<Count>,
    /// How long one attempt may take (default 10s).
    pub timeout: Field<DurationValue>,
}

#[derive(Deserialize)]
pub(super) struct RawFreeze {
    pub environments: Field<List<Text>>,
    pub reason: Field<Text>,
    /// Recurring: a cron expression, how long each window lasts, in which time zone.
    pub cron: Field<Text>,
    pub duration: Field<DurationValue>,
    pub timezone: Field<Text>,
    /// Fixed: RFC 3339 times with their offset.
    pub from: Field<Text>,
    pub to: Field<Text>,
}

#[derive(Deserialize)]
pub(super) struct RawPlan {
    pub name: Field<Text>,
    pub max_parallel: Field<Count>,
    pub secrets: Field<List<Text>>,
    /// The git repository (default: the one containing the plan file).
    pub repo: Field<Text>,
    /// A glob on release tag names, like `v*`.
    pub tag_pattern: Field<Text>,
    pub tag_on_success: Field<Flag>,
    /// How long an automatic checklist check may run.
    pub check_timeout: Field<DurationValue>,
    /// The shared store (`postgres://host/db`), without credentials.
    pub store: Field<Text>,
    /// How many distinct people must override a freeze before a stage proceeds (default 1).
    pub freeze_override_approvals: Field<Count>,
}

#[derive(Deserialize)]
pub(super) struct RawEnvironment {
    pub targets: Field<List<Text>>,
    pub protected: Field<Flag>,
    pub vars: Field<Table<Text>>,
    pub probe: Field<Text>,
    pub probe_timeout: Field<DurationValue>,
    pub expect: Field<Text>,
    pub format: Field<Text>,
}

/// The `[drift]` table.
#[derive(Deserialize)]
pub(super) struct RawDrift {
    pub baseline: Field<Text>,
    pub ignore: Field<List<Text>>,
    pub version_key: Field<Text>,
}

#[derive(Deserialize)]
pub(super) struct RawStage {
    pub id: Field<Text>,
    pub needs: Field<List<Text>>,
    pub environment: Field<Text>,
    pub run: Field<OneOrMany>,
    pub rollback: Field<OneOrMany>,
    pub timeout: Field<DurationValue>,
    pub retries: Field<Count>,
    pub gate: Field<OneOrMany>,
    /// Alias of `gate`.
    pub gates: Field<OneOrMany>,
    pub concurrency: Field<Count>,
    pub on_failure: Field<Text>,
    pub watch: Field<Section<RawWatch>>,
}

#[derive(Deserialize)]
pub(super) struct RawWatch {
    pub every: Field<DurationValue>,
    #[serde(rename = "for")]
    pub window: Field<DurationValue>,
}

#[derive(Deserialize)]
pub(super) struct RawGate {
    pub approvals: Field<Count>,
    pub required_for: Field<List<Text>>,
    pub checklist: Field<List<Section<RawChecklistItem>>>,
    /// Who may approve: names and `@team`s (default: anyone).
    pub approvers: Field<List<Text>>,
    /// Whether whoever started the release may approve its gates (default: no).
    pub allow_self_approval: Field<Flag>,
    /// An approval older than this when the gate is reached no longer counts.
    pub expires: Field<DurationValue>,
    /// Approvals must be signed by a key in this OpenSSH `allowed_signers` file.
    pub signers: Field<Text>,
}

#[derive(Deserialize)]
pub(super) struct RawChecklistItem {
    pub item: Field<Text>,
    pub check: Field<Text>,
    pub drift: Field<Section<RawDriftCheck>>,
}

/// `drift = { env = "prod", baseline = "staging" }` of a checklist item.
#[derive(Deserialize)]
pub(super) struct RawDriftCheck {
    pub env: Field<Text>,
    pub baseline: Field<Text>,
}

/// `flightdeck-workspace.toml`: the plans released together, and their trains.
#[derive(Deserialize)]
pub(super) struct RawWorkspaceFile {
    pub workspace: Field<Section<RawWorkspace>>,
    pub train: Field<Section<RawTrain>>,
}

#[derive(Deserialize)]
pub(super) struct RawWorkspace {
    pub name: Field<Text>,
    /// Plan files (or globs of them), relative to the workspace file.
    pub plans: Field<List<Text>>,
}

#[derive(Deserialize)]
pub(super) struct RawTrain {
    /// `halt` (default) or `rollback`: what a member's failure does to the rest of the train.
    pub on_failure: Field<Text>,
    pub gates: Field<Table<Section<RawTrainGate>>>,
}

#[derive(Deserialize)]
pub(super) struct RawTrainGate {
    /// The environment whose stages wait for it, in every member (default: each plan's last
    /// environment in stage order).
    pub environment: Field<Text>,
    pub approvals: Field<Count>,
    /// Manual items, ticked in the train's journal.
    pub checklist: Field<List<Text>>,
    /// Who may approve (default: anyone).
    pub approvers: Field<List<Text>>,
}

/// How a table type is named in "expected ..." messages, alone and in a list.
pub(super) trait Described {
    const WHAT: &'static str = "a table";
    const LIST: &'static str = "an array of tables";
}

impl Described for RawFile {}
impl Described for RawWorkspaceFile {}
impl Described for RawWorkspace {}
impl Described for RawTrain {}
impl Described for RawTrainGate {}
impl Described for RawPlan {}
impl Described for RawEnvironment {}
impl Described for RawWatch {}
impl Described for RawGate {}
impl Described for RawDrift {}
impl Described for RawDriftCheck {
    const WHAT: &'static str = "a table like { env = \"...\" }";
}
impl Described for RawStage {
    const LIST: &'static str = "an array of tables (write each stage as [[stage]])";
}
impl Described for RawFreeze {
    const LIST: &'static str = "an array of tables (write each window as [[freeze]])";
}
impl Described for RawNotify {
    const LIST: &'static str = "an array of tables (write each as [[notify]])";
}
impl Described for RawChecklistItem {
    const WHAT: &'static str = "a table like { item = \"...\" }";
    const LIST: &'static str = "a list of tables like { item = \"...\" }";
}

// ---------------------------------------------------------------------------------------------
// Value types. Each accepts only the TOML types it names in `WHAT`.

/// A value type: what it accepts, and what it is called in "expected ..." messages.
pub(super) trait Shape<'de>: Sized {
    const WHAT: &'static str;
    /// Name of an array of this type.
    const LIST: &'static str = "an array";
    /// Name of a table whose values have this type.
    const TABLE: &'static str = "a table";
    fn string(_: String) -> Option<Self> {
        None
    }
    fn integer(_: i64) -> Option<Self> {
        None
    }
    fn boolean(_: bool) -> Option<Self> {
        None
    }
    fn array<A: SeqAccess<'de>>(_: A) -> Result<Option<Self>, A::Error> {
        Ok(None)
    }
    fn table<M: MapAccess<'de>>(_: M) -> Result<Option<Self>, M::Error> {
        Ok(None)
    }
}

/// A string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text(pub String);

/// A non-negative integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Count(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Flag(pub bool);

/// `"10m"`-style text or a bare number of seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DurationValue {
    Text(String),
    Seconds(u64),
}

/// A string or a list of strings (commands, gate names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<Spanned<Text>>),
}

/// An array whose elements keep their spans.
pub(super) struct List<T>(pub Vec<Spanned<T>>);

/// A table with arbitrary keys, entries in file order.
pub(super) struct Table<T>(pub Vec<(Spanned<String>, Spanned<T>)>);

/// A table deserialized into the struct `T`, plus the keys `T` does not have.
pub(super) struct Section<T> {
    pub value: T,
    pub unknown: Vec<Spanned<String>>,
    /// `T`'s keys, for suggestions.
    pub known: &'static [&'static str],
}

impl<T> std::ops::Deref for Section<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de> Shape<'de> for Text {
    const WHAT: &'static str = "a string";
    const LIST: &'static str = "a list of strings";
    const TABLE: &'static str = "a table of strings";
    fn string(s: String) -> Option<Self> {
        Some(Text(s))
    }
}

impl<'de> Shape<'de> for Count {
    const WHAT: &'static str = "a non-negative integer";
    fn integer(n: i64) -> Option<Self> {
        u64::try_from(n).ok().map(Count)
    }
}

impl<'de> Shape<'de> for Flag {
    const WHAT: &'static str = "true or false";
    fn boolean(b: bool) -> Option<Self> {
        Some(Flag(b))
    }
}

impl<'de> Shape<'de> for DurationValue {
    const WHAT: &'static str = "a duration like \"30s\", \"10m\" or \"1h30m\" (or a number of seconds)";
    fn string(s: String) -> Option<Self> {
        Some(DurationValue::Text(s))
    }
    fn integer(n: i64) -> Option<Self> {
        u64::try_from(n).ok().map(DurationValue::Seconds)
    }
}

impl<'de> Shape<'de> for OneOrMany {
    const WHAT: &'static str = "a string or a list of strings";
    fn string(s: String) -> Option<Self> {
        Some(OneOrMany::One(s))
    }
    fn array<A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        Ok(Some(OneOrMany::Many(elements(seq)?)))
    }
}

impl<'de, T: Shape<'de> + Deserialize<'de>> Shape<'de> for List<T> {
    const WHAT: &'static str = T::LIST;
    fn array<A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        Ok(Some(List(elements(seq)?)))
    }
}

impl<'de, T: Shape<'de> + Deserialize<'de>> Shape<'de> for Table<T> {
    const WHAT: &'static str = T::TABLE;
    fn table<M: MapAccess<'de>>(mut map: M) -> Result<Option<Self>, M::Error> {
        let mut entries = Vec::new();
        loop {
            // Keys of real tables always have spans; a map whose keys do not is a datetime.
            let Ok(key) = map.next_key::<Spanned<String>>() else {
                return Ok(None);
            };
            let Some(key) = key else { break };
            entries.push((key, map.next_value()?));
        }
        // toml's map is sorted by key; plans want file order.
        entries.sort_by_key(|(k, _): &(Spanned<String>, Spanned<T>)| k.span().start);
        Ok(Some(Table(entries)))
    }
}

impl<'de, T: Deserialize<'de> + Described> Shape<'de> for Section<T> {
    const WHAT: &'static str = T::WHAT;
    const LIST: &'static str = T::LIST;
    fn table<M: MapAccess<'de>>(map: M) -> Result<Option<Self>, M::Error> {
        let known = serde_introspect::<T>();
        let mut unknown = Vec::new();
        let mut tracking = KeyTracking {
            inner: map,
            known,
            unknown: &mut unknown,
            not_a_table: false,
        };
        let value = T::deserialize(de::value::MapAccessDeserializer::new(&mut tracking));
        if tracking.not_a_table {
            return Ok(None);
        }
        Ok(Some(Section {
            value: value?,
            unknown,
            known,
        }))
    }
}

fn elements<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(mut seq: A) -> Result<Vec<Spanned<T>>, A::Error> {
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
    while let Some(element) = seq.next_element()? {
        out.push(element);
    }
    Ok(out)
}

/// Passes a table's entries on to a derived struct, noting the keys it does not know.
struct KeyTracking<'u, M> {
    inner: M,
    known: &'static [&'static str],
    unknown: &'u mut Vec<Spanned<String>>,
    /// Set when the keys have no spans: toml passes datetimes through serde as one-entry maps.
    not_a_table: bool,
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for KeyTracking<'_, M> {
    type Error = M::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, M::Error> {
        let key = match self.inner.next_key::<Spanned<String>>() {
            Ok(Some(key)) => key,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.not_a_table = true;
                return Err(e);
            }
        };
        if !self.known.contains(&key.get_ref().as_str()) {
            self.unknown.push(key.clone());
        }
        seed.deserialize(key.into_inner().into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, M::Error> {
        self.inner.next_value_seed(seed)
    }
}

struct ShapeVisitor<T>(PhantomData<T>);

impl<T> ShapeVisitor<T> {
    fn reject<'de, E: de::Error>(&self) -> E
    where
        T: Shape<'de>,
    {
        E::custom(format!("expected {}", T::WHAT))
    }
}

impl<'de, T: Shape<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::string(v.to_owned()).ok_or_else(|| self.reject())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        T::string(v).ok_or_else(|| self.reject())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::integer(v).ok_or_else(|| self.reject())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        i64::try_from(v)
            .ok()
            .and_then(T::integer)
            .ok_or_else(|| self.reject())
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<T, E> {
        Err(self.reject())
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<T, E> {
        Err(self.reject())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Err(self.reject())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        T::boolean(v).ok_or_else(|| self.reject())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::array(seq)?.ok_or_else(|| self.reject())
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
        T::table(map)?.ok_or_else(|| self.reject())
    }
}

macro_rules! deserialize_via_shape {
    ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {$(
        impl<'de, $($generics)*> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(ShapeVisitor(PhantomData))
            }
        }
    )*};
}

deserialize_via_shape! {
    Text => [],
    Count => [],
    Flag => [],
    DurationValue => [],
    OneOrMany => [],
    List<T> => [T: Shape<'de> + Deserialize<'de>],
    Table<T> => [T: Shape<'de> + Deserialize<'de>],
    Section<T> => [T: Deserialize<'de> + Described],
}

impl OneOrMany {
    /// Each string with its span; a single string spans the whole value.
    pub fn items(this: &Spanned<Self>) -> Vec<(Span, &str)> {
        match this.get_ref() {
            OneOrMany::One(s) => vec![(this.span(), s.as_str())],
            OneOrMany::Many(list) => list.iter().map(|t| (t.span(), t.get_ref().0.as_str())).collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A plan file (or another file of ours, `F`: the workspace file) read into raw types.
pub(super) struct Parsed<F = RawFile> {
    pub file: Spanned<Section<F>>,
    /// What was taken out because its value had the wrong type (already reported), so that
    /// validation does not call it missing: the span of the table that held a dropped key and the
    /// key, or the span of an array element replaced by an empty table and `None`.
    pub dropped: Vec<(Span, Option<String>)>,
}

impl<F> Parsed<F> {
    /// Whether `key` of the table spanning `table` was present but dropped for a type error.
    pub fn was_dropped(&self, table: &Span, key: &str) -> bool {
        self.dropped
            .iter()
            .any(|(span, k)| span == table && k.as_deref().is_none_or(|k| k == key))
    }
}

/// Parse `text`. Syntax errors end the reading (nothing after them would be reliable); wrong value
/// types are reported (returned with the result) and the rest of the file is still read.
pub(super) fn parse(text: &str) -> Result<(Parsed, Vec<Issue>), Vec<Issue>> {
    parse_as::<RawFile>(text)
}

/// [`parse`] into the file type `F`.
#[allow(clippy::type_complexity)]
pub(super) fn parse_as<F>(text: &str) -> Result<(Parsed<F>, Vec<Issue>), Vec<Issue>>
where
    F: for<'de> Deserialize<'de> + Described,
{
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(syntax_issues(text, &errors));
    }
    let span = root.span();
    let original = Spanned::new(span.clone(), DeValue::Table(root.into_inner()));
    let mut working = original.clone();
    let mut issues = Vec::new();
    let mut dropped = Vec::new();
    let mut replaced: Vec<Span> = Vec::new();
    loop {
        let DeValue::Table(table) = working.get_ref().clone() else {
            unreachable!("the root of a TOML document is a table")
        };
        let de = toml::de::Deserializer::from(Spanned::new(span.clone(), table));
        let error = match Section::<F>::deserialize(de) {
            Ok(file) => {
                let file = Spanned::new(span, file);
                return Ok((Parsed { file, dropped }, issues));
            }
            Err(e) => e,
        };
        let at = error.span().unwrap_or(0..0);
        let again = replaced.contains(&at);
        if !again {
            issues.push(type_issue(&original, &at, error.message()));
        }
        // Take the bad value out and try again. A bad array element becomes an empty table first
        // (arrays of tables keep their numbering that way); if that is wrong too, it goes.
        let mut steps = Vec::new();
        if locate(&working, &at, &mut steps).is_none() {
            return Err(issues);
        }
        let Some((last, parents)) = steps.split_last() else {
            return Err(issues);
        };
        let progress = match (descend_mut(&mut working, parents), last) {
            (Some(DeValue::Table(t)), Step::Key { name, table }) => {
                dropped.push((table.clone(), Some(name.clone())));
                t.remove(name.as_str()).is_some()
            }
            (Some(DeValue::Array(a)), Step::Index(i)) if again => {
                let old = std::mem::replace(a, std::iter::empty().collect());
                *a = old
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| j != i)
                    .map(|(_, v)| v)
                    .collect();
                true
            }
            (Some(DeValue::Array(a)), Step::Index(i)) => {
                let Some(element) = a.get_mut(*i) else {
                    return Err(issues);
                };
                *element = Spanned::new(at.clone(), DeValue::Table(DeTable::new()));
                dropped.push((at.clone(), None));
                replaced.push(at);
                true
            }
            _ => false,
        };
        if !progress {
            return Err(issues);
        }
    }
}

/// The parser's errors, at most one per line: the first error on a line often causes more there.
fn syntax_issues(text: &str, errors: &[toml::de::Error]) -> Vec<Issue> {
    let mut out: Vec<Issue> = Vec::new();
    let mut lines_seen = Vec::new();
    for error in errors {
        let at = error.span().map_or(0, |s| s.start).min(text.len());
        let line = text.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        if lines_seen.contains(&line) {
            continue;
        }
        lines_seen.push(line);
        let first_line = error.message().lines().next().unwrap_or("");
        out.push(Issue::new(at, format!("invalid TOML: {first_line}")));
    }
    out
}

/// `path: expected ..., found ...` for a deserialization error at `at`.
fn type_issue(original: &Spanned<DeValue<'_>>, at: &Span, message: &str) -> Issue {
    let mut steps = Vec::new();
    let found = locate(original, at, &mut steps);
    let mut message = message.to_string();
    if let Some(value) = found.filter(|_| message.starts_with("expected ")) {
        message = format!("{message}, found {}", describe(value));
    }
    let path = path_string(&steps);
    Issue::new(
        at.start,
        if path.is_empty() {
            message
        } else {
            format!("{path}: {message}")
        },
    )
}

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A key of the table spanning `table`.
    Key { name: String, table: Span },
    /// A 0-based array index.
    Index(usize),
}

/// Find the innermost value spanning exactly `target`, recording the path to it.
fn locate<'a, 'i>(
    value: &'a Spanned<DeValue<'i>>,
    target: &Span,
    steps: &mut Vec<Step>,
) -> Option<&'a DeValue<'i>> {
    match value.get_ref() {
        DeValue::Table(table) => {
            for (key, child) in table.iter() {
                steps.push(Step::Key {
                    name: key.get_ref().to_string(),
                    table: value.span(),
                });
                if let Some(found) = locate(child, target, steps) {
                    return Some(found);
                }
                steps.pop();
            }
        }
        DeValue::Array(array) => {
            for (i, child) in array.iter().enumerate() {
                steps.push(Step::Index(i));
                if let Some(found) = locate(child, target, steps) {
                    return Some(found);
                }
                steps.pop();
            }
        }
        _ => {}
    }
    (value.span() == *target).then(|| value.get_ref())
}

/// The value reached by following `steps` from the root.
fn descend_mut<'a, 'i>(root: &'a mut Spanned<DeValue<'i>>, steps: &[Step]) -> Option<&'a mut DeValue<'i>> {
    let mut value = root;
    for step in steps {
        value = match (value.get_mut(), step) {
            (DeValue::Table(t), Step::Key { name, .. }) => t.get_mut(name.as_str())?,
            (DeValue::Array(a), Step::Index(i)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(value.get_mut())
}

/// `stage[2].needs[1]`: keys joined with dots (quoted when not bare), array positions 1-based.
fn path_string(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key { name, .. } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&toml_key(name));
            }
            Step::Index(i) => out.push_str(&format!("[{}]", i + 1)),
        }
    }
    out
}

/// `name` as a TOML key: bare when it can be, else quoted.
pub(super) fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

/// "string", "integer -1", "table", ...: what a value is, for "found ..." in messages.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::Integer(i) => format!("integer {i}"),
        other => other.type_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(text: &str) -> Vec<(usize, String)> {
        match parse(text) {
            Ok((_, issues)) | Err(issues) => issues.into_iter().map(|i| (i.at, i.message)).collect(),
        }
    }

    #[test]
    fn known_keys_come_from_the_structs() {
        assert_eq!(serde_introspect::<RawWatch>(), ["every", "for"]);
        assert_eq!(
            serde_introspect::<RawFile>(),
            [
                "plan",
                "environments",
                "stage",
                "gates",
                "drift",
                "teams",
                "freeze",
                "notify"
            ]
        );
    }

    #[test]
    fn reads_a_well_formed_file_with_spans_and_unknown_keys() {
        let text = "[plan]\nname = \"x\"\nnmae = 1\n[[stage]]\nid = \"a\"\nrun = [\"one\", 'two']\n";
        let (parsed, issues) = parse(text).unwrap_or_else(|_| panic!("parse failed"));
        assert!(issues.is_empty());
        let plan = parsed.file.get_ref().plan.as_ref().unwrap();
        assert_eq!(plan.get_ref().name.as_ref().unwrap().get_ref().0, "x");
        let unknown: Vec<_> = plan
            .get_ref()
            .unknown
            .iter()
            .map(|k| (k.span().start, k.get_ref().clone()))
            .collect();
        assert_eq!(unknown, [(18, "nmae".to_string())]);
        let stages = &parsed.file.get_ref().stage.as_ref().unwrap().get_ref().0;
        let run = OneOrMany::items(stages[0].get_ref().run.as_ref().unwrap());
        let spans: Vec<_> = run.iter().map(|(s, t)| (&text[s.clone()], *t)).collect();
        assert_eq!(spans, [("\"one\"", "one"), ("'two'", "two")]);
    }

    #[test]
    fn every_wrong_type_is_reported_with_path_and_found_type() {
        let text = "[plan]\nname = 5\nmax_parallel = -1\n\n[[stage]]\nid = \"a\"\n\n[[stage]]\nid = \"b\"\n\
                    retries = \"x\"\nneeds = [\"a\", 3]\nwatch = 00:10:00\n";
        let got = issues(text);
        let messages: Vec<_> = got.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "plan.max_parallel: expected a non-negative integer, found integer -1",
                "plan.name: expected a string, found integer 5",
                "stage[2].needs[2]: expected a string, found integer 3",
                "stage[2].retries: expected a non-negative integer, found string",
                "stage[2].watch: expected a table, found datetime",
            ]
        );
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(got[2].0, at("3]"));
        assert_eq!(got[3].0, at("\"x\""));
    }

    #[test]
    fn dropped_keys_are_remembered() {
        let text = "[plan]\nname = 5\n";
        let (parsed, _) = parse(text).unwrap_or_else(|_| panic!("parse failed"));
        let plan = parsed.file.get_ref().plan.as_ref().unwrap();
        assert!(plan.get_ref().name.is_none());
        assert!(parsed.was_dropped(&plan.span(), "name"));
        assert_eq!(parsed.dropped, [(plan.span(), Some("name".to_string()))]);
        assert!(!parsed.was_dropped(&plan.span(), "max_parallel"));
    }

    #[test]
    fn a_plain_stage_table_is_not_an_array_of_tables() {
        assert_eq!(
            issues("[stage]\nid = \"a\"\n"),
            [(
                0,
                "stage: expected an array of tables (write each stage as [[stage]]), found table".to_string()
            )]
        );
    }

    #[test]
    fn syntax_errors_stop_the_reading() {
        let got = issues("[plan]\nname = \"x\ny = 1\n");
        assert!(!got.is_empty());
        assert!(
            got.iter().all(|(_, m)| m.starts_with("invalid TOML: ")),
            "{got:?}"
        );
    }

    #[test]
    fn keys_are_quoted_when_not_bare() {
        assert_eq!(toml_key("prod-eu_1"), "prod-eu_1");
        assert_eq!(toml_key("a b"), "\"a b\"");
        assert_eq!(toml_key(""), "\"\"");
    }
}
