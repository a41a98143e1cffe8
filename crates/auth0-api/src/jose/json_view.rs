//! Reading a JSON object without building it: every member is validated exactly as
//! `serde_json::Value` would accept it, member names must be unique, and only the members a
//! caller asks for are kept, borrowed from the text where they have no escapes.
//!
//! Verifying a token needs a handful of its members (`alg`, `kid`, `iss`, `aud`, `exp`, ...),
//! while building the whole map costs one allocation per name and per string (with the map's
//! later drop, about 5% of an RS256 check for an Auth0 access token). [`walk_object`] reads the text once, hands each member to a
//! [`MemberSink`] that keeps what it needs, and checks everything else with [`Validated`], which
//! accepts exactly what `Value` accepts (numbers in `f64` range, well-formed escapes and
//! surrogate pairs, nesting within serde_json's limit). A text accepted here therefore always
//! parses into a `Value` later, so the full map can be built lazily
//! ([`Claims`](crate::Claims)) and never fail.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use crate::jose::jws::{DecodeError, classify_json_error};

/// Up to this many members, duplicates are found by a linear scan behind a one-word filter;
/// beyond, with a hash set.
const LINEAR_SCAN_MEMBERS: usize = 16;

/// Receives the members of a top-level object, one at a time, and reads each value.
pub(crate) trait MemberSink<'de> {
    /// Reads the value of member `name` from `map` (with `map.next_value::<T>()`), keeping it or
    /// validating it with [`Validated`], and says whether `name` is one of the sink's own.
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error>;
}

/// Reads the value of a member a sink keeps into `slot`; the member is the sink's number `n`.
pub(crate) fn keep<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
    n: u32,
) -> Result<Member, A::Error> {
    *slot = Some(map.next_value()?);
    Ok(Member::Known(n))
}

/// [`keep`], reading the value with `seed`.
pub(crate) fn keep_seed<'de, A: MapAccess<'de>, S: DeserializeSeed<'de>>(
    slot: &mut Option<S::Value>,
    map: &mut A,
    seed: S,
    n: u32,
) -> Result<Member, A::Error> {
    *slot = Some(map.next_value_seed(seed)?);
    Ok(Member::Known(n))
}

/// Validates the value of a member a sink does not read.
pub(crate) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Member, A::Error> {
    map.next_value::<Validated>()?;
    Ok(Member::Other)
}

/// What a [`MemberSink`] says of a member name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Member {
    /// One of the names the sink reads, numbered (below 64, one number per name): a repeat of it
    /// is found with one bit test, without keeping the name.
    Known(u32),
    /// Any other name.
    Other,
}

/// Walks the JSON object in `text`, handing each member to `sink`.
///
/// # Errors
/// The same [`DecodeError`]s as [`crate::jose::jws::parse_object`]: Python-like JSON messages,
/// [`DecodeError::NotObject`], and [`DecodeError::DuplicateMember`] for the first name seen twice.
pub(crate) fn walk_object<'de, S: MemberSink<'de>>(
    text: &'de str,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let walked = de
        .deserialize_any(ObjectWalker { sink })
        .map_err(|e| classify_json_error(text, &e))?;
    de.end().map_err(|e| classify_json_error(text, &e))?;
    walked
}

/// The member names seen so far: the first few on the stack (no allocation for the usual
/// token), the rest (and any name that had escapes) in a hash set, so that a document with
/// thousands of members is still checked in linear time.
struct SeenNames<'de> {
    inline: [&'de str; LINEAR_SCAN_MEMBERS],
    len: usize,
    /// One bit per [`SeenNames::bucket`] of the inline names: most names fall in an empty
    /// bucket, which proves them new without comparing strings.
    buckets: u64,
    spill: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> SeenNames<'de> {
    fn new() -> Self {
        Self {
            inline: [""; LINEAR_SCAN_MEMBERS],
            len: 0,
            buckets: 0,
            spill: None,
        }
    }

    /// A cheap 6-bit digest of a name (its length and last byte).
    fn bucket(name: &str) -> u64 {
        let last = name.as_bytes().last().copied().unwrap_or_default();
        1u64 << ((name.len() * 7 + usize::from(last)) % 64)
    }

    /// Records `name`; `false` if it was seen before.
    fn insert(&mut self, name: Cow<'de, str>) -> bool {
        let bucket = Self::bucket(&name);
        let inline = self.inline.get(..self.len).unwrap_or_default();
        let maybe_inline = self.buckets & bucket != 0 && inline.contains(&&*name);
        if maybe_inline || self.spill.as_ref().is_some_and(|s| s.contains(&*name)) {
            return false;
        }
        match name {
            Cow::Borrowed(b) if self.len < LINEAR_SCAN_MEMBERS => {
                if let Some(slot) = self.inline.get_mut(self.len) {
                    *slot = b;
                    self.len += 1;
                    self.buckets |= bucket;
                }
            }
            other => {
                self.spill.get_or_insert_with(HashSet::new).insert(other);
            }
        }
        true
    }
}

struct ObjectWalker<'s, S> {
    sink: &'s mut S,
}

impl<'de, S: MemberSink<'de>> Visitor<'de> for ObjectWalker<'_, S> {
    type Value = Result<(), DecodeError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut known = 0u64;
        let mut seen: Option<SeenNames<'de>> = None;
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            let new = match self.sink.member(&name, &mut map)? {
                Member::Known(n) => {
                    let bit = 1u64 << (n % 64);
                    let new = known & bit == 0;
                    known |= bit;
                    new
                }
                Member::Other => seen.get_or_insert_with(SeenNames::new).insert(name.clone()),
            };
            if !new {
                // Read the rest, so that the duplicate (not an unread tail) is what is reported.
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(Err(DecodeError::DuplicateMember(name.into_owned())));
            }
        }
        Ok(Ok(()))
    }

    // Arrays skipped as `parse_object` skips them (the errors inside differ from a value's).
    crate::jose::jws::not_an_object!();
}

/// A member name, borrowed unless it had escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, checked as `serde_json::Value` would check it, and dropped.
pub(crate) struct Validated;

impl<'de> Deserialize<'de> for Validated {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shape).map(|_| Validated)
    }
}

/// What [`Shape`] saw: enough to tell Python's truthiness of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Falsy,
    Truthy,
}

fn kind(truthy: bool) -> Kind {
    if truthy { Kind::Truthy } else { Kind::Falsy }
}

/// Visits any value without keeping it, recursing into arrays and objects.
struct Shape;

impl<'de> Visitor<'de> for Shape {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Kind, E> {
        Ok(kind(b))
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Kind, E> {
        Ok(kind(n != 0))
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Kind, E> {
        Ok(kind(n != 0))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Kind, E> {
        Ok(kind(n != 0.0))
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Kind, E> {
        Ok(kind(!s.is_empty()))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Falsy)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Kind, A::Error> {
        Ok(kind(drain_seq(seq)? > 0))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut members = 0usize;
        while map.next_entry::<Validated, Validated>()?.is_some() {
            members += 1;
        }
        Ok(kind(members > 0))
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<usize, A::Error> {
    let mut n = 0usize;
    while seq.next_element::<Validated>()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// A member kept for its text: a string (borrowed unless it had escapes), or another value of
/// which only Python's truthiness is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lite<'de> {
    /// A JSON string.
    Str(Cow<'de, str>),
    /// Any other value; `true` when Python would find it truthy.
    Other(bool),
}

impl Lite<'_> {
    /// The string, if the value is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Other(_) => None,
        }
    }

    /// Python's truthiness (`if not value`).
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Self::Str(s) => !s.is_empty(),
            Self::Other(t) => *t,
        }
    }
}

/// Python's truthiness of an optional member (absent is falsy).
pub(crate) fn truthy(value: Option<&Lite<'_>>) -> bool {
    value.is_some_and(Lite::truthy)
}

/// Python's truthiness of a JSON value (the reference tests claims with `if not x`).
pub(crate) fn value_truthy(v: Option<&serde_json::Value>) -> bool {
    match v {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => false,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(serde_json::Value::Object(o)) => !o.is_empty(),
        Some(serde_json::Value::Bool(true)) => true,
    }
}

impl<'de> Deserialize<'de> for Lite<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lite<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Lite<'de>, E> {
                Ok(Lite::Str(Cow::Owned(s)))
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Lite<'de>, E> {
                Shape.visit_bool(b).map(other)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Lite<'de>, E> {
                Shape.visit_i64(n).map(other)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Lite<'de>, E> {
                Shape.visit_u64(n).map(other)
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Lite<'de>, E> {
                Shape.visit_f64(n).map(other)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Lite<'de>, E> {
                Ok(Lite::Other(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lite<'de>, A::Error> {
                Shape.visit_seq(seq).map(other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lite<'de>, A::Error> {
                Shape.visit_map(map).map(other)
            }
        }
        d.deserialize_any(V)
    }
}

fn other<'de>(k: Kind) -> Lite<'de> {
    Lite::Other(k == Kind::Truthy)
}

/// A member read for one member of its own (`cnf` for its `jkt`): Python's truthiness of the
/// whole value, whether it is an object, and that inner member (the last one, as a map keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Picked<'de> {
    pub(crate) truthy: bool,
    pub(crate) object: bool,
    pub(crate) inner: Option<Lite<'de>>,
}

/// Reads a [`Picked`] value, keeping its member `name`.
pub(crate) struct PickSeed(pub(crate) &'static str);

impl<'de> serde::de::DeserializeSeed<'de> for PickSeed {
    type Value = Picked<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Picked<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PickSeed {
    type Value = Picked<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Picked<'de>, A::Error> {
        let (mut members, mut inner) = (0usize, None);
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            members += 1;
            if name == self.0 {
                inner = Some(map.next_value::<Lite<'de>>()?);
            } else {
                map.next_value::<Validated>()?;
            }
        }
        Ok(Picked {
            truthy: members > 0,
            object: true,
            inner,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Picked<'de>, A::Error> {
        Shape.visit_seq(seq).map(not_object)
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Picked<'de>, E> {
        Shape.visit_str(s).map(not_object)
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Picked<'de>, E> {
        Shape.visit_bool(b).map(not_object)
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Picked<'de>, E> {
        Shape.visit_i64(n).map(not_object)
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Picked<'de>, E> {
        Shape.visit_u64(n).map(not_object)
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Picked<'de>, E> {
        Shape.visit_f64(n).map(not_object)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Picked<'de>, E> {
        Ok(not_object(Kind::Falsy))
    }
}

fn not_object<'de>(k: Kind) -> Picked<'de> {
    Picked {
        truthy: k == Kind::Truthy,
        object: false,
        inner: None,
    }
}

/// A member that must be a number (a NumericDate): its value, or `None` for any other type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number(pub(crate) Option<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            // `as f64` as `Value::as_f64` converts: the nearest double.
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Number, E> {
                Ok(Number(Some(n as f64)))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Number, E> {
                Ok(Number(Some(n as f64)))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Number, E> {
                Ok(Number(Some(n).filter(|t| t.is_finite())))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Number, E> {
                Ok(Number(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Number, A::Error> {
                drain_seq(seq).map(|_| Number(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Number, A::Error> {
                Shape.visit_map(map).map(|_| Number(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// How an `aud` member compares with the expected audiences (RFC 7519 section 4.1.3), in the
/// reference's two cases: an array (any string member expected), or anything else (a single
/// string that is expected; absent or another type never is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudMatch {
    /// `aud` is an array; whether one of its string members is expected.
    Array(bool),
    /// `aud` is not an array; whether it is an expected string.
    Single(bool),
}

/// Reads an `aud` member into an [`AudMatch`] against `expected`, without keeping it.
pub(crate) struct AudSeed<'e>(pub(crate) &'e [String]);

impl AudSeed<'_> {
    fn expects(&self, aud: &str) -> bool {
        self.0.iter().any(|want| want == aud)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for AudSeed<'_> {
    type Value = AudMatch;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AudMatch, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AudSeed<'_> {
    type Value = AudMatch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<AudMatch, E> {
        Ok(AudMatch::Single(self.expects(s)))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<AudMatch, E> {
        Ok(AudMatch::Single(false))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<AudMatch, E> {
        Ok(AudMatch::Single(false))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<AudMatch, E> {
        Ok(AudMatch::Single(false))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<AudMatch, E> {
        Ok(AudMatch::Single(false))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<AudMatch, E> {
        Ok(AudMatch::Single(false))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AudMatch, A::Error> {
        let mut found = false;
        while let Some(member) = seq.next_element::<Lite<'de>>()? {
            found |= member.as_str().is_some_and(|a| self.expects(a));
        }
        Ok(AudMatch::Array(found))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AudMatch, A::Error> {
        Shape.visit_map(map).map(|_| AudMatch::Single(false))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::jose::jws::parse_object;

    /// Keeps nothing: validation and duplicate detection only.
    struct Nothing;
    impl<'de> MemberSink<'de> for Nothing {
        fn member<A: MapAccess<'de>>(&mut self, _: &str, map: &mut A) -> Result<Member, A::Error> {
            map.next_value::<Validated>().map(|_| Member::Other)
        }
    }

    /// Validation only, but the names `a`, `b` and `c` are its own (their duplicates are found
    /// by number, not by name).
    struct KnowsAbc;
    impl<'de> MemberSink<'de> for KnowsAbc {
        fn member<A: MapAccess<'de>>(
            &mut self,
            name: &str,
            map: &mut A,
        ) -> Result<Member, A::Error> {
            map.next_value::<Validated>()?;
            Ok(match name {
                "a" => Member::Known(0),
                "b" => Member::Known(1),
                "c" => Member::Known(2),
                _ => Member::Other,
            })
        }
    }

    #[derive(Default)]
    struct Keep<'de> {
        lite: Option<Lite<'de>>,
        num: Option<Number>,
        aud: Option<AudMatch>,
    }
    impl<'de> MemberSink<'de> for Keep<'de> {
        fn member<A: MapAccess<'de>>(
            &mut self,
            name: &str,
            map: &mut A,
        ) -> Result<Member, A::Error> {
            let want = ["a".to_owned(), "b\n".to_owned()];
            match name {
                "l" => keep(&mut self.lite, map, 0),
                "n" => keep(&mut self.num, map, 1),
                "s" => keep_seed(&mut self.aud, map, AudSeed(&want), 63),
                _ => skip(map),
            }
        }
    }

    /// Accepts exactly what `parse_object` (a `Value` map) accepts, with the same errors.
    #[test]
    fn agrees_with_the_value_parser() {
        let cases: &[&str] = &[
            r#"{"a":1}"#,
            r#"{"a":1e309}"#,
            r#"{"a":-1e309}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"\ud800":1}"#,
            r#"{"a":[1,{"b":[]}],"c":null}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"a":1,"a":2,"b":x}"#,
            r#"{"a":NaN}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            r#"{"a":"abc"#,
            r#"{a:1}"#,
            r#"[1,2]"#,
            r#""s""#,
            "1",
            "",
            "null",
            r#"{"a":01}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"tab	inside"}"#,
            r#"{"a":1,}"#,
            "[0.",
            "[1",
            "[1,",
            "[",
        ];
        let deep_ok = format!("{{\"a\":{}{}}}", "[".repeat(120), "]".repeat(120));
        let deep_bad = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let many: String = format!(
            "{{{}}}",
            (0..40)
                .map(|i| format!("\"k{}\":{i}", i % 39))
                .collect::<Vec<_>>()
                .join(",")
        );
        for text in
            cases
                .iter()
                .copied()
                .chain([deep_ok.as_str(), deep_bad.as_str(), many.as_str()])
        {
            let by_value = parse_object(text.as_bytes()).map(|_| ());
            let walked = walk_object(text, &mut Nothing).map(|_| ());
            assert_eq!(walked, by_value, "{text}");
            let by_number = walk_object(text, &mut KnowsAbc).map(|_| ());
            assert_eq!(by_number, by_value, "{text}");
        }
    }

    #[test]
    fn keeps_borrowed_strings_numbers_and_string_lists() {
        let text = r#"{"l":"plain","n":12,"s":["a",1,"b\n"],"x":{"y":[true]}}"#;
        let mut keep = Keep::default();
        walk_object(text, &mut keep).unwrap();
        assert!(matches!(keep.lite, Some(Lite::Str(Cow::Borrowed("plain")))));
        assert_eq!(keep.num, Some(Number(Some(12.0))));
        assert_eq!(keep.aud, Some(AudMatch::Array(true)));

        for (text, expected) in [
            (r#"{"l":0}"#, false),
            (r#"{"l":0.0}"#, false),
            (r#"{"l":-0.0}"#, false),
            (r#"{"l":2}"#, true),
            (r#"{"l":""}"#, false),
            (r#"{"l":[]}"#, false),
            (r#"{"l":[0]}"#, true),
            (r#"{"l":{}}"#, false),
            (r#"{"l":{"a":0}}"#, true),
            (r#"{"l":null}"#, false),
            (r#"{"l":false}"#, false),
            (r#"{"l":true}"#, true),
        ] {
            let mut keep = Keep::default();
            walk_object(text, &mut keep).unwrap();
            assert_eq!(truthy(keep.lite.as_ref()), expected, "{text}");
        }

        for (text, number) in [
            (r#"{"n":1.5}"#, Some(1.5)),
            (r#"{"n":-3}"#, Some(-3.0)),
            (r#"{"n":"3"}"#, None),
            (r#"{"n":true}"#, None),
            (r#"{"n":[1]}"#, None),
            (r#"{"n":null}"#, None),
        ] {
            let mut keep = Keep::default();
            walk_object(text, &mut keep).unwrap();
            assert_eq!(keep.num, Some(Number(number)), "{text}");
        }
        for (text, expected) in [
            (r#"{"s":{"a":"b"}}"#, AudMatch::Single(false)),
            (r#"{"s":"b\n"}"#, AudMatch::Single(true)),
            (r#"{"s":"c"}"#, AudMatch::Single(false)),
            (r#"{"s":["c",1,["a"]]}"#, AudMatch::Array(false)),
            (r#"{"s":[]}"#, AudMatch::Array(false)),
            (r#"{"s":null}"#, AudMatch::Single(false)),
        ] {
            let mut keep = Keep::default();
            walk_object(text, &mut keep).unwrap();
            assert_eq!(keep.aud, Some(expected), "{text}");
        }
    }

    #[test]
    fn reports_the_first_duplicate_even_past_the_linear_scan() {
        let text = format!(
            "{{{},\"k3\":0,\"k30\":1}}",
            (0..30)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            walk_object(&text, &mut Nothing).unwrap_err(),
            DecodeError::DuplicateMember("k3".into())
        );
    }

    proptest::proptest! {
        /// On arbitrary text made of JSON's punctuation, the walk and the `Value` parser agree
        /// on acceptance and on the error.
        #[test]
        fn agrees_with_the_value_parser_on_noise(text in r#"[{}\[\]":,ab01eE.+\- \\u]{0,24}"#) {
            let by_value = parse_object(text.as_bytes()).map(|_| ());
            let walked = walk_object(&text, &mut Nothing).map(|_| ());
            proptest::prop_assert_eq!(&walked, &by_value);
            let by_number = walk_object(&text, &mut KnowsAbc).map(|_| ());
            proptest::prop_assert_eq!(by_number, by_value);
        }

        /// On objects (valid, or with one character changed), they agree too.
        #[test]
        fn agrees_with_the_value_parser_on_objects(
            members in proptest::collection::vec(("[a-c\\\\\"]{0,3}", r#"[\[\]{}0-9a-z",.:\-eE\\]{0,8}"#), 0..6),
            edit in proptest::option::of((0usize..64, proptest::char::range(' ', '~'))),
        ) {
            let mut text = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            if let Some((at, c)) = edit {
                let at = at % (text.len() + 1);
                if text.is_char_boundary(at) {
                    text.insert(at, c);
                }
            }
            let by_value = parse_object(text.as_bytes()).map(|_| ());
            let walked = walk_object(&text, &mut Nothing).map(|_| ());
            proptest::prop_assert_eq!(&walked, &by_value);
            let by_number = walk_object(&text, &mut KnowsAbc).map(|_| ());
            proptest::prop_assert_eq!(by_number, by_value);
        }
    }
}
