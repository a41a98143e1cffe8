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

/// `Deserialize` for `$ty` through a local visitor: its value is `$ty`, it expects `$expecting`,
/// it has the given `visit_*` methods, and the deserializer starts it with `$start`
/// (`deserialize_any`, `deserialize_str`).
macro_rules! deserialize_with_visitor {
    ($ty:ty, $expecting:literal, $start:ident, { $($methods:tt)* }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    $($methods)*
                }
                d.$start(V)
            }
        }
    };
}

/// The three string methods of a `Visitor<'de>` whose value wraps a `Cow<'de, str>`: `$wrap`
/// receives the string, borrowed from the text unless it had escapes.
macro_rules! visit_cow_str {
    ($wrap:expr) => {
        fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
            Ok($wrap(Cow::Borrowed(s)))
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok($wrap(Cow::Owned(s.to_owned())))
        }
        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok($wrap(Cow::Owned(s)))
        }
    };
}

/// `Visitor` methods for values read only for their [`Kind`]: each checks its value with
/// [`Shape`] and turns the kind into the visitor's value with `$map`.
macro_rules! visit_via_shape {
    ($map:expr; $($visit:ident($arg:ty)),* $(,)?) => {$(
        fn $visit<E: serde::de::Error>(self, v: $arg) -> Result<Self::Value, E> {
            Shape.$visit(v).map($map)
        }
    )*};
}

/// Up to this many members, duplicates are found by a linear scan behind a one-word filter;
/// beyond, with a hash set.
const LINEAR_SCAN_MEMBERS: usize = 16;

/// Receives the members of a top-level object, one at a time, and reads each value.
pub(crate) trait MemberSink<'de> {
    /// Reads the value of member `name` from `map` (with `map.next_value::<T>()`), keeping it or
    /// validating it with [`Validated`], and says whether `name` is one of the sink's own.
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error>;
}

/// Keeps nothing: validation and duplicate detection only (the fuzz targets' and the tests'
/// view of the walk).
pub(crate) struct Nothing;

impl<'de> MemberSink<'de> for Nothing {
    fn member<A: MapAccess<'de>>(&mut self, _: &str, map: &mut A) -> Result<Member, A::Error> {
        skip(map)
    }
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
///
/// The [`fast`] reader reads the text first; when it gives up, `serde_json` reads it again
/// from the start, handing the sink every member again. What a sink records of a member is
/// recorded again by the second reading (slots are overwritten, flags are only ever set), so
/// what the first attempt recorded before it gave up (the same names, read to the same values)
/// leaves no trace; and when `serde_json` refuses the text, the sink is not read.
pub(crate) fn walk_object<'de, S: MemberSink<'de>>(
    text: &'de str,
    sink: &mut S,
) -> Result<(), DecodeError> {
    match fast::walk(text, ObjectWalker { sink: &mut *sink }) {
        Ok(walked) => walked,
        Err(fast::Bail) => walk_with_serde_json(text, sink),
    }
}

/// [`walk_object`] with `serde_json` alone.
fn walk_with_serde_json<'de, S: MemberSink<'de>>(
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
pub(crate) struct Name<'de>(pub(crate) Cow<'de, str>);

deserialize_with_visitor!(Name<'de>, "a string", deserialize_str, {
    visit_cow_str!(Name);
});

/// Any JSON value, checked as `serde_json::Value` would check it, and dropped.
pub(crate) struct Validated;

impl<'de> Deserialize<'de> for Validated {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shape).map(|_| Validated)
    }
}

/// What [`Shape`] saw: enough to tell Python's truthiness of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Falsy,
    Truthy,
}

pub(super) fn kind(truthy: bool) -> Kind {
    if truthy { Kind::Truthy } else { Kind::Falsy }
}

/// Visits any value without keeping it, recursing into arrays and objects.
pub(super) struct Shape;

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

pub(super) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<usize, A::Error> {
    let mut n = 0usize;
    while seq.next_element::<Validated>()?.is_some() {
        n += 1;
    }
    Ok(n)
}

mod fast;
mod values;
pub(crate) use values::{AudMatch, AudSeed, Lite, Number, PickSeed, Picked, truthy, value_truthy};

#[cfg(test)]
mod tests;
