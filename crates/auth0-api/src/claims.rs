//! Verified access-token claims: the registered ones typed, every other one through the map.
//!
//! ```
//! # fn show(claims: &auth0_api::Claims) -> Option<()> {
//! let user = claims.sub()?;
//! let scopes: Vec<&str> = claims.scopes().collect();
//! let tenant_plan: Option<String> = claims.get_as("https://example.com/plan");
//! # Some(()) }
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::jose::jws::JsonObject;

/// The `aud` claim: one audience or several (RFC 7519 section 4.1.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Audience<'a> {
    /// A single string.
    One(&'a str),
    /// An array (its string members).
    Many(&'a [Value]),
}

impl<'a> Audience<'a> {
    /// Whether `aud` equals or contains `expected`.
    pub fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(a) => *a == expected,
            Self::Many(list) => list.iter().any(|v| v.as_str() == Some(expected)),
        }
    }

    /// The audiences as strings.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (one, many): (Option<&'a str>, &'a [Value]) = match *self {
            Self::One(a) => (Some(a), &[]),
            Self::Many(l) => (None, l),
        };
        one.into_iter().chain(many.iter().filter_map(Value::as_str))
    }
}

/// Claims of a verified access token (or of a DPoP proof). Cheap to clone (shared).
///
/// A verified token keeps its payload's JSON text; the registered claims the typed getters return
/// (`iss`, `sub`, `azp`, `scope`, `exp`, `iat`, `nbf`) were located during verification and cost
/// nothing to read, and the full map behind [`get`](Self::get) and
/// [`as_object`](Self::as_object) is built on first use, once, and shared by every clone.
/// Verification validated every member as `serde_json::Value` accepts it, so building the map
/// cannot fail.
#[derive(Clone)]
pub struct Claims {
    inner: Arc<Inner>,
}

struct Inner {
    map: OnceLock<JsonObject>,
    /// The verified payload and what verification located in it; `None` when built from a map.
    text: Option<(String, Option<ClaimsIndex>)>,
}

/// Where a string claim is in the payload text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Absent, or not a string: the getter returns `None`.
    None,
    /// A string without escapes, at this byte range of the text.
    At(u32, u32),
    /// A string with escapes: read from the map.
    Map,
}

/// What verification located in a payload, for the typed getters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimsIndex {
    pub(crate) iss: Slot,
    pub(crate) sub: Slot,
    pub(crate) azp: Slot,
    pub(crate) scope: Slot,
    pub(crate) exp: Option<f64>,
    pub(crate) iat: Option<f64>,
    pub(crate) nbf: Option<f64>,
    pub(crate) has_cnf: bool,
    pub(crate) cnf: CnfIndex,
}

/// What verification located of `cnf`, for the DPoP binding checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CnfIndex {
    /// `cnf` is present and truthy.
    pub(crate) truthy: bool,
    /// `cnf` is an object.
    pub(crate) object: bool,
    /// Its `jkt`: a string's place, or `Slot::None` for absent or not a string.
    pub(crate) jkt: Slot,
    /// Its `jkt` is truthy.
    pub(crate) jkt_truthy: bool,
}

/// The `cnf` confirmation claim (RFC 7800) as the DPoP binding checks read it (RFC 9449 section
/// 6.1), with Python's truthiness, as the reference tests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirmation<'a> {
    /// `cnf` absent or falsy.
    None,
    /// `cnf` truthy but not an object.
    NotObject,
    /// `cnf` an object; its `jkt` when truthy.
    Object {
        /// The key the token is bound to.
        jkt: Option<BoundKey<'a>>,
    },
}

/// A truthy `cnf.jkt`: the thumbprint of the key a token is bound to, or a value that names no
/// key (and so matches none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoundKey<'a> {
    /// A string: the RFC 7638 thumbprint.
    Thumbprint(&'a str),
    /// A truthy value that is not a string.
    NotString,
}

impl BoundKey<'_> {
    /// Whether this is the thumbprint `jkt` (compared in constant time).
    pub(crate) fn is(&self, jkt: &str) -> bool {
        match self {
            Self::Thumbprint(expected) => aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                jkt.as_bytes(),
            )
            .is_ok(),
            Self::NotString => false,
        }
    }
}

impl ClaimsIndex {
    /// The slot of a string member read from `text` (borrowed from it unless it had escapes).
    pub(crate) fn slot(text: &str, value: Option<&crate::jose::json_view::Lite<'_>>) -> Slot {
        use crate::jose::json_view::Lite;
        use std::borrow::Cow;
        match value {
            Some(Lite::Str(Cow::Borrowed(s))) => {
                let start = (s.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
                let end = start.wrapping_add(s.len());
                // `s` lies in `text` exactly when this range of `text` starts where `s` does
                // (the length then matches by construction): a pointer test, not a byte compare.
                let inside = text
                    .get(start..end)
                    .is_some_and(|t| std::ptr::eq(t.as_ptr(), s.as_ptr()));
                match (u32::try_from(start), u32::try_from(end)) {
                    (Ok(a), Ok(b)) if inside => Slot::At(a, b),
                    _ => Slot::Map,
                }
            }
            Some(Lite::Str(Cow::Owned(_))) => Slot::Map,
            Some(Lite::Other(_)) | None => Slot::None,
        }
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("map", self.as_object())
            .finish()
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.as_object() == other.as_object()
    }
}

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_object().serialize(serializer)
    }
}

/// The map of a verified payload text (validated during verification, so this cannot fail; an
/// empty map is the answer should it ever).
fn parse_verified(text: &str) -> JsonObject {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "verified claims did not parse again");
        JsonObject::new()
    })
}

impl Claims {
    pub(crate) fn from_object(map: JsonObject) -> Self {
        Self {
            inner: Arc::new(Inner {
                map: OnceLock::from(map),
                text: None,
            }),
        }
    }

    /// Claims of a verified payload whose claims were not located (a DPoP proof's): every
    /// getter reads the map, built from `text` on first use.
    pub(crate) fn from_text(text: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                map: OnceLock::new(),
                text: Some((text, None)),
            }),
        }
    }

    /// Claims of a verified payload, `index` locating its registered claims in `text`.
    pub(crate) fn from_verified_text(text: String, index: ClaimsIndex) -> Self {
        Self {
            inner: Arc::new(Inner {
                map: OnceLock::new(),
                text: Some((text, Some(index))),
            }),
        }
    }

    fn index(&self) -> Option<(&str, &ClaimsIndex)> {
        match &self.inner.text {
            Some((text, Some(index))) => Some((text, index)),
            _ => None,
        }
    }

    /// Every claim, as JSON.
    pub fn as_object(&self) -> &JsonObject {
        self.inner.map.get_or_init(|| match &self.inner.text {
            Some((text, _)) => parse_verified(text),
            None => JsonObject::new(),
        })
    }

    /// Consumes the claims into their JSON map.
    pub fn into_object(self) -> JsonObject {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => match (inner.map.into_inner(), inner.text) {
                (Some(map), _) => map,
                (None, Some((text, _))) => parse_verified(&text),
                (None, None) => JsonObject::new(),
            },
            Err(shared) => Self { inner: shared }.as_object().clone(),
        }
    }

    /// One claim as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_object().get(name)
    }

    /// One claim converted to `T` (`None` when absent or of another shape).
    pub fn get_as<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.get(name).and_then(|v| T::deserialize(v).ok())
    }

    fn str_claim(&self, name: &str, slot: impl Fn(&ClaimsIndex) -> Slot) -> Option<&str> {
        match self.index() {
            Some((text, index)) => match slot(index) {
                Slot::None => None,
                Slot::At(start, end) => text.get(start as usize..end as usize),
                Slot::Map => self.get(name).and_then(Value::as_str),
            },
            None => self.get(name).and_then(Value::as_str),
        }
    }

    /// `iss`.
    pub fn iss(&self) -> Option<&str> {
        self.str_claim("iss", |i| i.iss)
    }

    /// `sub`.
    pub fn sub(&self) -> Option<&str> {
        self.str_claim("sub", |i| i.sub)
    }

    /// `azp` (Auth0: the client the token was issued to).
    pub fn azp(&self) -> Option<&str> {
        self.str_claim("azp", |i| i.azp)
    }

    /// `scope`, the raw space-separated string.
    pub fn scope(&self) -> Option<&str> {
        self.str_claim("scope", |i| i.scope)
    }

    /// The scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope().unwrap_or_default().split_ascii_whitespace()
    }

    /// Auth0 RBAC `permissions` (string members of the array).
    pub fn permissions(&self) -> impl Iterator<Item = &str> {
        self.get("permissions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
    }

    /// `aud`, when it is a string or an array.
    pub fn aud(&self) -> Option<Audience<'_>> {
        match self.get("aud")? {
            Value::String(s) => Some(Audience::One(s)),
            Value::Array(a) => Some(Audience::Many(a)),
            _ => None,
        }
    }

    fn time_claim(&self, name: &str, indexed: impl Fn(&ClaimsIndex) -> Option<f64>) -> Option<f64> {
        match self.index() {
            Some((_, index)) => indexed(index),
            None => self
                .get(name)
                .and_then(Value::as_f64)
                .filter(|t| t.is_finite()),
        }
    }

    /// `exp` in seconds since the epoch.
    pub fn exp(&self) -> Option<f64> {
        self.time_claim("exp", |i| i.exp)
    }

    /// `nbf` in seconds since the epoch.
    pub fn nbf(&self) -> Option<f64> {
        self.time_claim("nbf", |i| i.nbf)
    }

    /// `iat` in seconds since the epoch.
    pub fn iat(&self) -> Option<f64> {
        self.time_claim("iat", |i| i.iat)
    }

    /// `cnf` (RFC 7800), when it is an object.
    pub fn cnf(&self) -> Option<&JsonObject> {
        if self.index().is_some_and(|(_, i)| !i.has_cnf) {
            return None;
        }
        self.get("cnf").and_then(Value::as_object)
    }

    /// `cnf` for the DPoP binding checks, without building the claims map for a verified token.
    pub(crate) fn confirmation(&self) -> Confirmation<'_> {
        if let Some((text, index)) = self.index() {
            let cnf = index.cnf;
            if !index.has_cnf || !cnf.truthy {
                return Confirmation::None;
            }
            if !cnf.object {
                return Confirmation::NotObject;
            }
            match cnf.jkt {
                _ if !cnf.jkt_truthy => return Confirmation::Object { jkt: None },
                Slot::At(start, end) => {
                    return Confirmation::Object {
                        jkt: text
                            .get(start as usize..end as usize)
                            .map(BoundKey::Thumbprint),
                    };
                }
                Slot::None => {
                    return Confirmation::Object {
                        jkt: Some(BoundKey::NotString),
                    };
                }
                // An escaped `jkt`: read from the map.
                Slot::Map => {}
            }
        }
        let cnf = self.get("cnf");
        if !crate::jose::json_view::value_truthy(cnf) {
            return Confirmation::None;
        }
        let Some(cnf) = cnf.and_then(Value::as_object) else {
            return Confirmation::NotObject;
        };
        let jkt = cnf.get("jkt");
        Confirmation::Object {
            jkt: crate::jose::json_view::value_truthy(jkt).then(|| {
                jkt.and_then(Value::as_str)
                    .map_or(BoundKey::NotString, BoundKey::Thumbprint)
            }),
        }
    }

    /// `cnf.jkt` (RFC 9449 section 6.1): the thumbprint of the key the token is bound to.
    pub fn cnf_jkt(&self) -> Option<&str> {
        self.cnf()?.get("jkt").and_then(Value::as_str)
    }

    /// `org_id` (Auth0 Organizations): the organization the token was issued for, when it is a
    /// string; see [`crate::organization`] to require one.
    pub fn org_id(&self) -> Option<&str> {
        self.get("org_id").and_then(Value::as_str)
    }

    /// `org_name` (Auth0 Organizations, when the tenant includes it): the organization's name,
    /// lower case, when it is a string.
    pub fn org_name(&self) -> Option<&str> {
        self.get("org_name").and_then(Value::as_str)
    }

    /// `act` (RFC 8693 section 4.1), raw; see [`crate::act`] for the checked helpers.
    pub fn act(&self) -> Option<&Value> {
        self.get("act")
    }

    /// `acr`, the authentication context class the user authenticated with (OpenID Connect
    /// Core section 2; RFC 9470 section 4), when it is a string.
    pub fn acr(&self) -> Option<&str> {
        self.get("acr").and_then(Value::as_str)
    }

    /// `auth_time`, when the user authenticated, in seconds since the epoch (RFC 9470 section
    /// 4), when it is a finite number.
    pub fn auth_time(&self) -> Option<f64> {
        self.get("auth_time")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn step_up_getters() {
        let c = Claims::from_object(
            json!({"acr":"http://schemas.openid.net/pape/policies/2007/06/multi-factor","auth_time":1700000000})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(
            c.acr(),
            Some("http://schemas.openid.net/pape/policies/2007/06/multi-factor")
        );
        assert_eq!(c.auth_time(), Some(1_700_000_000.0));
        let wrong_types = Claims::from_object(
            json!({"acr":["x"],"auth_time":"1700000000"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(wrong_types.acr(), None);
        assert_eq!(wrong_types.auth_time(), None);
    }

    #[test]
    fn typed_getters() {
        let c = Claims::from_object(
            json!({"iss":"https://t/","sub":"u","aud":["a","b"],"exp":10,"iat":1.5,"scope":"read write",
                   "permissions":["p1", 3],"cnf":{"jkt":"x"},"custom":{"k":1}})
            .as_object()
            .cloned()
            .unwrap(),
        );
        assert_eq!(c.sub(), Some("u"));
        assert!(c.aud().unwrap().contains("b"));
        assert!(!c.aud().unwrap().contains("c"));
        assert_eq!(c.aud().unwrap().iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.exp(), Some(10.0));
        assert_eq!(c.iat(), Some(1.5));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["read", "write"]);
        assert_eq!(c.permissions().collect::<Vec<_>>(), ["p1"]);
        assert_eq!(c.cnf_jkt(), Some("x"));
        assert_eq!(
            c.get_as::<std::collections::HashMap<String, i32>>("custom")
                .unwrap()["k"],
            1
        );
        assert_eq!(serde_json::to_value(&c).unwrap()["sub"], "u");
    }
}
