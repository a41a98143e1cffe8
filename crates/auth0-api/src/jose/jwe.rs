//! Compact JWE (RFC 7516) decryption, for Auth0's encrypted access tokens: a nested JWT whose
//! content-encryption key is wrapped with `RSA-OAEP-256` and whose content is encrypted with
//! `A256GCM` (RFC 7518 sections 4.3 and 5.3). Nothing else is accepted.
//!
//! Every failure is the same [`Undecryptable`], whatever went wrong (another algorithm, a `zip`
//! or `crit` member, a bad segment, a wrong key, a tampered key, IV, ciphertext, tag or header),
//! so that answers tell an attacker nothing; the key unwrapping never returns early: an OAEP
//! failure goes on with a random key into the AES-GCM step, which then fails as a forged tag
//! would (RFC 7516 section 11.5), so OAEP and GCM failures take the same path.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;

use super::jws::{self, MAX_TOKEN_BYTES};

/// The only key-management algorithm accepted (`alg`).
pub const ALG: &str = "RSA-OAEP-256";
/// The only content-encryption algorithm accepted (`enc`).
pub const ENC: &str = "A256GCM";
/// The largest protected header read (Auth0's are under 100 bytes).
pub const MAX_HEADER_BYTES: usize = 1024;
/// AES-256 key length.
const CEK_LEN: usize = 32;
/// AES-GCM tag length (RFC 7518 section 5.3: 128 bits).
const TAG_LEN: usize = 16;
/// The largest PEM private key read.
const MAX_PEM_BYTES: usize = 16 * 1024;

/// Why a JWE could not be decrypted: deliberately nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecryptable;

/// Whether `token` has the shape of a compact JWS (three segments), not of a JWE (five) or
/// anything else.
pub fn is_compact_jws(token: &str) -> bool {
    memchr::memchr_iter(b'.', token.as_bytes()).take(3).count() == 2
}

/// The API's RSA private key, for unwrapping content-encryption keys.
pub struct JweDecrypter {
    key: OaepPrivateDecryptingKey,
}

impl std::fmt::Debug for JweDecrypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JweDecrypter")
            .field("bits", &self.key.key_size_bits())
            .finish_non_exhaustive()
    }
}

impl JweDecrypter {
    /// From a PEM RSA private key (`PRIVATE KEY`, PKCS#8, or `RSA PRIVATE KEY`, PKCS#1) of 2048
    /// to 8192 bits.
    ///
    /// # Errors
    /// A text saying what is wrong (never the key).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        if pem.len() > MAX_PEM_BYTES {
            return Err(format!("the PEM is larger than {MAX_PEM_BYTES} bytes"));
        }
        let der = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|_| "not a PEM private key (PRIVATE KEY or RSA PRIVATE KEY)".to_owned())?;
        let pkcs8 = match &der {
            PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
            PrivateKeyDer::Pkcs1(k) => pkcs1_to_pkcs8(k.secret_pkcs1_der()),
            _ => return Err("not an RSA private key".to_owned()),
        };
        let key = PrivateDecryptingKey::from_pkcs8(&pkcs8)
            .map_err(|e| format!("not a usable RSA private key (2048 to 8192 bits): {e}"))?;
        let key = OaepPrivateDecryptingKey::new(key)
            .map_err(|_| "not a usable RSA-OAEP private key".to_owned())?;
        Ok(Self { key })
    }

    /// Decrypts a compact JWE into its plaintext (for Auth0, the inner JWS), or
    /// [`Undecryptable`].
    pub fn decrypt(&self, token: &str) -> Result<String, Undecryptable> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Undecryptable);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(key), Some(iv), Some(ciphertext), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Undecryptable);
        };
        check_header(header)?;
        let b64 = |s: &str| jws::b64_decode(s).map_err(|_| Undecryptable);
        let (wrapped, iv, mut sealed, tag) = (b64(key)?, b64(iv)?, b64(ciphertext)?, b64(tag)?);
        if wrapped.len() != self.key.key_size_bytes() || tag.len() != TAG_LEN {
            return Err(Undecryptable);
        }
        let nonce = Nonce::try_assume_unique_for_key(&iv).map_err(|_| Undecryptable)?;
        debug_assert_eq!(iv.len(), NONCE_LEN);

        // RFC 7516 section 11.5: on any unwrapping failure, carry on with a random key.
        let mut cek = [0u8; CEK_LEN];
        aws_lc_rs::rand::fill(&mut cek).map_err(|_| Undecryptable)?;
        let mut out = vec![0u8; self.key.min_output_size()];
        let unwrapped = self
            .key
            .decrypt(&OAEP_SHA256_MGF1SHA256, &wrapped, &mut out, None);
        if let Ok(plain) = unwrapped
            && plain.len() == CEK_LEN
        {
            cek.copy_from_slice(plain);
        }
        out.fill(0);

        let opened = UnboundKey::new(&AES_256_GCM, &cek).map(LessSafeKey::new);
        cek.fill(0);
        let key = opened.map_err(|_| Undecryptable)?;
        sealed.extend_from_slice(&tag);
        // RFC 7516 section 5.2 step 14: the AAD is the ASCII of the protected header segment.
        let plain = key
            .open_in_place(nonce, Aad::from(header.as_bytes()), &mut sealed)
            .map_err(|_| Undecryptable)?;
        let plain_len = plain.len();
        sealed.truncate(plain_len);
        String::from_utf8(sealed).map_err(|_| Undecryptable)
    }
}

/// The protected header: a JSON object with unique names, `alg` `RSA-OAEP-256`, `enc`
/// `A256GCM`, no `zip` (RFC 7516 section 4.1.3), no `crit` (no extension is understood), and
/// `cty`, when present, `JWT` (RFC 7519 section 5.2, any case).
fn check_header(segment: &str) -> Result<(), Undecryptable> {
    if segment.len() > MAX_HEADER_BYTES {
        return Err(Undecryptable);
    }
    let header = jws::decode_object(segment).map_err(|_| Undecryptable)?;
    let is = |name: &str, value: &str| header.get(name).and_then(Value::as_str) == Some(value);
    let cty_ok = match header.get("cty") {
        None => true,
        Some(Value::String(cty)) => cty.eq_ignore_ascii_case("JWT"),
        Some(_) => false,
    };
    if is("alg", ALG)
        && is("enc", ENC)
        && !header.contains_key("zip")
        && !header.contains_key("crit")
        && cty_ok
    {
        Ok(())
    } else {
        Err(Undecryptable)
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` into a PKCS#8 `PrivateKeyInfo` (RFC 5208) for rsaEncryption.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    // version 0, AlgorithmIdentifier { rsaEncryption, NULL }
    const PREFIX: [u8; 18] = [
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01, 0x05, 0x00,
    ];
    let mut octets = vec![0x04];
    der_length(&mut octets, pkcs1.len());
    octets.extend_from_slice(pkcs1);
    let mut body = PREFIX.to_vec();
    body.extend_from_slice(&octets);
    let mut out = vec![0x30];
    der_length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

#[cfg(test)]
mod tests;
