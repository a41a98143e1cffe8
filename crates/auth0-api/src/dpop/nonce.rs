//! Server-provided DPoP nonces (RFC 9449 sections 8 and 9), stateless and time-bounded.
//!
//! A nonce lets the server bound the lifetime of proofs by its own clock rather than by the
//! client's `iat`. When nonces are configured, a proof without a `nonce` claim, or with one this
//! server did not issue recently, is refused with `401 use_dpop_nonce` and a fresh nonce in the
//! `DPoP-Nonce` response header; every accepted proof also yields the next nonce.
//!
//! Nonces carry their own proof of origin, so no state is shared or stored:
//!
//! ```text
//! nonce     = base64url( issued_at (u64 big-endian, unix seconds) || tag )
//! tag       = HMAC-SHA256(epoch_key, issued_at)[..16]
//! epoch_key = HMAC-SHA256(secret, "dpop-nonce" || epoch (u64 big-endian))
//! epoch     = issued_at / lifetime
//! ```
//!
//! The per-epoch key changes every `lifetime`; since a nonce is accepted only while it is at most
//! `lifetime` old (and at most 5 s ahead of this server's clock, for skew between servers), only
//! the current and the previous epoch's keys ever validate. Servers behind one load balancer
//! share nonces by sharing the secret ([`NonceConfig::with_secret`]).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use auth0_api::dpop::nonce::NonceConfig;
//!
//! let config = NonceConfig::new()?.lifetime(Duration::from_secs(120));
//! let now = SystemTime::now();
//! let nonce = config.issue(now);
//! assert!(config.validate(&nonce, now + Duration::from_secs(60)));
//! assert!(!config.validate(&nonce, now + Duration::from_secs(121)));
//! # Ok::<(), auth0_api::Error>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// Shortest accepted shared secret (bytes).
pub const MIN_SECRET_BYTES: usize = 32;
/// Default nonce lifetime.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// How far in the future a nonce's issue time may be (clock skew between servers).
const FUTURE_SKEW_SECS: u64 = 5;
const TAG_BYTES: usize = 16;
const NONCE_BYTES: usize = 8 + TAG_BYTES;
const LABEL: &[u8] = b"dpop-nonce";

/// How the server issues and checks DPoP nonces. Cheap to clone.
#[derive(Clone)]
pub struct NonceConfig {
    master: hmac::Key,
    lifetime_secs: u64,
}

impl fmt::Debug for NonceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceConfig")
            .field("secret", &"[redacted]")
            .field("lifetime", &Duration::from_secs(self.lifetime_secs))
            .finish()
    }
}

impl NonceConfig {
    /// A configuration with a fresh random 32-byte secret: nonces are valid on this process only.
    ///
    /// # Errors
    /// `invalid_configuration` if the system random generator fails.
    pub fn new() -> Result<Self> {
        let mut secret = [0u8; MIN_SECRET_BYTES];
        aws_lc_rs::rand::fill(&mut secret)
            .map_err(|_| Error::configuration("Could not generate a DPoP nonce secret"))?;
        Ok(Self::from_secret(&secret))
    }

    /// A configuration with a secret shared by every server that must accept the same nonces.
    ///
    /// # Errors
    /// `invalid_configuration` if the secret is shorter than [`MIN_SECRET_BYTES`].
    pub fn with_secret(secret: &[u8]) -> Result<Self> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(Error::configuration(format!(
                "DPoP nonce secret must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(Self::from_secret(secret))
    }

    fn from_secret(secret: &[u8]) -> Self {
        Self {
            master: hmac::Key::new(hmac::HMAC_SHA256, secret),
            lifetime_secs: DEFAULT_LIFETIME.as_secs(),
        }
    }

    /// How long a nonce stays valid (default 5 minutes; whole seconds, at least 1 s). This is
    /// also how often the signing key rotates.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime_secs = lifetime.as_secs().max(1);
        self
    }

    /// A new nonce issued at `now`.
    pub fn issue(&self, now: SystemTime) -> String {
        let issued_at = unix_secs(now);
        let mut raw = [0u8; NONCE_BYTES];
        let (time, tag) = raw.split_at_mut(8);
        time.copy_from_slice(&issued_at.to_be_bytes());
        tag.copy_from_slice(&self.tag(issued_at));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` was issued with this secret and is still valid at `now`: issued at most
    /// the lifetime ago and at most 5 s in the future. The tag is compared in constant time.
    pub fn validate(&self, nonce: &str, now: SystemTime) -> bool {
        if nonce.len() != (NONCE_BYTES * 4).div_ceil(3) {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some((time, tag)) = raw.split_first_chunk::<8>() else {
            return false;
        };
        if tag.len() != TAG_BYTES {
            return false;
        }
        let issued_at = u64::from_be_bytes(*time);
        let now = unix_secs(now);
        if issued_at > now.saturating_add(FUTURE_SKEW_SECS)
            || now.saturating_sub(issued_at) > self.lifetime_secs
        {
            return false;
        }
        constant_time::verify_slices_are_equal(self.tag(issued_at).as_slice(), tag).is_ok()
    }

    fn tag(&self, issued_at: u64) -> [u8; TAG_BYTES] {
        let epoch = issued_at / self.lifetime_secs;
        let mut ctx = hmac::Context::with_key(&self.master);
        ctx.update(LABEL);
        ctx.update(&epoch.to_be_bytes());
        let epoch_key = hmac::Key::new(hmac::HMAC_SHA256, ctx.sign().as_ref());
        let full = hmac::sign(&epoch_key, &issued_at.to_be_bytes());
        let mut tag = [0u8; TAG_BYTES];
        for (out, byte) in tag.iter_mut().zip(full.as_ref()) {
            *out = *byte;
        }
        tag
    }
}

/// Whole seconds since the Unix epoch (0 for a clock set before it).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn config() -> NonceConfig {
        NonceConfig::with_secret(&[0x11; 32]).unwrap()
    }

    const T: u64 = 1_700_000_000;

    #[test]
    fn fresh_nonce_is_accepted_until_its_lifetime_ends() {
        let c = config();
        let nonce = c.issue(at(T));
        assert_eq!(nonce.len(), 32);
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(c.validate(&nonce, at(T)));
        assert!(c.validate(&nonce, at(T + 300)));
        assert!(!c.validate(&nonce, at(T + 301)), "stale");
        // Slightly ahead of this server's clock (another server issued it): tolerated up to 5 s.
        assert!(c.validate(&nonce, at(T - 5)));
        assert!(!c.validate(&nonce, at(T - 6)));
    }

    #[test]
    fn tampered_nonces_are_refused() {
        let c = config();
        let nonce = c.issue(at(T));
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 0x01;
            assert!(
                !c.validate(&URL_SAFE_NO_PAD.encode(&raw), at(T + 1)),
                "byte {i}"
            );
            raw[i] ^= 0x01;
        }
        // Moving the issue time (to extend the lifetime) breaks the tag.
        raw[..8].copy_from_slice(&(T + 200).to_be_bytes());
        assert!(!c.validate(&URL_SAFE_NO_PAD.encode(&raw), at(T + 250)));
        for junk in [
            "",
            "abc",
            "not a nonce at all!!",
            &nonce[..31],
            format!("{nonce}A").as_str(),
            format!("{nonce}=").as_str(),
        ] {
            assert!(!c.validate(junk, at(T)), "{junk:?}");
        }
    }

    #[test]
    fn another_secret_refuses() {
        let nonce = config().issue(at(T));
        let other = NonceConfig::with_secret(&[0x22; 32]).unwrap();
        assert!(!other.validate(&nonce, at(T)));
        assert!(!NonceConfig::new().unwrap().validate(&nonce, at(T)));
    }

    #[test]
    fn fleet_members_sharing_a_secret_agree() {
        let a = NonceConfig::with_secret(&[7; 48]).unwrap();
        let b = NonceConfig::with_secret(&[7; 48]).unwrap();
        assert!(b.validate(&a.issue(at(T)), at(T + 10)));
    }

    #[test]
    fn keys_rotate_each_lifetime_and_previous_epoch_still_validates() {
        let c = config().lifetime(Duration::from_secs(100));
        // Issued at the very end of one epoch, checked early in the next.
        let issued = 1_700_000_099;
        assert_eq!(issued / 100 + 1, (issued + 1) / 100);
        let old = c.issue(at(issued));
        assert!(c.validate(&old, at(issued + 1)));
        assert!(c.validate(&old, at(issued + 100)));
        assert!(!c.validate(&old, at(issued + 101)));
        // The tag depends on the epoch key: the same instant under a different lifetime (hence a
        // different epoch numbering) does not verify.
        let other_epochs = config().lifetime(Duration::from_secs(7));
        assert!(!other_epochs.validate(&old, at(issued + 1)));
        // Two nonces from different epochs differ in tag, not just in time.
        let newer = c.issue(at(issued + 1));
        assert_ne!(
            URL_SAFE_NO_PAD.decode(&old).unwrap()[8..],
            URL_SAFE_NO_PAD.decode(&newer).unwrap()[8..]
        );
    }

    #[test]
    fn configuration_errors_and_redacted_debug() {
        let err = NonceConfig::with_secret(&[1; 31]).unwrap_err();
        assert_eq!(err.error_code(), "invalid_configuration");
        assert_eq!(
            err.description(),
            "DPoP nonce secret must be at least 32 bytes"
        );
        let c = NonceConfig::with_secret(b"super-secret-value-0123456789abcdef").unwrap();
        let dbg = format!("{c:?}");
        assert!(
            dbg.contains("[redacted]") && !dbg.contains("super-secret"),
            "{dbg}"
        );
        assert_eq!(config().lifetime(Duration::ZERO).lifetime_secs, 1);
        assert_eq!(config().lifetime_secs, 300);
    }
}
