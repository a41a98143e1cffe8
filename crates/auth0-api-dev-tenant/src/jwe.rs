//! Encrypted access tokens as Auth0 makes them (nested JWT, compact JWE, RFC 7516):
//! `RSA-OAEP-256` key wrapping and `A256GCM` content encryption (RFC 7518), with this crate's
//! own code on aws-lc-rs, for tests of the library's decryption.
//!
//! ```
//! use auth0_api_dev_tenant::jwe::{EncryptionKeyPair, JweEncrypter};
//! let pair = EncryptionKeyPair::generate().expect("RSA key");
//! let encrypter = JweEncrypter::from_public_key_pem(pair.public_pem()).expect("public key");
//! let jwe = encrypter.encrypt(b"a.b.c").expect("encrypts");
//! assert_eq!(jwe.split('.').count(), 5);
//! ```

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::jwt::b64e;

/// An API's encryption key pair (RSA 2048), as PEM: the public key goes to the tenant
/// ([`crate::DevTenantBuilder::encrypt_access_tokens`]), the private key to the API.
#[derive(Clone)]
pub struct EncryptionKeyPair {
    private_pem: String,
    public_pem: String,
}

impl std::fmt::Debug for EncryptionKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKeyPair").finish_non_exhaustive()
    }
}

fn crypto(what: &str) -> impl Fn(aws_lc_rs::error::Unspecified) -> Error + '_ {
    move |_| Error::Crypto(what.to_owned())
}

impl EncryptionKeyPair {
    /// A new RSA 2048 key pair.
    ///
    /// # Errors
    /// [`Error::Crypto`] if key generation fails.
    pub fn generate() -> Result<Self, Error> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .map_err(crypto("RSA key generation"))?;
        let private = key.as_der().map_err(crypto("PKCS#8 encoding"))?;
        let public = key.public_key().as_der().map_err(crypto("SPKI encoding"))?;
        Ok(Self {
            private_pem: pem("PRIVATE KEY", private.as_ref()),
            public_pem: pem("PUBLIC KEY", public.as_ref()),
        })
    }

    /// The private key (PKCS#8 PEM), for the API.
    pub fn private_pem(&self) -> &str {
        &self.private_pem
    }

    /// The public key (SPKI PEM), for the tenant.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Encrypts to an API's public key.
pub struct JweEncrypter {
    key: OaepPublicEncryptingKey,
}

impl std::fmt::Debug for JweEncrypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JweEncrypter").finish_non_exhaustive()
    }
}

impl JweEncrypter {
    /// From an RSA public key in PEM (`PUBLIC KEY`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if it is not one.
    pub fn from_public_key_pem(pem: &str) -> Result<Self, Error> {
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| Error::InvalidKey(format!("not a PEM public key: {e}")))?;
        let key = PublicEncryptingKey::from_der(spki.as_ref())
            .map_err(|e| Error::InvalidKey(format!("not an RSA public key: {e}")))?;
        let key = OaepPublicEncryptingKey::new(key)
            .map_err(|_| Error::InvalidKey("not an RSA-OAEP key".into()))?;
        Ok(Self { key })
    }

    /// Auth0's header: `{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"JWT"}`.
    pub fn auth0_header() -> Map<String, Value> {
        let mut header = Map::new();
        header.insert("alg".into(), json!("RSA-OAEP-256"));
        header.insert("enc".into(), json!("A256GCM"));
        header.insert("cty".into(), json!("JWT"));
        header
    }

    /// `plaintext` (a signed JWT) as a compact JWE with [`auth0_header`](Self::auth0_header).
    ///
    /// # Errors
    /// [`Error::Crypto`] if a primitive fails.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, Error> {
        self.encrypt_with_header(&Self::auth0_header(), plaintext)
    }

    /// Like [`encrypt`](Self::encrypt) with any protected header (for tests of what the
    /// library refuses: the encryption itself is always RSA-OAEP-256 + A256GCM).
    ///
    /// # Errors
    /// [`Error::Crypto`] if a primitive fails.
    pub fn encrypt_with_header(
        &self,
        header: &Map<String, Value>,
        plaintext: &[u8],
    ) -> Result<String, Error> {
        let header =
            b64e(&serde_json::to_vec(header).map_err(|e| Error::Crypto(format!("header: {e}")))?);
        let cek = crate::random_bytes::<32>()?;
        let iv = crate::random_bytes::<12>()?;
        let mut wrapped = vec![0u8; self.key.ciphertext_size()];
        let wrapped = self
            .key
            .encrypt(&OAEP_SHA256_MGF1SHA256, &cek, &mut wrapped, None)
            .map_err(crypto("RSA-OAEP encryption"))?;
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &cek).map_err(crypto("AES key"))?);
        let mut sealed = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header.as_bytes()),
                &mut sealed,
            )
            .map_err(crypto("AES-GCM encryption"))?;
        Ok(format!(
            "{header}.{}.{}.{}.{}",
            b64e(wrapped),
            b64e(&iv),
            b64e(&sealed),
            b64e(tag.as_ref())
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::OaepPrivateDecryptingKey;
    use rustls::pki_types::PrivatePkcs8KeyDer;

    /// Decrypts with aws-lc-rs directly, to check the format (not the library's code).
    #[test]
    fn jwe_round_trip_in_the_tenant() {
        let pair = EncryptionKeyPair::generate().unwrap();
        let jwe = JweEncrypter::from_public_key_pem(pair.public_pem())
            .unwrap()
            .encrypt(b"x.y.z")
            .unwrap();
        let parts: Vec<&str> = jwe.split('.').collect();
        let d = |s: &str| crate::jwt::b64d(s).unwrap();
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(pair.private_pem().as_bytes()).unwrap();
        let key = OaepPrivateDecryptingKey::new(
            PrivateDecryptingKey::from_pkcs8(pkcs8.secret_pkcs8_der()).unwrap(),
        )
        .unwrap();
        let mut out = vec![0; key.min_output_size()];
        let cek = key
            .decrypt(&OAEP_SHA256_MGF1SHA256, &d(parts[1]), &mut out, None)
            .unwrap()
            .to_vec();
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &cek).unwrap());
        let mut sealed = d(parts[3]);
        sealed.extend(d(parts[4]));
        let nonce = Nonce::try_assume_unique_for_key(&d(parts[2])).unwrap();
        let plain = aead
            .open_in_place(nonce, Aad::from(parts[0].as_bytes()), &mut sealed)
            .unwrap();
        assert_eq!(plain, b"x.y.z");
    }
}
