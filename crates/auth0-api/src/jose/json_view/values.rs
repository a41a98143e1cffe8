//! The values a [`MemberSink`](super::MemberSink) keeps: strings and their truthiness
//! ([`Lite`]), one member of a nested object ([`Picked`]), numbers as the checks read them
//! ([`Number`]), and the audience settled while reading ([`AudMatch`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Kind, Name, Shape, Validated, drain_seq};

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

deserialize_with_visitor!(Lite<'de>, "any JSON value", deserialize_any, {
    visit_cow_str!(Lite::Str);
    visit_via_shape!(other; visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64));
    fn visit_unit<E: serde::de::Error>(self) -> Result<Lite<'de>, E> {
        Ok(Lite::Other(false))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lite<'de>, A::Error> {
        Shape.visit_seq(seq).map(other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lite<'de>, A::Error> {
        Shape.visit_map(map).map(other)
    }
});

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
    /// The object has a member named as the seed's second name (whatever its value).
    pub(crate) has_other: bool,
}

/// Reads a [`Picked`] value, keeping its member named first and noting whether it has one
/// named second.
pub(crate) struct PickSeed(pub(crate) &'static str, pub(crate) &'static str);

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
        let (mut members, mut inner, mut has_other) = (0usize, None, false);
        while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
            members += 1;
            if name == self.0 {
                inner = Some(map.next_value::<Lite<'de>>()?);
            } else {
                has_other |= name == self.1;
                map.next_value::<Validated>()?;
            }
        }
        Ok(Picked {
            truthy: members > 0,
            object: true,
            inner,
            has_other,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Picked<'de>, A::Error> {
        Shape.visit_seq(seq).map(not_object)
    }
    visit_via_shape!(not_object;
        visit_str(&str), visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64));
    fn visit_unit<E: serde::de::Error>(self) -> Result<Picked<'de>, E> {
        Ok(not_object(Kind::Falsy))
    }
}

fn not_object<'de>(k: Kind) -> Picked<'de> {
    Picked {
        truthy: k == Kind::Truthy,
        object: false,
        inner: None,
        has_other: false,
    }
}

/// A member that must be a number (a NumericDate): its value, or `None` for any other type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number(pub(crate) Option<f64>);

deserialize_with_visitor!(Number, "any JSON value", deserialize_any, {
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
});

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
