//! The header checks' fast path for the usual proof header: `typ`, `alg`, and an EC `jwk`,
//! read from the text without building a JSON map.
//!
//! A proof header that no cache entry covers (a client's first proof, or every proof of a
//! client that signs with a new key each time) was decoded into a `serde_json::Value` map, then
//! checked: the map (an allocation per name and per string, and their drop) and the
//! thumbprint's formatting through `Value` cost more than the rest of the header checks
//! together. [`check_fast`] reads the same text with [`json_view::walk_object`], which accepts
//! exactly the texts the map decoding accepts, and answers only when every check passes:
//!
//! - `typ` is `dpop+jwt`, `alg` an allowed ES256 or ES384, no `crit`;
//! - `jwk` is an object whose `kty`, `crv`, `x` and `y` are strings without escapes, each
//!   given once, with no private member;
//! - the thumbprint and the key then follow from those four strings alone, as the map path
//!   computes them.
//!
//! Anything else (another key type, an escape, a repeated member, any failing check) answers
//! `None`, and the caller takes the map path, which gives the answer and the error of the
//! reference's order. So this path changes no answer: it only skips the map for headers that
//! pass.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::proof_header::{CheckedHeader, PRIVATE_MEMBERS};
use super::thumbprint::sha256_base64url;
use crate::jose::json_view::{self, Lite, Member, MemberSink, Name, Validated};
use crate::jose::jws;
use crate::jose::keys::VerifyingKey;
use crate::settings::Algorithm;

/// The checked header of the proof header segment `segment`, when the fast path covers it and
/// every check passes; `None` sends the caller to the map path.
pub(super) fn check_fast(algorithms: &[Algorithm], segment: &str) -> Option<CheckedHeader> {
    let bytes = jws::b64_decode(segment).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let mut header = Header::default();
    json_view::walk_object(text, &mut header).ok()?;
    if header.crit || borrowed(&header.typ)? != "dpop+jwt" {
        return None;
    }
    let alg = Algorithm::from_name(borrowed(&header.alg)?)
        .filter(|a| matches!(a, Algorithm::ES256 | Algorithm::ES384))
        .filter(|a| algorithms.contains(a))?;
    let Jwk {
        kty,
        crv,
        x,
        y,
        regular: true,
    } = header.jwk?
    else {
        return None;
    };
    let [kty, crv, x, y] = [&kty, &crv, &x, &y].map(borrowed);
    let (kty, crv, x, y) = (kty?, crv?, x?, y?);
    if kty != "EC" {
        return None;
    }
    let key = VerifyingKey::from_ec_members(alg, crv, Ok(x), Ok(y)).ok()?;
    // RFC 7638: the required members in lexicographic order, no whitespace. The strings had
    // no escapes, so their text is what a JSON writer writes (a raw `"`, `\` or control
    // character cannot occur in a JSON string).
    let mut canonical = String::with_capacity(40 + crv.len() + x.len() + y.len());
    for (i, (name, value)) in [("crv", crv), ("kty", kty), ("x", x), ("y", y)]
        .into_iter()
        .enumerate()
    {
        canonical.push_str(if i == 0 { "{\"" } else { ",\"" });
        canonical.push_str(name);
        canonical.push_str("\":\"");
        canonical.push_str(value);
        canonical.push('"');
    }
    canonical.push('}');
    Some(CheckedHeader {
        jkt: sha256_base64url(canonical.as_bytes()),
        key,
    })
}

/// A string member without escapes, as it stands in the text.
fn borrowed<'a>(value: &'a Option<Lite<'_>>) -> Option<&'a str> {
    match value {
        Some(Lite::Str(Cow::Borrowed(s))) => Some(s),
        _ => None,
    }
}

/// The members the fast path reads.
#[derive(Default)]
struct Header<'de> {
    typ: Option<Lite<'de>>,
    alg: Option<Lite<'de>>,
    jwk: Option<Jwk<'de>>,
    crit: bool,
}

impl<'de> MemberSink<'de> for Header<'de> {
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error> {
        match name {
            "typ" => json_view::keep(&mut self.typ, map, 0),
            "alg" => json_view::keep(&mut self.alg, map, 1),
            "jwk" => json_view::keep(&mut self.jwk, map, 2),
            "crit" => {
                self.crit = true;
                map.next_value::<Validated>()?;
                Ok(Member::Known(3))
            }
            _ => json_view::skip(map),
        }
    }
}

/// A `jwk` object's `kty`, `crv` and `x` and `y`, and whether the fast path takes it
/// (`regular`: each of them at most once, no private member). Any other value than an object
/// ends the walk (the map path then reads the header).
struct Jwk<'de> {
    kty: Option<Lite<'de>>,
    crv: Option<Lite<'de>>,
    x: Option<Lite<'de>>,
    y: Option<Lite<'de>>,
    regular: bool,
}

impl<'de> Deserialize<'de> for Jwk<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Jwk<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWK object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Jwk<'de>, A::Error> {
                let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
                let mut regular = true;
                while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
                    let slot = match &*name {
                        "kty" => &mut kty,
                        "crv" => &mut crv,
                        "x" => &mut x,
                        "y" => &mut y,
                        other => {
                            regular &= !PRIVATE_MEMBERS.contains(&other);
                            map.next_value::<Validated>()?;
                            continue;
                        }
                    };
                    // A repeated member: the map keeps the last; the map path decides.
                    regular &= slot.is_none();
                    *slot = Some(map.next_value::<Lite<'de>>()?);
                }
                Ok(Jwk {
                    kty,
                    crv,
                    x,
                    y,
                    regular,
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        EcdsaSigningAlgorithm, KeyPair as _,
    };
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    use super::*;
    use crate::dpop::proof_header::check_header_for_tests as check_header;

    /// `(x, y)` of a new key, and the key pair.
    fn ec(signing: &'static EcdsaSigningAlgorithm, half: usize) -> (String, String, EcdsaKeyPair) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let x = B64.encode(&point[1..=half]);
        let y = B64.encode(&point[1 + half..]);
        (x, y, pair)
    }

    /// The fast path answers only where the map path succeeds, with the same thumbprint and a
    /// key that verifies the same signatures; it answers for the usual header. Checked over
    /// the combinations of many variants of each member (escapes, repeats, private members,
    /// other types, other algorithms and curves, `crit`).
    #[test]
    fn answers_only_as_the_map_path_does() {
        let (x, y, pair) = ec(&ECDSA_P256_SHA256_FIXED_SIGNING, 32);
        let (x3, y3, _) = ec(&ECDSA_P384_SHA384_FIXED_SIGNING, 48);
        let signature = pair.sign(&SystemRandom::new(), b"msg").unwrap();
        let escaped_x = x.replacen('A', "\\u0041", 1).replacen('B', "\\u0042", 1);
        let jwks = [
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#),
            format!(r#"{{"y":"{y}","x":"{x}","crv":"P-256","kty":"EC","kid":"k","use":"sig"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-384","x":"{x3}","y":"{y3}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{escaped_x}","y":"{y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{y}","x":"{x}","y":"{y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":"{x}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","oth":[1]}}"#),
            format!(r#"{{"kty":"RSA","crv":"P-256","x":"{x}","y":"{y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}A","y":"{y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{y}","y":"{x}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":1,"y":"{y}"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","nested":{{"a":[{{}}]}}}}"#),
            r#"{}"#.to_owned(),
            r#""a string""#.to_owned(),
            r#"[1,2]"#.to_owned(),
            "null".to_owned(),
        ];
        let typs = [
            r#""typ":"dpop+jwt","#,
            r#""typ":"dpop\u002bjwt","#,
            r#""typ":"JWT","#,
            r#""typ":7,"#,
            "",
        ];
        let algs = [
            r#""alg":"ES256","#,
            r#""alg":"ES384","#,
            r#""alg":"RS256","#,
            r#""alg":"E\u0053256","#,
            r#""alg":null,"#,
            "",
        ];
        // Other members, and texts the map decoding refuses (a number out of range, a lone
        // surrogate, a bad escape, deep nesting): the fast path must never accept those.
        let deep = format!(r#""deep":{}1{},"#, "[".repeat(200), "]".repeat(200));
        let extras = [
            "",
            r#""crit":["b64"],"#,
            r#""kid":"k","x5u":"u","#,
            r#""typ":"dpop+jwt","#,
            r#""n":1e999,"#,
            r#""s":"\ud800","#,
            r#""e":"\x","#,
            deep.as_str(),
        ];
        let allowed = [Algorithm::ES256, Algorithm::ES384, Algorithm::RS256];
        let (mut answered, mut cases) = (0, 0);
        for jwk in &jwks {
            for typ in typs {
                for alg in algs {
                    for extra in &extras {
                        let text = format!(r#"{{{typ}{alg}{extra}"jwk":{jwk}}}"#);
                        let segment = B64.encode(&text);
                        let oracle = jws::decode_object(&segment)
                            .ok()
                            .map(|h| check_header(&allowed, &h));
                        cases += 1;
                        let Some(fast) = check_fast(&allowed, &segment) else {
                            continue;
                        };
                        answered += 1;
                        let Some(Ok(expected)) = oracle else {
                            panic!("answered where the map path fails: {text}");
                        };
                        assert_eq!(fast.jkt, expected.jkt, "{text}");
                        let verifies = |k: &VerifyingKey| k.verify(b"msg", signature.as_ref());
                        assert_eq!(verifies(&fast.key), verifies(&expected.key), "{text}");
                        assert_eq!(fast.key.algorithm(), expected.key.algorithm(), "{text}");
                        if jwk == &jwks[0] && alg.contains("ES256") {
                            assert!(verifies(&fast.key), "{text}");
                        }
                    }
                }
            }
        }
        // The usual header, with or without other members (and the P-384 key with ES384).
        assert!(answered >= 6, "{answered} of {cases}");
        let usual = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#, jwks[0]);
        assert!(check_fast(&allowed, &B64.encode(usual)).is_some());
        assert!(
            check_fast(
                &[Algorithm::ES384],
                &B64.encode(format!(
                    r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#,
                    jwks[0]
                ))
            )
            .is_none(),
            "an algorithm not allowed"
        );
    }
}
