//! Verified access-token claims: the registered ones typed, every other one through the map.
//!
//! ```
//! # fn show(claims: &auth0_api::Claims) -> Option<()> {
//! let user = claims.sub()?;
//! let scopes: Vec<&str> = claims.scopes().collect();
//! let tenant_plan: Option<String> = claims.get_as("https://example.com/plan");
//! # Some(()) }
//! ```

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::jws::JsonObject;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    map: Arc<JsonObject>,
}

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(serializer)
    }
}

impl Claims {
    pub(crate) fn from_object(map: JsonObject) -> Self {
        Self { map: Arc::new(map) }
    }

    /// Every claim, as JSON.
    pub fn as_object(&self) -> &JsonObject {
        &self.map
    }

    /// Consumes the claims into their JSON map.
    pub fn into_object(self) -> JsonObject {
        Arc::try_unwrap(self.map).unwrap_or_else(|shared| (*shared).clone())
    }

    /// One claim as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// One claim converted to `T` (`None` when absent or of another shape).
    pub fn get_as<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.map.get(name).and_then(|v| T::deserialize(v).ok())
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }

    /// `iss`.
    pub fn iss(&self) -> Option<&str> {
        self.str_claim("iss")
    }

    /// `sub`.
    pub fn sub(&self) -> Option<&str> {
        self.str_claim("sub")
    }

    /// `azp` (Auth0: the client the token was issued to).
    pub fn azp(&self) -> Option<&str> {
        self.str_claim("azp")
    }

    /// `scope`, the raw space-separated string.
    pub fn scope(&self) -> Option<&str> {
        self.str_claim("scope")
    }

    /// The scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope().unwrap_or_default().split_ascii_whitespace()
    }

    /// Auth0 RBAC `permissions` (string members of the array).
    pub fn permissions(&self) -> impl Iterator<Item = &str> {
        self.map
            .get("permissions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
    }

    /// `aud`, when it is a string or an array.
    pub fn aud(&self) -> Option<Audience<'_>> {
        match self.map.get("aud")? {
            Value::String(s) => Some(Audience::One(s)),
            Value::Array(a) => Some(Audience::Many(a)),
            _ => None,
        }
    }

    fn time_claim(&self, name: &str) -> Option<f64> {
        self.map
            .get(name)
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite())
    }

    /// `exp` in seconds since the epoch.
    pub fn exp(&self) -> Option<f64> {
        self.time_claim("exp")
    }

    /// `nbf` in seconds since the epoch.
    pub fn nbf(&self) -> Option<f64> {
        self.time_claim("nbf")
    }

    /// `iat` in seconds since the epoch.
    pub fn iat(&self) -> Option<f64> {
        self.time_claim("iat")
    }

    /// `cnf` (RFC 7800), when it is an object.
    pub fn cnf(&self) -> Option<&JsonObject> {
        self.map.get("cnf").and_then(Value::as_object)
    }

    /// `cnf.jkt` (RFC 9449 section 6.1): the thumbprint of the key the token is bound to.
    pub fn cnf_jkt(&self) -> Option<&str> {
        self.cnf()?.get("jkt").and_then(Value::as_str)
    }

    /// `act` (RFC 8693 section 4.1), raw; see [`crate::act`] for the checked helpers.
    pub fn act(&self) -> Option<&Value> {
        self.map.get("act")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

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
