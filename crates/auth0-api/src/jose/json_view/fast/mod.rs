//! The walk's fast reader: a serde [`Deserializer`] for the JSON that tokens and proofs are
//! made of, which gives up ([`Bail`]) on anything else.
//!
//! It reads objects, arrays, strings without escapes or control characters, non-negative
//! integers of up to 19 digits, `true`, `false` and `null`, nested at most [`MAX_DEPTH`] deep,
//! with JSON's four white-space characters between them. Within that subset it hands each
//! visitor exactly what `serde_json` hands it for the same text (`visit_borrowed_str` for a
//! string, `visit_u64` for an integer, the same maps and sequences), so a sink keeps the same
//! values whichever reader ran. Anything outside it (an escape, a sign, a fraction or an
//! exponent, a long integer, deep nesting, any syntax error, a visitor's own refusal) is a
//! [`Bail`], and [`super::walk_object`] reads the text again with `serde_json`, which gives the
//! answer and the error. So the subset only ever accepts text that `serde_json::Value`
//! accepts, never refuses one itself, and changes no answer.
//!
//! Why: `serde_json`'s reader carries what this subset does not need (position tracking for
//! its errors, a scratch buffer for escapes, number parsing for every form). Under callgrind,
//! the JSON pass over an Auth0-shaped token's header and payload took about 6,600
//! instructions with it and about 4,700 with this reader, the same visitors running on both;
//! see `docs/PERFORMANCE.md`, session of 2026-12-08.

use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Objects and arrays nest at most this deep here (`serde_json` allows 128; deeper text bails,
/// and `serde_json` gives its answer).
pub(super) const MAX_DEPTH: u32 = 32;

/// The reader gave up: the text is outside the subset, or a visitor refused a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bail;

impl fmt::Display for Bail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not in the fast reader's subset")
    }
}

impl std::error::Error for Bail {}

impl serde::de::Error for Bail {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Bail
    }
}

/// Reads the top-level object of `text` with `visitor`, then checks that only white space
/// follows.
pub(super) fn walk<'de, V: Visitor<'de>>(text: &'de str, visitor: V) -> Result<V::Value, Bail> {
    let mut reader = Reader {
        text,
        pos: 0,
        depth: 0,
    };
    reader.skip_space();
    if reader.peek() != Some(b'{') {
        return Err(Bail);
    }
    let value = reader.deserialize_any(visitor)?;
    reader.skip_space();
    if reader.pos == text.len() {
        Ok(value)
    } else {
        Err(Bail)
    }
}

struct Reader<'de> {
    text: &'de str,
    pos: usize,
    depth: u32,
}

/// Every byte of a word set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// A mark in the high bit of the lowest byte of `w` that is zero (bytes above it may be marked
/// wrongly; only the lowest mark is read).
const fn zero_byte(w: u64) -> u64 {
    w.wrapping_sub(splat(1)) & !w & splat(0x80)
}

impl<'de> Reader<'de> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after white space.
    fn expect(&mut self, byte: u8) -> Result<(), Bail> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// The string whose opening quote is at `pos`, when it has no escape and no control
    /// character; `pos` moves past its closing quote.
    fn string(&mut self) -> Result<&'de str, Bail> {
        let start = self.pos + 1;
        let rest = self.text.as_bytes().get(start..).unwrap_or_default();
        // A word at a time: the first `"`, `\` or byte below 0x20 ends the scan.
        let mut words = rest.chunks_exact(8);
        let mut len = 0;
        for word in words.by_ref() {
            let w = u64::from_le_bytes(<[u8; 8]>::try_from(word).map_err(|_| Bail)?);
            let marks = zero_byte(w ^ splat(b'"'))
                | zero_byte(w ^ splat(b'\\'))
                | (w.wrapping_sub(splat(0x20)) & !w & splat(0x80));
            if marks != 0 {
                let end = start + len + (marks.trailing_zeros() / 8) as usize;
                return self.close_string(start, end);
            }
            len += 8;
        }
        let tail = words.remainder();
        let end = tail
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(tail.len());
        self.close_string(start, start + len + end)
    }

    fn close_string(&mut self, start: usize, end: usize) -> Result<&'de str, Bail> {
        if self.text.as_bytes().get(end) != Some(&b'"') {
            return Err(Bail);
        }
        // `start` follows and `end` is an ASCII quote: both are character boundaries.
        let s = self.text.get(start..end).ok_or(Bail)?;
        self.pos = end + 1;
        Ok(s)
    }

    /// A non-negative integer of up to 19 digits (below `u64::MAX`), as `serde_json` reads it.
    /// A `0` ends it: whatever follows a number other than a delimiter (a digit after a leading
    /// zero, a fraction, an exponent) is refused by the caller, which expects a delimiter.
    fn integer(&mut self) -> Result<u64, Bail> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) == Some(&b'0') {
            self.pos += 1;
            return Ok(0);
        }
        let start = self.pos;
        let mut n = 0u64;
        while let Some(&d @ b'0'..=b'9') = bytes.get(self.pos) {
            if self.pos - start == 19 {
                return Err(Bail);
            }
            n = n * 10 + u64::from(d - b'0');
            self.pos += 1;
        }
        Ok(n)
    }

    /// Consumes the literal `word` (`true`, `false`, `null`).
    fn literal(&mut self, word: &str) -> Result<(), Bail> {
        if self.text.as_bytes().get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Reads the object or array whose opening byte is at `pos` (and whose closing byte is
    /// `close`) with `visit`. A visitor that stops before the closing byte leaves text unread,
    /// and the reader gives up there rather than read on from the middle (where the enclosing
    /// levels would end one closing byte early, and the walk's trailing-text check refuse it).
    fn nested<T>(
        &mut self,
        close: u8,
        visit: impl FnOnce(Items<'_, 'de>) -> Result<T, Bail>,
    ) -> Result<T, Bail> {
        if self.depth == MAX_DEPTH {
            return Err(Bail);
        }
        let outer = self.depth;
        self.depth += 1;
        self.pos += 1;
        let value = visit(Items {
            reader: &mut *self,
            place: Place::First,
            close,
        })?;
        if self.depth == outer {
            Ok(value)
        } else {
            Err(Bail)
        }
    }
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = Bail;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Bail> {
        self.skip_space();
        match self.peek().ok_or(Bail)? {
            b'"' => visitor.visit_borrowed_str(self.string()?),
            b'0'..=b'9' => visitor.visit_u64(self.integer()?),
            b'{' => self.nested(b'}', |items| visitor.visit_map(items)),
            b'[' => self.nested(b']', |items| visitor.visit_seq(items)),
            b't' => self.literal("true").and_then(|()| visitor.visit_bool(true)),
            b'f' => self
                .literal("false")
                .and_then(|()| visitor.visit_bool(false)),
            b'n' => self.literal("null").and_then(|()| visitor.visit_unit()),
            _ => Err(Bail),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// Where a map or sequence access is: before its first item, after one, or past its close.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    First,
    Next,
    Closed,
}

/// The members of an object or the elements of an array, read one at a time.
struct Items<'r, 'de> {
    reader: &'r mut Reader<'de>,
    place: Place,
    /// `}` or `]`.
    close: u8,
}

impl Items<'_, '_> {
    /// Before an element or member: `true` when one follows (the comma before it consumed),
    /// `false` at the closing byte (consumed, leaving the nesting) and ever after. Before the
    /// first, only the closing byte is looked for.
    fn next(&mut self) -> Result<bool, Bail> {
        if self.place == Place::Closed {
            return Ok(false);
        }
        let reader = &mut *self.reader;
        reader.skip_space();
        let b = reader.peek().ok_or(Bail)?;
        if b == self.close {
            reader.pos += 1;
            reader.depth -= 1;
            self.place = Place::Closed;
            return Ok(false);
        }
        if std::mem::replace(&mut self.place, Place::Next) == Place::First {
            return Ok(true);
        }
        if b == b',' {
            reader.pos += 1;
            Ok(true)
        } else {
            Err(Bail)
        }
    }
}

impl<'de> MapAccess<'de> for Items<'_, 'de> {
    type Error = Bail;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Bail> {
        if !self.next()? {
            return Ok(None);
        }
        self.reader.skip_space();
        if self.reader.peek() != Some(b'"') {
            return Err(Bail);
        }
        let name = self.reader.string()?;
        seed.deserialize(BorrowedStrDeserializer::new(name))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Bail> {
        self.reader.expect(b':')?;
        seed.deserialize(&mut *self.reader)
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Bail;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Bail> {
        if !self.next()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

#[cfg(test)]
mod tests;
