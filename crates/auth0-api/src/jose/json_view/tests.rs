//! Unit tests of the JSON view: agreement with `serde_json::Value` and the strict parser.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::jose::jws::parse_object;

/// Validation only, but the names `a`, `b` and `c` are its own (their duplicates are found
/// by number, not by name).
struct KnowsAbc;
impl<'de> MemberSink<'de> for KnowsAbc {
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error> {
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
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error> {
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
    for text in cases
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
