//! [`ExtraValue`]: the value of an extra form parameter of a token exchange, from plain Rust
//! values or from `serde_json::Value`.
//!
//! Strings are sent as they are; integers (every width), floats (`f32`, `f64`) and booleans
//! as their JSON text (`42`, `1.5`, `true`); a list (a `Vec`, an array, a slice) as the key
//! repeated, once per value (at most
//! [`MAX_EXTRA_VALUES`](crate::exchange::MAX_EXTRA_VALUES), checked by the exchange); `null`
//! (alone or in a list) is left out. JSON objects, lists of lists or objects, and non-finite
//! floats have no form encoding: the exchange refuses them with a clear error before anything
//! is sent.
//!
//! ```
//! use auth0_api::exchange::{ExchangeProfileRequest, ExtraValue};
//! let request = ExchangeProfileRequest::new("subject", "urn:example:external-token")
//!     .extra("device_id", "dev123")
//!     .extra("max_age", 300)
//!     .extra("trusted", true)
//!     .extra("weights", vec![0.5, 1.5])
//!     .extra("from_json", serde_json::json!(["a", 2, null]));
//! assert_eq!(ExtraValue::from(300), ExtraValue::One("300".into()));
//! assert_eq!(
//!     ExtraValue::from(serde_json::json!(["a", 2, null])),
//!     ExtraValue::Many(vec!["a".into(), "2".into()])
//! );
//! # let _ = request;
//! ```

use serde_json::Value;

/// An extra form parameter: one value, several sent as the same key repeated, nothing (a JSON
/// `null`), or a value that has no form encoding (refused when the exchange is made).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtraValue {
    /// One value.
    One(String),
    /// Several values: the key repeated.
    Many(Vec<String>),
    /// Left out (a JSON `null`).
    Omitted,
    /// No form encoding; the reason, refused by the exchange.
    Unsupported(&'static str),
}

impl From<&str> for ExtraValue {
    fn from(value: &str) -> Self {
        Self::One(value.to_owned())
    }
}

impl From<String> for ExtraValue {
    fn from(value: String) -> Self {
        Self::One(value)
    }
}

impl From<Vec<String>> for ExtraValue {
    fn from(values: Vec<String>) -> Self {
        Self::Many(values)
    }
}

impl From<Vec<&str>> for ExtraValue {
    fn from(values: Vec<&str>) -> Self {
        Self::Many(values.into_iter().map(str::to_owned).collect())
    }
}

impl<const N: usize> From<[&str; N]> for ExtraValue {
    fn from(values: [&str; N]) -> Self {
        Self::Many(values.into_iter().map(str::to_owned).collect())
    }
}

impl From<&String> for ExtraValue {
    fn from(value: &String) -> Self {
        Self::One(value.clone())
    }
}

impl<const N: usize> From<[String; N]> for ExtraValue {
    fn from(values: [String; N]) -> Self {
        Self::Many(Vec::from(values))
    }
}

impl From<&[&str]> for ExtraValue {
    fn from(values: &[&str]) -> Self {
        Self::Many(values.iter().map(|v| (*v).to_owned()).collect())
    }
}

impl<const N: usize> From<&[&str; N]> for ExtraValue {
    fn from(values: &[&str; N]) -> Self {
        Self::from(&values[..])
    }
}

impl From<&[String]> for ExtraValue {
    fn from(values: &[String]) -> Self {
        Self::Many(values.to_vec())
    }
}

impl<const N: usize> From<&[String; N]> for ExtraValue {
    fn from(values: &[String; N]) -> Self {
        Self::from(&values[..])
    }
}

/// A scalar's JSON text, or why it has none.
trait FormText {
    fn form_text(&self) -> Result<String, &'static str>;
}

macro_rules! scalar_extra_values {
    ($($ty:ty => |$v:ident| $text:expr;)*) => {$(
        impl FormText for $ty {
            fn form_text(&self) -> Result<String, &'static str> {
                let $v = *self;
                $text
            }
        }

        impl From<$ty> for ExtraValue {
            fn from(value: $ty) -> Self {
                match value.form_text() {
                    Ok(text) => Self::One(text),
                    Err(why) => Self::Unsupported(why),
                }
            }
        }

        impl From<Vec<$ty>> for ExtraValue {
            fn from(values: Vec<$ty>) -> Self {
                Self::from(&values[..])
            }
        }

        impl<const N: usize> From<[$ty; N]> for ExtraValue {
            fn from(values: [$ty; N]) -> Self {
                Self::from(&values[..])
            }
        }

        impl From<&[$ty]> for ExtraValue {
            fn from(values: &[$ty]) -> Self {
                match values.iter().map(|v| v.form_text()).collect() {
                    Ok(texts) => Self::Many(texts),
                    Err(why) => Self::Unsupported(why),
                }
            }
        }

        impl<const N: usize> From<&[$ty; N]> for ExtraValue {
            fn from(values: &[$ty; N]) -> Self {
                Self::from(&values[..])
            }
        }
    )*};
}

const NOT_FINITE: &str = "must be a finite number";

scalar_extra_values! {
    bool => |v| Ok(v.to_string());
    i8 => |v| Ok(v.to_string());
    i16 => |v| Ok(v.to_string());
    i32 => |v| Ok(v.to_string());
    i64 => |v| Ok(v.to_string());
    i128 => |v| Ok(v.to_string());
    isize => |v| Ok(v.to_string());
    u8 => |v| Ok(v.to_string());
    u16 => |v| Ok(v.to_string());
    u32 => |v| Ok(v.to_string());
    u64 => |v| Ok(v.to_string());
    u128 => |v| Ok(v.to_string());
    usize => |v| Ok(v.to_string());
    // The shortest decimal that reads back as the same `f32` (`0.1`, not the widened
    // `0.10000000149011612`), written as an `f64` of that decimal is.
    f32 => |v| v.to_string().parse::<f64>().map_err(|_| NOT_FINITE)?.form_text();
    f64 => |v| serde_json::Number::from_f64(v)
        .map(|n| n.to_string())
        .ok_or(NOT_FINITE);
}

const NOT_SCALAR: &str = "must be a string, number, boolean or a list of them (objects and nested lists have no form encoding)";

/// A JSON scalar's form text (`None`: `null`).
fn json_scalar(value: &Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Array(_) | Value::Object(_) => Err(NOT_SCALAR),
    }
}

impl From<Value> for ExtraValue {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl From<&Value> for ExtraValue {
    fn from(value: &Value) -> Self {
        let outcome = match value {
            Value::Array(items) => items
                .iter()
                .filter_map(|item| json_scalar(item).transpose())
                .collect::<Result<Vec<_>, _>>()
                .map(Self::Many),
            scalar => json_scalar(scalar).map(|text| text.map_or(Self::Omitted, Self::One)),
        };
        outcome.unwrap_or_else(Self::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exchange_extra_values_from_rust_and_json() {
        let one = |s: &str| ExtraValue::One(s.to_owned());
        let many = |v: &[&str]| ExtraValue::Many(v.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(ExtraValue::from(42), one("42"));
        assert_eq!(ExtraValue::from(-7i64), one("-7"));
        assert_eq!(ExtraValue::from(u64::MAX), one("18446744073709551615"));
        assert_eq!(ExtraValue::from(1.5), one("1.5"));
        assert_eq!(ExtraValue::from(true), one("true"));
        assert_eq!(ExtraValue::from(vec![1, 2]), many(&["1", "2"]));
        assert_eq!(ExtraValue::from([false, true]), many(&["false", "true"]));
        assert_eq!(
            ExtraValue::from(f64::NAN),
            ExtraValue::Unsupported("must be a finite number")
        );
        assert_eq!(
            ExtraValue::from(vec![1.0, f64::INFINITY]),
            ExtraValue::Unsupported("must be a finite number")
        );
        assert_eq!(ExtraValue::from(json!("a")), one("a"));
        assert_eq!(ExtraValue::from(json!(3)), one("3"));
        assert_eq!(ExtraValue::from(json!(2.25)), one("2.25"));
        assert_eq!(ExtraValue::from(json!(false)), one("false"));
        assert_eq!(ExtraValue::from(json!(null)), ExtraValue::Omitted);
        assert_eq!(
            ExtraValue::from(json!(["a", 1, true, null])),
            many(&["a", "1", "true"])
        );
        assert_eq!(
            ExtraValue::from(json!({"a": 1})),
            ExtraValue::Unsupported(NOT_SCALAR)
        );
        assert_eq!(
            ExtraValue::from(json!([["a"]])),
            ExtraValue::Unsupported(NOT_SCALAR)
        );
        assert_eq!(
            ExtraValue::from(json!([{"a": 1}])),
            ExtraValue::Unsupported(NOT_SCALAR)
        );

        // Every integer width.
        assert_eq!(ExtraValue::from(7u8), one("7"));
        assert_eq!(ExtraValue::from(u16::MAX), one("65535"));
        assert_eq!(ExtraValue::from(i8::MIN), one("-128"));
        assert_eq!(ExtraValue::from(-300i16), one("-300"));
        assert_eq!(ExtraValue::from(u32::MAX), one("4294967295"));
        assert_eq!(ExtraValue::from(i32::MIN), one("-2147483648"));
        assert_eq!(ExtraValue::from(12usize), one("12"));
        assert_eq!(ExtraValue::from(-12isize), one("-12"));
        assert_eq!(
            ExtraValue::from(u128::MAX),
            one("340282366920938463463374607431768211455")
        );
        assert_eq!(ExtraValue::from(-1i128), one("-1"));
        // f32: its own shortest text, not the widened f64's.
        assert_eq!(ExtraValue::from(0.1f32), one("0.1"));
        assert_eq!(ExtraValue::from(-2.5f32), one("-2.5"));
        assert_eq!(ExtraValue::from(1e20f32), ExtraValue::from(1e20f64));
        assert_eq!(ExtraValue::from(3.4e38f32), ExtraValue::from(3.4e38f64));
        assert_eq!(ExtraValue::from(1e-7f32), ExtraValue::from(1e-7f64));
        assert_eq!(
            ExtraValue::from(f32::INFINITY),
            ExtraValue::Unsupported(NOT_FINITE)
        );
        assert_eq!(
            ExtraValue::from(vec![1.0f32, f32::NAN]),
            ExtraValue::Unsupported(NOT_FINITE)
        );
        // Slices and arrays, owned or borrowed, of every kind.
        assert_eq!(ExtraValue::from(&[1u8, 2][..]), many(&["1", "2"]));
        assert_eq!(ExtraValue::from(&[3usize, 4]), many(&["3", "4"]));
        assert_eq!(ExtraValue::from([0.5f32, 1.5]), many(&["0.5", "1.5"]));
        assert_eq!(ExtraValue::from(&[true][..]), many(&["true"]));
        assert_eq!(ExtraValue::from(&[0.25f64, 2.0]), many(&["0.25", "2.0"]));
        assert_eq!(ExtraValue::from(&["a", "b"][..]), many(&["a", "b"]));
        assert_eq!(ExtraValue::from(&["a", "b"]), many(&["a", "b"]));
        let owned = ["x".to_owned(), "y".to_owned()];
        assert_eq!(ExtraValue::from(&owned[..]), many(&["x", "y"]));
        assert_eq!(ExtraValue::from(&owned), many(&["x", "y"]));
        assert_eq!(ExtraValue::from(&owned[0]), one("x"));
        assert_eq!(ExtraValue::from(owned), many(&["x", "y"]));
        assert_eq!(
            ExtraValue::from(&[] as &[i64]),
            ExtraValue::Many(Vec::new())
        );
        assert_eq!(
            ExtraValue::from(&[1.0, f64::NAN][..]),
            ExtraValue::Unsupported(NOT_FINITE)
        );
    }
}
