//! Decoding an access token: the split, the header checks ([`check_header`]), and one
//! validating pass over the payload that keeps what the claim checks read.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use serde::de::MapAccess;
use serde_json::Value;

use crate::claims::{ClaimsIndex, CnfIndex, Slot};
use crate::error::{Result, TokenError, TokenPart};
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

/// The JOSE header members the checks read, as written.
#[derive(Default)]
struct Header<'a> {
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

/// The header's `alg`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderAlg {
    /// No `alg` member.
    Missing,
    /// An algorithm this library knows (allowed or not: that is the signature check's call).
    Known(Algorithm),
    /// Anything else (another name, or not a string).
    Unknown,
}

/// The header's `kid`, resolved (the reference requires a truthy one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kid<'a> {
    /// Absent or falsy.
    Missing,
    /// Truthy but not a string: it matches no key.
    NotString,
    /// The key id to look up.
    Named(Cow<'a, str>),
}

/// What the header checks concluded, read by the later checks in their turn: a header that
/// decodes and names no symmetric algorithm, with its `alg`, `kid` and the refusal its `crit`
/// member earns (reported where authlib reports it, at the signature check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedHeader<'a> {
    pub(crate) alg: HeaderAlg,
    pub(crate) kid: Kid<'a>,
    pub(crate) crit: Option<TokenError>,
}

fn malformed(part: TokenPart) -> impl Fn(jws::DecodeError) -> TokenError {
    move |e| TokenError::Malformed {
        part,
        detail: e.to_string(),
    }
}

/// The header checks on the decoded header text: valid JSON with unique names, no `HS*`
/// algorithm (refused before anything else); `alg`, `kid` and `crit` resolved for the checks
/// that read them later.
pub(crate) fn check_header(text: &str) -> Result<CheckedHeader<'_>, TokenError> {
    let mut header = Header::default();
    json_view::walk_object(text, &mut header).map_err(malformed(TokenPart::Header))?;
    let alg = match &header.alg {
        None => HeaderAlg::Missing,
        Some(alg) => match alg.as_str() {
            Some(name) if name.starts_with("HS") => {
                return Err(TokenError::SymmetricAlgorithm(name.to_owned()));
            }
            Some(name) => Algorithm::from_name(name).map_or(HeaderAlg::Unknown, HeaderAlg::Known),
            None => HeaderAlg::Unknown,
        },
    };
    let kid = match header.kid {
        Some(Lite::Str(kid)) if !kid.is_empty() => Kid::Named(kid),
        kid if json_view::truthy(kid.as_ref()) => Kid::NotString,
        _ => Kid::Missing,
    };
    // RFC 7515 section 4.1.11: we understand no extension, so any `crit` is refused.
    let crit =
        header.crit.map(
            |crit| match crit.as_array().filter(|a| a.iter().all(Value::is_string)) {
                Some(names) => TokenError::CriticalHeader(
                    names
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
                None => TokenError::InvalidCriticalHeader,
            },
        );
    Ok(CheckedHeader { alg, kid, crit })
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
    pub(super) expected: Expected<'a>,
    pub(super) iss: Option<Lite<'a>>,
    pub(super) sub: Option<Lite<'a>>,
    pub(super) azp: Option<Lite<'a>>,
    pub(super) scope: Option<Lite<'a>>,
    pub(super) aud: Option<AudMatch>,
    pub(super) exp: Option<Number>,
    pub(super) iat: Option<Number>,
    pub(super) nbf: Option<Number>,
    pub(super) cnf: Option<Picked<'a>>,
    /// Which of `expected.required` are present (empty, unallocated, when none is required).
    pub(super) required_found: Vec<bool>,
}

impl<'a> Payload<'a> {
    pub(super) fn new(expected: Expected<'a>) -> Self {
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
            "cnf" => keep_seed(
                &mut self.cnf,
                map,
                PickSeed("jkt", crate::mtls::X5T_S256),
                8,
            ),
            _ => skip(map),
        }
    }
}

/// A token split and decoded, not yet verified.
pub(crate) struct Decoded<'a> {
    pub(crate) segments: Segments<'a>,
    pub(crate) header: CheckedHeader<'a>,
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
) -> Result<Decoded<'a>> {
    let segments = jws::split(token, MAX_TOKEN_BYTES).map_err(malformed(TokenPart::Header))?;
    let Texts {
        header_buf,
        header: header_heap,
        payload: payload_text,
    } = texts;
    let header_text: &'a str = match jws::decode_text_into(segments.header, header_buf) {
        Ok(Some(text)) => text,
        Ok(None) => {
            *header_heap =
                jws::decode_text(segments.header).map_err(malformed(TokenPart::Header))?;
            header_heap
        }
        Err(e) => Err(malformed(TokenPart::Header)(e))?,
    };
    let header = check_header(header_text)?;
    let payload_err = malformed(TokenPart::Payload);
    *payload_text = jws::decode_text(segments.payload).map_err(&payload_err)?;
    let payload_text: &'a String = payload_text;
    let mut payload = Payload::new(expected);
    json_view::walk_object(payload_text, &mut payload).map_err(payload_err)?;
    Ok(Decoded {
        segments,
        header,
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
                    x5t: cnf.has_other,
                },
                None => CnfIndex {
                    truthy: false,
                    object: false,
                    jkt: Slot::None,
                    jkt_truthy: false,
                    x5t: false,
                },
            },
        }
    }
}
