//! Compact JWE decryption (`jwe::JweDecrypter::decrypt`, RSA-OAEP-256 + A256GCM only) on
//! arbitrary tokens and on a valid JWE with one segment replaced by arbitrary text: never a
//! panic, and nothing decrypts but the untouched valid token.
#![no_main]

use std::sync::OnceLock;

use auth0_api::__fuzz::jwe::JweDecrypter;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PrivateDecryptingKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    decrypter: JweDecrypter,
    good: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).expect("RSA key");
        let pkcs8 = key.as_der().expect("PKCS#8");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let decrypter = JweDecrypter::from_pem(pem.as_bytes()).expect("key");
        let public = OaepPublicEncryptingKey::new(key.public_key()).expect("public key");
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let header = b64(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"JWT"}"#);
        let cek = [3u8; 32];
        let iv = [5u8; 12];
        let mut wrapped = vec![0u8; public.ciphertext_size()];
        let wrapped = public
            .encrypt(&OAEP_SHA256_MGF1SHA256, &cek, &mut wrapped, None)
            .expect("OAEP")
            .to_vec();
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &cek).expect("AES key"));
        let mut sealed = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".to_vec();
        let tag = aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header.as_bytes()),
                &mut sealed,
            )
            .expect("GCM");
        let good = format!(
            "{header}.{}.{}.{}.{}",
            b64(&wrapped),
            b64(&iv),
            b64(&sealed),
            b64(tag.as_ref())
        );
        assert!(decrypter.decrypt(&good).is_ok());
        Fixture { decrypter, good }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let token = match selector % 6 {
        5 => text.to_owned(),
        i => {
            let mut segments: Vec<&str> = f.good.split('.').collect();
            segments[usize::from(i)] = text;
            segments.join(".")
        }
    };
    if f.decrypter.decrypt(&token).is_ok() {
        assert_eq!(token, f.good);
    }
});
