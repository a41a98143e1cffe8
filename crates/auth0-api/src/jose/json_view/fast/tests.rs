//! The fast reader against `serde_json`: it accepts only text `serde_json::Value` accepts,
//! hands the visitors the same values, and gives up on everything outside its subset.

#![allow(clippy::unwrap_used)]

use serde::de::MapAccess;
use serde_json::Value;

use super::super::{
    Member, MemberSink, ObjectWalker, Validated, walk_object, walk_with_serde_json,
};
use super::{Bail, MAX_DEPTH, walk};
use crate::jose::jws::{DecodeError, parse_object};

/// Every member as the `Value` it reads to, in order (nested values built by the reader that
/// runs, through `Value`'s own visitor).
#[derive(Default, Debug, PartialEq)]
struct Record(Vec<(String, Value)>);

impl<'de> MemberSink<'de> for Record {
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error> {
        self.0.push((name.to_owned(), map.next_value()?));
        Ok(Member::Other)
    }
}

/// What the fast reader alone makes of `text`.
fn fast(text: &str) -> Result<Result<Record, DecodeError>, Bail> {
    let mut record = Record::default();
    walk(text, ObjectWalker { sink: &mut record }).map(|walked| walked.map(|()| record))
}

/// What `serde_json` alone makes of it.
fn slow(text: &str) -> Result<Record, DecodeError> {
    let mut record = Record::default();
    walk_with_serde_json(text, &mut record).map(|()| record)
}

/// Where the fast reader answers, `serde_json` gives the same answer.
fn agree(text: &str) -> bool {
    match fast(text) {
        Ok(answer) => {
            assert_eq!(answer, slow(text), "{text}");
            if answer.is_ok() {
                assert!(parse_object(text.as_bytes()).is_ok(), "{text}");
            }
            true
        }
        Err(Bail) => false,
    }
}

#[test]
fn reads_the_usual_token_payload() {
    let text = r#"{"iss":"https://t.example.com/","sub":"auth0|5f1c","aud":["https://api",
        "https://t.example.com/userinfo"],"iat":1700000000,"exp":18446744073709551,
        "scope":"openid read:x","cnf":{"jkt":"0ZcOCORZNYy"},"ok":true,"no":false,"n":null,
        "e":{},"a":[],"z":0}"#;
    assert!(agree(text));
    assert_eq!(slow(text).unwrap().0.len(), 13);
}

#[test]
fn gives_up_outside_its_subset_and_never_refuses() {
    let deepest = format!(
        "{{\"a\":{}{}}}",
        "[".repeat(MAX_DEPTH as usize - 1),
        "]".repeat(MAX_DEPTH as usize - 1)
    );
    let too_deep = format!(
        "{{\"a\":{}{}}}",
        "[".repeat(MAX_DEPTH as usize),
        "]".repeat(MAX_DEPTH as usize)
    );
    assert!(agree(&deepest));
    let outside = [
        r#"{"a":"\n"}"#,
        r#"{"a\u0062":1}"#,
        "{\"a\":\"tab\tinside\"}",
        r#"{"a":-1}"#,
        r#"{"a":1.5}"#,
        r#"{"a":1e3}"#,
        r#"{"a":1E3}"#,
        r#"{"a":01}"#,
        r#"{"a":00}"#,
        r#"{"a":9999999999999999999}"#,
        r#"{"a":18446744073709551615}"#,
        r#"{"a":tru}"#,
        r#"{"a":nul}"#,
        r#"{"a":1,}"#,
        r#"{,"a":1}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":[,1]}"#,
        r#"{"a" 1}"#,
        r#"{"a":1 "b":2}"#,
        r#"{"a":1}x"#,
        r#"{"a":1"#,
        r#"{"a":"abc"#,
        r#"{1:1}"#,
        r#"[1]"#,
        r#""s""#,
        "",
        too_deep.as_str(),
    ];
    for text in outside {
        let digits19 = text == r#"{"a":9999999999999999999}"#;
        assert_eq!(agree(text), digits19, "{text}");
    }
    for text in [" {\"a\" :\t[ 1 , \"b\" ] ,\r\n\"c\":{ } } \n", "{}", "{ }"] {
        assert!(agree(text), "{text:?}");
    }
}

#[test]
fn finds_a_duplicate_as_serde_json_does() {
    let text = r#"{"a":1,"b":2,"a":[3],"c":"d"}"#;
    assert_eq!(
        fast(text).unwrap().unwrap_err(),
        DecodeError::DuplicateMember("a".into())
    );
    assert!(agree(text));
    // What follows the duplicate is read to the end; outside the subset, `serde_json` reads it.
    let text = r#"{"a":1,"a":2,"c":-1}"#;
    assert!(!agree(text));
    assert_eq!(
        walk_object(text, &mut Record::default()).unwrap_err(),
        DecodeError::DuplicateMember("a".into())
    );
}

/// How [`ReadsWith`] reads each object value: its first member only, or to its end and then
/// asks for one more member (which must be refused).
#[derive(Clone, Copy)]
enum Reading {
    FirstOnly,
    ToTheEndAndAgain,
}

impl<'de> serde::de::DeserializeSeed<'de> for Reading {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Reading {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match self {
            Self::FirstOnly => {
                map.next_entry::<String, Validated>()?;
            }
            Self::ToTheEndAndAgain => {
                while map.next_entry::<String, Validated>()?.is_some() {}
                assert!(map.next_key::<String>()?.is_none());
            }
        }
        Ok(())
    }
}

/// Reads every member's value (an object) the [`Reading`] way.
struct ReadsWith(Reading);

impl<'de> MemberSink<'de> for ReadsWith {
    fn member<A: MapAccess<'de>>(&mut self, _: &str, map: &mut A) -> Result<Member, A::Error> {
        map.next_value_seed(self.0).map(|()| Member::Other)
    }
}

/// A visitor that stops before the end of its object leaves text unread: the reader gives up
/// instead of reading on from the middle.
#[test]
fn gives_up_when_a_visitor_stops_early() {
    let text = r#"{"o":{"a":1,"b":2},"c":{}}"#;
    let mut sink = ReadsWith(Reading::FirstOnly);
    assert_eq!(
        walk(text, ObjectWalker { sink: &mut sink }).err(),
        Some(Bail)
    );
}

/// A visitor that asks again after the end of its object gets the end again: the reader does
/// not read on into the enclosing object.
#[test]
fn an_ended_object_stays_ended() {
    let text = r#"{"o":{"a":1},"p":{}}"#;
    let mut sink = ReadsWith(Reading::ToTheEndAndAgain);
    assert_eq!(walk(text, ObjectWalker { sink: &mut sink }), Ok(Ok(())));
}

proptest::proptest! {
    /// Objects of nested values, some of them outside the subset: wherever the fast reader
    /// answers, `serde_json` gives the same members and values, or the same error.
    #[test]
    fn answers_as_serde_json_does(
        members in proptest::collection::vec(
            ("[a-c]{1,2}", json_value()),
            0..6,
        ),
        space in "[ \t\r\n]{0,2}",
    ) {
        let text = format!(
            "{{{space}{}{space}}}",
            members
                .iter()
                .map(|(k, v)| format!("\"{k}\"{space}:{space}{v}"))
                .collect::<Vec<_>>()
                .join(&format!("{space},{space}"))
        );
        agree(&text);
    }
}

/// JSON values as text: strings with and without escapes, integers of every length, signs,
/// fractions and exponents, literals, and arrays and objects of them.
fn json_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        "\"[a-z /:|é\\\\\"]{0,12}\"",
        "[0-9]{1,21}",
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(("[a-c]", inner), 0..4).prop_map(|v| format!(
                "{{{}}}",
                v.iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        ]
    })
}
