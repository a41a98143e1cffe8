//! Access-token checks (RFC 9068, RFC 8725), in auth0-api-python's order and with its texts,
//! plus the stricter checks it lacks (`nbf`, `crit`, finite times, size caps).
//!
//! The network-free part lives here: decoding, the unverified issuer, the signature against a
//! key already found, and the claims. [`crate::client`] strings them together with discovery and
//! the key set.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use serde::de::MapAccess;
use serde_json::Value;

use crate::claims::{ClaimsIndex, CnfIndex, Slot};
use crate::domains::normalize_domain_cow;
use crate::error::{Error, Result};
use crate::fetch::jwks::JwkEntry;
use crate::jose::json_view::{
    self, AudMatch, AudSeed, Lite, Member, MemberSink, Number, PickSeed, Picked, keep, keep_seed,
    skip,
};
use crate::jose::jws::{self, MAX_TOKEN_BYTES, Segments};
use crate::settings::Algorithm;

/// Bytes of a JOSE header decoded without allocation (Auth0's are under 150).
const HEADER_STACK_BYTES: usize = 512;

/// The decoded header and payload texts of a token; [`decode`] borrows its views from them.
pub(crate) struct Texts {
    header_buf: [MaybeUninit<u8>; HEADER_STACK_BYTES],
    /// A header too long for `header_buf`.
    header: String,
    payload: String,
}

impl Default for Texts {
    fn default() -> Self {
        Self {
            header_buf: [const { MaybeUninit::uninit() }; HEADER_STACK_BYTES],
            header: String::new(),
            payload: String::new(),
        }
    }
}

impl Texts {
    /// The payload text, taken out (for the claims, once the views are dropped).
    pub(crate) fn take_payload(&mut self) -> String {
        std::mem::take(&mut self.payload)
    }
}

/// The JOSE header members the checks read.
#[derive(Default)]
pub(crate) struct Header<'a> {
    alg: Option<Lite<'a>>,
    kid: Option<Lite<'a>>,
    /// Rare (and always refused), so kept whole for its error message.
    crit: Option<Value>,
}

impl<'de> MemberSink<'de> for Header<'de> {
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error> {
        match name {
            "alg" => keep(&mut self.alg, map, 0),
            "kid" => keep(&mut self.kid, map, 1),
            "crit" => keep(&mut self.crit, map, 2),
            _ => skip(map),
        }
    }
}

/// What the payload is checked against, known before it is read, so that `aud` and the
/// required claims are settled while reading it (nothing of them is kept).
#[derive(Clone, Copy)]
pub(crate) struct Expected<'e> {
    pub(crate) audiences: &'e [String],
    pub(crate) required: &'e [String],
}

/// The payload members the checks read (RFC 7519 registered claims); every other member is
/// validated but not built.
pub(crate) struct Payload<'a> {
    expected: Expected<'a>,
    iss: Option<Lite<'a>>,
    sub: Option<Lite<'a>>,
    azp: Option<Lite<'a>>,
    scope: Option<Lite<'a>>,
    aud: Option<AudMatch>,
    exp: Option<Number>,
    iat: Option<Number>,
    nbf: Option<Number>,
    cnf: Option<Picked<'a>>,
    /// Which of `expected.required` are present (empty, unallocated, when none is required).
    required_found: Vec<bool>,
}

impl<'a> Payload<'a> {
    fn new(expected: Expected<'a>) -> Self {
        Self {
            expected,
            iss: None,
            sub: None,
            azp: None,
            scope: None,
            aud: None,
            exp: None,
            iat: None,
            nbf: None,
            cnf: None,
            required_found: vec![false; expected.required.len()],
        }
    }
}

impl<'de> MemberSink<'de> for Payload<'de> {
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error> {
        for (found, claim) in self.required_found.iter_mut().zip(self.expected.required) {
            *found |= claim == name;
        }
        match name {
            "iss" => keep(&mut self.iss, map, 0),
            "sub" => keep(&mut self.sub, map, 1),
            "azp" => keep(&mut self.azp, map, 2),
            "scope" => keep(&mut self.scope, map, 3),
            "aud" => keep_seed(&mut self.aud, map, AudSeed(self.expected.audiences), 4),
            "exp" => keep(&mut self.exp, map, 5),
            "iat" => keep(&mut self.iat, map, 6),
            "nbf" => keep(&mut self.nbf, map, 7),
            "cnf" => keep_seed(&mut self.cnf, map, PickSeed("jkt"), 8),
            _ => skip(map),
        }
    }
}

/// How many distinct header texts a client remembers ([`KnownHeaders`]).
const KNOWN_HEADERS: usize = 8;

/// The headers of tokens that verified, by their exact base64url text: a tenant signs every token
/// with one of a few header texts (one per signing key), and what the checks read of a header
/// (`alg`, `kid`, no `crit`) is a function of that text, so a token whose header text is known
/// skips decoding it (about 1% of a fresh verification). Filled only after a successful
/// verification, so that no one can fill it with headers of their own; fixed-size, never evicted
/// (a process that sees more than eight signing keys decodes the others' headers as before).
/// Reads take no lock.
#[derive(Default)]
pub(crate) struct KnownHeaders {
    slots: [OnceLock<KnownHeader>; KNOWN_HEADERS],
}

struct KnownHeader {
    segment: Box<str>,
    alg: Box<str>,
    kid: Box<str>,
}

impl KnownHeader {
    fn view(&self) -> Header<'_> {
        Header {
            alg: Some(Lite::Str(Cow::Borrowed(&self.alg))),
            kid: Some(Lite::Str(Cow::Borrowed(&self.kid))),
            crit: None,
        }
    }
}

impl KnownHeaders {
    fn find(&self, segment: &str) -> Option<&KnownHeader> {
        self.slots
            .iter()
            .map_while(OnceLock::get)
            .find(|known| *known.segment == *segment)
    }

    /// Remembers the header of `decoded`, a token that just verified.
    pub(crate) fn remember(&self, decoded: &Decoded<'_>) {
        if decoded.header_known {
            return;
        }
        let header = &decoded.header;
        let (Some(Lite::Str(alg)), Some(Lite::Str(kid)), None) =
            (&header.alg, &header.kid, &header.crit)
        else {
            return;
        };
        let segment = decoded.segments.header;
        for slot in &self.slots {
            let known = slot.get_or_init(|| KnownHeader {
                segment: segment.into(),
                alg: alg.as_ref().into(),
                kid: kid.as_ref().into(),
            });
            if *known.segment == *segment {
                return;
            }
        }
    }
}

/// A token split and decoded, not yet verified.
pub(crate) struct Decoded<'a> {
    pub(crate) segments: Segments<'a>,
    pub(crate) header: Header<'a>,
    /// The header came from [`KnownHeaders`].
    header_known: bool,
    pub(crate) payload: Payload<'a>,
    payload_text: &'a str,
}

/// Splits and decodes the token into `texts`; refuses symmetric algorithms before anything else.
///
/// Only the members the checks need are kept (borrowed from `texts`); every other member is
/// validated as a `serde_json::Value` would be, so that [`Decoded::into_claims`] can build the
/// whole map later, when (and if) the caller reads it.
pub(crate) fn decode<'a>(
    token: &'a str,
    texts: &'a mut Texts,
    expected: Expected<'a>,
    known: Option<&'a KnownHeaders>,
) -> Result<Decoded<'a>> {
    let header_err =
        |e: jws::DecodeError| Error::invalid_token(format!("Failed to parse token header: {e}"));
    let payload_err =
        |e: jws::DecodeError| Error::invalid_token(format!("Failed to parse token payload: {e}"));
    let segments = jws::split(token, MAX_TOKEN_BYTES).map_err(header_err)?;
    let Texts {
        header_buf,
        header: header_heap,
        payload: payload_text,
    } = texts;
    let known_header = known.and_then(|k| k.find(segments.header));
    let header = match known_header {
        Some(seen) => seen.view(),
        None => {
            let header_text: &'a str = match jws::decode_text_into(segments.header, header_buf) {
                Ok(Some(text)) => text,
                Ok(None) => {
                    *header_heap = jws::decode_text(segments.header).map_err(header_err)?;
                    header_heap
                }
                Err(e) => return Err(header_err(e)),
            };
            let mut header = Header::default();
            json_view::walk_object(header_text, &mut header).map_err(header_err)?;
            header
        }
    };
    if let Some(alg) = header.alg.as_ref().and_then(Lite::as_str)
        && alg.starts_with("HS")
    {
        return Err(Error::invalid_token(format!(
            "Symmetric algorithm '{alg}' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed."
        )));
    }
    *payload_text = jws::decode_text(segments.payload).map_err(payload_err)?;
    let payload_text: &'a String = payload_text;
    let mut payload = Payload::new(expected);
    json_view::walk_object(payload_text, &mut payload).map_err(payload_err)?;
    Ok(Decoded {
        segments,
        header,
        header_known: known_header.is_some(),
        payload,
        payload_text,
    })
}

impl Decoded<'_> {
    /// Where the typed getters of [`Claims`] find their claims in the payload text (the
    /// claims are [`Claims::from_verified_text`] of that text and this index).
    pub(crate) fn claims_index(&self) -> ClaimsIndex {
        let text = self.payload_text;
        let p = &self.payload;
        ClaimsIndex {
            iss: ClaimsIndex::slot(text, p.iss.as_ref()),
            sub: ClaimsIndex::slot(text, p.sub.as_ref()),
            azp: ClaimsIndex::slot(text, p.azp.as_ref()),
            scope: ClaimsIndex::slot(text, p.scope.as_ref()),
            exp: p.exp.and_then(|n| n.0),
            iat: p.iat.and_then(|n| n.0),
            nbf: p.nbf.and_then(|n| n.0),
            has_cnf: p.cnf.is_some(),
            cnf: match &p.cnf {
                Some(cnf) => CnfIndex {
                    truthy: cnf.truthy,
                    object: cnf.object,
                    jkt: ClaimsIndex::slot(text, cnf.inner.as_ref()),
                    jkt_truthy: json_view::truthy(cnf.inner.as_ref()),
                },
                None => CnfIndex {
                    truthy: false,
                    object: false,
                    jkt: Slot::None,
                    jkt_truthy: false,
                },
            },
        }
    }
}

/// The token's `iss`, normalised to `https://host/`, before any network call (borrowed from the
/// payload when it already has that form, as Auth0's issuers do).
pub(crate) fn unverified_issuer<'p>(payload: &Payload<'p>) -> Result<Cow<'p, str>> {
    if !json_view::truthy(payload.iss.as_ref()) {
        return Err(Error::invalid_token("Token missing 'iss' claim"));
    }
    let invalid = |e| Error::invalid_token(format!("Invalid token issuer format: {e}"));
    match &payload.iss {
        Some(Lite::Str(Cow::Borrowed(text))) => normalize_domain_cow(text).map_err(invalid),
        other => {
            let text = other.as_ref().and_then(Lite::as_str).unwrap_or_default();
            normalize_domain_cow(text)
                .map(|n| Cow::Owned(n.into_owned()))
                .map_err(invalid)
        }
    }
}

/// The token's `iss` as it is written, when it is a string.
pub(crate) fn issuer_text<'p>(payload: &'p Payload<'_>) -> Option<&'p str> {
    payload.iss.as_ref().and_then(Lite::as_str)
}

/// The `kid` to look up (the reference requires a truthy one).
pub(crate) fn kid<'h>(header: &'h Header<'_>) -> Result<&'h str> {
    if !json_view::truthy(header.kid.as_ref()) {
        return Err(Error::invalid_token("Token header missing 'kid' claim"));
    }
    // A non-string kid never matches a JWKS member.
    Ok(header
        .kid
        .as_ref()
        .and_then(Lite::as_str)
        .unwrap_or("\u{0}non-string kid"))
}

fn sig_err(detail: impl std::fmt::Display) -> Error {
    Error::invalid_token(format!("Signature verification failed: {detail}"))
}

/// The signature check, with authlib's order and error names (`crit`, signature encoding,
/// algorithm, key, signature).
pub(crate) fn check_signature(
    decoded: &Decoded<'_>,
    key: &JwkEntry,
    allowed: &[Algorithm],
) -> Result<()> {
    if let Some(crit) = &decoded.header.crit {
        // RFC 7515 section 4.1.11: we understand no extension, so any `crit` is refused.
        let first = crit
            .as_array()
            .filter(|a| a.iter().all(Value::is_string))
            .map(|a| a.first().and_then(Value::as_str).unwrap_or_default());
        return Err(match first {
            Some(name) => sig_err(format!(
                "invalid_crit_header_parameter_name: Invalid Header Parameter Name: {name}"
            )),
            None => sig_err("invalid_header_parameter_name: Invalid Header Parameter Name: crit"),
        });
    }
    // An RSA-8192 signature (the largest key accepted) is 1 024 bytes: decoded on the stack.
    let padding = |_| sig_err("decode_error: Invalid signature padding");
    let mut stack = [const { MaybeUninit::uninit() }; 1024];
    let heap;
    let signature: &[u8] = match jws::b64_decode_into(decoded.segments.signature, &mut stack) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            heap = jws::b64_decode(decoded.segments.signature).map_err(padding)?;
            &heap
        }
        Err(e) => return Err(padding(e)),
    };
    let Some(alg_value) = &decoded.header.alg else {
        return Err(sig_err("missing_algorithm: "));
    };
    let alg = alg_value
        .as_str()
        .and_then(Algorithm::from_name)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| sig_err("unsupported_algorithm: "))?;
    let verifier = key
        .verifier(alg)
        .map_err(|e| sig_err(format!("invalid_key: {e}")))?;
    if verifier.verify(decoded.segments.signing_input.as_bytes(), signature) {
        Ok(())
    } else {
        Err(sig_err("bad_signature: "))
    }
}

/// What the claims must satisfy besides the [`Expected`] audiences and required claims.
pub(crate) struct ClaimRules<'a> {
    pub(crate) discovery_issuer: &'a str,
    pub(crate) leeway_secs: f64,
    pub(crate) now: f64,
}

fn time_claim(value: Option<Number>, name: &str) -> Result<Option<f64>> {
    match value {
        None => Ok(None),
        Some(Number(Some(t))) => Ok(Some(t)),
        Some(Number(None)) => Err(Error::invalid_token(format!(
            "Invalid '{name}' claim (must be a number)"
        ))),
    }
}

/// The claim checks after the signature: `iss`, `aud`, `exp`, `iat`, `nbf`, required claims.
pub(crate) fn check_claims(payload: &Payload<'_>, rules: &ClaimRules<'_>) -> Result<()> {
    if payload.iss.as_ref().and_then(Lite::as_str) != Some(rules.discovery_issuer) {
        return Err(Error::invalid_token(
            "Verified Token issuer does not match the discovery issuer",
        ));
    }
    match payload.aud {
        Some(AudMatch::Array(true) | AudMatch::Single(true)) => {}
        Some(AudMatch::Array(false)) => {
            return Err(Error::invalid_token(
                "Audience mismatch (not in token's aud array)",
            ));
        }
        Some(AudMatch::Single(false)) | None => {
            return Err(Error::invalid_token("Audience mismatch (single aud)"));
        }
    }
    match time_claim(payload.exp, "exp")? {
        Some(exp) if rules.now < exp + rules.leeway_secs => {}
        _ => return Err(Error::invalid_token("Token is expired")),
    }
    if time_claim(payload.iat, "iat")?.is_none() {
        return Err(Error::invalid_token("Missing 'iat' claim in token"));
    }
    if let Some(nbf) = time_claim(payload.nbf, "nbf")?
        && rules.now + rules.leeway_secs < nbf
    {
        return Err(Error::invalid_token("Token is not yet valid (nbf)"));
    }
    let required = payload.expected.required.iter();
    if let Some((claim, _)) = required
        .zip(&payload.required_found)
        .find(|(_, found)| !**found)
    {
        return Err(Error::invalid_token(format!(
            "Missing required claim: {claim}"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const NONE: Expected<'static> = Expected {
        audiences: &[],
        required: &[],
    };

    /// Runs `f` on the payload view of `v`'s JSON text.
    fn view<R>(v: &Value, expected: Expected<'_>, f: impl FnOnce(&Payload<'_>) -> R) -> R {
        let text = v.to_string();
        let mut p = Payload::new(expected);
        json_view::walk_object(&text, &mut p).unwrap();
        f(&p)
    }

    /// The claim checks of `v` with `leeway` seconds, for audience `aud` and required claims.
    fn check(v: &Value, aud: &[String], req: &[String], leeway: f64) -> Result<()> {
        let expected = Expected {
            audiences: aud,
            required: req,
        };
        let rules = ClaimRules {
            discovery_issuer: "https://t/",
            leeway_secs: leeway,
            now: 1000.0,
        };
        view(v, expected, |p| check_claims(p, &rules))
    }

    fn issuer(v: Value) -> Result<String> {
        view(&v, NONE, |p| unverified_issuer(p).map(Cow::into_owned))
    }

    #[test]
    fn claim_checks_in_reference_order() {
        let aud = vec!["api".to_owned()];
        let req = vec!["scope".to_owned()];
        let ok = json!({"iss":"https://t/","aud":"api","exp":2000,"iat":900,"scope":"x"});
        assert!(check(&ok, &aud, &req, 0.0).is_ok());
        let case = |patch: Value| {
            let mut v = ok.clone();
            for (k, val) in patch.as_object().unwrap() {
                if val.is_null() {
                    v.as_object_mut().unwrap().remove(k);
                } else {
                    v[k] = val.clone();
                }
            }
            check(&v, &aud, &req, 0.0)
                .unwrap_err()
                .description()
                .to_owned()
        };
        assert_eq!(
            case(json!({"iss":"https://T/"})),
            "Verified Token issuer does not match the discovery issuer"
        );
        assert_eq!(
            case(json!({"aud":"other"})),
            "Audience mismatch (single aud)"
        );
        assert_eq!(case(json!({"aud":null})), "Audience mismatch (single aud)");
        assert_eq!(
            case(json!({"aud":["a","b"]})),
            "Audience mismatch (not in token's aud array)"
        );
        assert_eq!(case(json!({"exp":null})), "Token is expired");
        assert_eq!(case(json!({"exp":1000})), "Token is expired");
        assert_eq!(
            case(json!({"exp":"2000"})),
            "Invalid 'exp' claim (must be a number)"
        );
        assert_eq!(case(json!({"iat":null})), "Missing 'iat' claim in token");
        assert_eq!(
            case(json!({"iat":"x"})),
            "Invalid 'iat' claim (must be a number)"
        );
        assert_eq!(case(json!({"nbf":1001})), "Token is not yet valid (nbf)");
        assert_eq!(case(json!({"scope":null})), "Missing required claim: scope");
        let mut array_ok = ok.clone();
        array_ok["aud"] = json!(["x", "api"]);
        assert!(check(&array_ok, &aud, &req, 0.0).is_ok());
    }

    #[test]
    fn leeway_widens_exp_and_nbf() {
        let aud = vec!["api".to_owned()];
        let p = json!({"iss":"https://t/","aud":"api","exp":995,"iat":900,"nbf":1005});
        assert!(check(&p, &aud, &[], 0.0).is_err());
        assert!(check(&p, &aud, &[], 10.0).is_ok());
    }

    #[test]
    fn decode_refuses_hs_and_reports_reference_texts() {
        let h = |v: Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let t = format!("{}.{}.sig", h(json!({"alg":"HS256"})), h(json!({})));
        assert_eq!(
            decode(&t, &mut Texts::default(), NONE, None)
                .err()
                .unwrap()
                .description(),
            "Symmetric algorithm 'HS256' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed."
        );
        assert_eq!(
            decode("invalid-token", &mut Texts::default(), NONE, None)
                .err()
                .unwrap()
                .description(),
            "Failed to parse token header: Invalid token format: expected 3 segments, got 1"
        );
        let t = format!("{}.{}.sig", h(json!({"alg":"RS256"})), "bm90IGpzb24");
        assert!(
            decode(&t, &mut Texts::default(), NONE, None)
                .err()
                .unwrap()
                .description()
                .starts_with("Failed to parse token payload: ")
        );
        assert!(issuer(json!({"iss":""})).is_err());
        assert_eq!(
            issuer(json!({"iss":123})).unwrap_err().description(),
            "Invalid token issuer format: domain must be a non-empty string"
        );
        assert_eq!(
            issuer(json!({"iss":"https://T.com"})).unwrap(),
            "https://t.com/"
        );
    }

    /// The claims of a verified token answer every getter as the full map does.
    #[test]
    fn verified_claims_match_the_full_map() {
        use crate::claims::Claims;
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let header = b64(&json!({"alg":"RS256","kid":"k"}).to_string());
        for payload in [
            json!({"iss":"https://t/","sub":"a\"b","azp":5,"scope":"x y","exp":1.5,"iat":2,
                   "nbf":true,"cnf":{"jkt":"k"},"aud":["a"],"permissions":["p"]}),
            json!({"sub":"plain","scope":"\u{e9} \u{fc}","iss":"https://T/","exp":"soon"}),
            json!({"sub":null,"scope":["a"],"iss":{"x":1},"azp":"\u{1F600}"}),
            json!({}),
            json!({"cnf":{"jkt":"a\"b"}}),
            json!({"cnf":{"jkt":""}}),
            json!({"cnf":{"jkt":5,"x":[]}}),
            json!({"cnf":{"x":1}}),
            json!({"cnf":{}}),
            json!({"cnf":"x"}),
            json!({"cnf":[]}),
            json!({"cnf":[0]}),
            json!({"cnf":0}),
            json!({"cnf":null}),
        ]
        .into_iter()
        .map(|p| p.to_string())
        .chain([r#"{"cnf":{"jkt":"a","jkt":"b"}}"#.to_owned()])
        {
            let token = format!("{header}.{}.sig", b64(&payload));
            let payload: Value = serde_json::from_str(&payload).unwrap();
            let mut texts = Texts::default();
            let decoded = decode(&token, &mut texts, NONE, None).unwrap();
            let index = decoded.claims_index();
            let lazy = Claims::from_verified_text(texts.take_payload(), index);
            let eager = Claims::from_object(payload.as_object().cloned().unwrap());
            assert_eq!(lazy.iss(), eager.iss(), "{payload}");
            assert_eq!(lazy.sub(), eager.sub(), "{payload}");
            assert_eq!(lazy.azp(), eager.azp(), "{payload}");
            assert_eq!(lazy.scope(), eager.scope(), "{payload}");
            assert_eq!(lazy.exp(), eager.exp(), "{payload}");
            assert_eq!(lazy.iat(), eager.iat(), "{payload}");
            assert_eq!(lazy.nbf(), eager.nbf(), "{payload}");
            assert_eq!(lazy.cnf(), eager.cnf(), "{payload}");
            assert_eq!(lazy.confirmation(), eager.confirmation(), "{payload}");
            assert_eq!(lazy.aud(), eager.aud(), "{payload}");
            assert!(lazy.permissions().eq(eager.permissions()), "{payload}");
            assert_eq!(lazy.as_object(), eager.as_object(), "{payload}");
            assert_eq!(lazy, eager);
            assert_eq!(
                serde_json::to_value(&lazy).unwrap(),
                serde_json::to_value(&eager).unwrap()
            );
            assert_eq!(lazy.clone().into_object(), *eager.as_object());
        }
    }

    /// A remembered header answers as decoding it does; only verified-shaped headers (string
    /// `alg` and `kid`, no `crit`) are kept, at most eight.
    #[test]
    fn known_headers_answer_as_decoding() {
        use base64::Engine as _;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let payload = b64(&json!({"iss":"https://t/"}));
        let token = |header: Value| format!("{}.{payload}.sig", b64(&header));
        let known = KnownHeaders::default();
        let plain = token(json!({"alg":"RS256","typ":"at+jwt","kid":"k1"}));
        let mut texts = Texts::default();
        let first = decode(&plain, &mut texts, NONE, Some(&known)).unwrap();
        assert!(!first.header_known);
        known.remember(&first);
        let (alg, kid) = (first.header.alg.clone(), first.header.kid.clone());
        let mut texts = Texts::default();
        let again = decode(&plain, &mut texts, NONE, Some(&known)).unwrap();
        assert!(again.header_known);
        assert_eq!(
            (again.header.alg.clone(), again.header.kid.clone()),
            (alg, kid)
        );
        assert!(again.header.crit.is_none());

        for odd in [
            json!({"alg":"RS256","kid":"k1","crit":["x"]}),
            json!({"alg":"RS256","kid":5}),
            json!({"alg":"RS256"}),
        ] {
            let text = token(odd);
            let mut texts = Texts::default();
            let decoded = decode(&text, &mut texts, NONE, Some(&known)).unwrap();
            known.remember(&decoded);
            assert!(known.find(decoded.segments.header).is_none());
        }
        for i in 0..20 {
            let text = token(json!({"alg":"RS256","kid":format!("k{i}")}));
            let mut texts = Texts::default();
            let decoded = decode(&text, &mut texts, NONE, Some(&known)).unwrap();
            known.remember(&decoded);
        }
        assert_eq!(
            known.slots.iter().filter(|s| s.get().is_some()).count(),
            KNOWN_HEADERS
        );
        assert!(known.find(plain.split('.').next().unwrap()).is_some());
    }
}
