//! The JWE parser and decryption on tokens made here with aws-lc-rs directly (RSA-OAEP-256,
//! AES-256-GCM), and every way of breaking them. `cargo test jwe`.

use std::sync::OnceLock;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::*;

struct Keys {
    pem: String,
    pkcs1_pem: String,
    public: OaepPublicEncryptingKey,
    other_public: OaepPublicEncryptingKey,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let other = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = key.as_der().unwrap();
        let pkcs8 = pkcs8.as_ref();
        // PKCS#8 of a 2048-bit key: SEQUENCE(82 LL LL) version AlgorithmIdentifier
        // OCTET STRING(82 LL LL) RSAPrivateKey.
        assert_eq!(&pkcs8[22..24], &[0x04, 0x82]);
        let pkcs1 = &pkcs8[26..];
        Keys {
            pem: pem("PRIVATE KEY", pkcs8),
            pkcs1_pem: pem("RSA PRIVATE KEY", pkcs1),
            public: OaepPublicEncryptingKey::new(key.public_key()).unwrap(),
            other_public: OaepPublicEncryptingKey::new(other.public_key()).unwrap(),
        }
    })
}

fn decrypter() -> JweDecrypter {
    JweDecrypter::from_pem(keys().pem.as_bytes()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

const AUTH0_HEADER: &str = r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"JWT"}"#;
const INNER: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

/// The five segments of a JWE of `plaintext` under `header` (raw JSON), encrypted to `to`,
/// with a CEK of `cek_len` bytes.
fn parts(
    header: &str,
    plaintext: &[u8],
    to: &OaepPublicEncryptingKey,
    cek_len: usize,
) -> Vec<String> {
    let header = b64(header.as_bytes());
    let mut cek = vec![0u8; cek_len];
    aws_lc_rs::rand::fill(&mut cek).unwrap();
    let iv = [7u8; 12];
    let mut wrapped = vec![0u8; to.ciphertext_size()];
    let wrapped = to
        .encrypt(&OAEP_SHA256_MGF1SHA256, &cek, &mut wrapped, None)
        .unwrap()
        .to_vec();
    let mut aes_key = [0u8; 32];
    let n = cek_len.min(32);
    aes_key[..n].copy_from_slice(&cek[..n]);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &aes_key).unwrap());
    let mut sealed = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(header.as_bytes()),
            &mut sealed,
        )
        .unwrap();
    vec![
        header,
        b64(&wrapped),
        b64(&iv),
        b64(&sealed),
        b64(tag.as_ref()),
    ]
}

fn jwe(header: &str) -> String {
    parts(header, INNER.as_bytes(), &keys().public, 32).join(".")
}

#[test]
fn jwe_round_trip_and_accepted_headers() {
    let d = decrypter();
    for header in [
        AUTH0_HEADER,
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#,
        r#"{"enc":"A256GCM","alg":"RSA-OAEP-256","cty":"jwt","kid":"my-kid"}"#,
    ] {
        assert_eq!(d.decrypt(&jwe(header)).as_deref(), Ok(INNER), "{header}");
    }
    // PKCS#1 (`RSA PRIVATE KEY`) works as well.
    let pkcs1 = JweDecrypter::from_pem(keys().pkcs1_pem.as_bytes()).unwrap();
    assert_eq!(pkcs1.decrypt(&jwe(AUTH0_HEADER)).as_deref(), Ok(INNER));
    assert!(!is_compact_jws(&jwe(AUTH0_HEADER)));
    assert!(is_compact_jws(INNER));
    assert!(!is_compact_jws("a.b.c.d"));
    assert!(!is_compact_jws("a.b"));
    assert!(format!("{d:?}").contains("2048"));
}

#[test]
fn jwe_other_algorithms_and_header_members_are_refused() {
    let d = decrypter();
    for header in [
        r#"{"alg":"RSA1_5","enc":"A256GCM"}"#,
        r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#,
        r#"{"alg":"dir","enc":"A256GCM"}"#,
        r#"{"alg":"A256KW","enc":"A256GCM"}"#,
        r#"{"alg":"ECDH-ES","enc":"A256GCM"}"#,
        r#"{"alg":"rsa-oaep-256","enc":"A256GCM"}"#,
        r#"{"alg":"RSA-OAEP-256","enc":"A128GCM"}"#,
        r#"{"alg":"RSA-OAEP-256","enc":"A256CBC-HS512"}"#,
        r#"{"alg":"RSA-OAEP-256"}"#,
        r#"{"enc":"A256GCM"}"#,
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","zip":"DEF"}"#,
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","crit":["exp"],"exp":1}"#,
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"json"}"#,
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":1}"#,
        r#"{"alg":"RSA-OAEP-256","enc":"A256GCM","alg":"RSA-OAEP-256"}"#,
        r#"{"alg":["RSA-OAEP-256"],"enc":"A256GCM"}"#,
        r#"["RSA-OAEP-256","A256GCM"]"#,
        "not json",
    ] {
        assert_eq!(d.decrypt(&jwe(header)), Err(Undecryptable), "{header}");
    }
    let long = format!(
        r#"{{"alg":"RSA-OAEP-256","enc":"A256GCM","x":"{}"}}"#,
        "a".repeat(MAX_HEADER_BYTES)
    );
    assert_eq!(d.decrypt(&jwe(&long)), Err(Undecryptable));
}

#[test]
fn jwe_broken_segments_are_refused() {
    let d = decrypter();
    let good = parts(AUTH0_HEADER, INNER.as_bytes(), &keys().public, 32);
    let with = |i: usize, value: String| {
        let mut p = good.clone();
        p[i] = value;
        p.join(".")
    };
    let flip = |s: &str| {
        let mut bytes = URL_SAFE_NO_PAD.decode(s).unwrap();
        if let Some(b) = bytes.first_mut() {
            *b ^= 1;
        }
        b64(&bytes)
    };
    let decoded = |i: usize| URL_SAFE_NO_PAD.decode(&good[i]).unwrap();
    let mut cases: Vec<(&str, String)> = vec![
        ("three parts", good[..3].join(".")),
        ("four parts", good[..4].join(".")),
        ("six parts", format!("{}.x", good.join("."))),
        ("empty", String::new()),
        ("dots", "....".to_owned()),
        ("padding in the key", with(1, format!("{}=", good[1]))),
        ("bad base64 in the IV", with(2, "!!!!".to_owned())),
        ("bad base64 in the tag", with(4, "a".to_owned())),
        ("no encrypted key", with(1, String::new())),
        ("short encrypted key", with(1, b64(&decoded(1)[1..]))),
        ("IV of 11 bytes", with(2, b64(&decoded(2)[1..]))),
        (
            "IV of 13 bytes",
            with(2, b64(&[decoded(2), vec![0]].concat())),
        ),
        ("no IV", with(2, String::new())),
        ("truncated tag", with(4, b64(&decoded(4)[..15]))),
        ("tag of 8 bytes", with(4, b64(&decoded(4)[..8]))),
        ("no tag", with(4, String::new())),
        ("long tag", with(4, b64(&[decoded(4), vec![0]].concat()))),
        ("tampered key", with(1, flip(&good[1]))),
        ("tampered IV", with(2, flip(&good[2]))),
        ("tampered ciphertext", with(3, flip(&good[3]))),
        ("tampered tag", with(4, flip(&good[4]))),
        ("truncated ciphertext", with(3, b64(&decoded(3)[1..]))),
        // The same header, written differently: the AAD is the segment as sent.
        (
            "re-encoded header",
            with(
                0,
                b64(br#"{"alg":"RSA-OAEP-256", "enc":"A256GCM","cty":"JWT"}"#),
            ),
        ),
        ("too large", "a.".repeat(MAX_TOKEN_BYTES)),
    ];
    // Another key, a CEK of the wrong size, a plaintext that is not UTF-8.
    cases.push((
        "wrong key",
        parts(AUTH0_HEADER, INNER.as_bytes(), &keys().other_public, 32).join("."),
    ));
    cases.push((
        "16-byte CEK",
        parts(AUTH0_HEADER, INNER.as_bytes(), &keys().public, 16).join("."),
    ));
    cases.push((
        "not UTF-8",
        parts(AUTH0_HEADER, &[0xff, 0xfe], &keys().public, 32).join("."),
    ));
    for (what, token) in cases {
        assert_eq!(d.decrypt(&token), Err(Undecryptable), "{what}");
    }
}

#[test]
fn jwe_arbitrary_input_never_panics() {
    let d = decrypter();
    let good = jwe(AUTH0_HEADER);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut bytes = good.clone().into_bytes();
        let i = (next() as usize) % bytes.len();
        bytes[i] = b"AZaz09-_.=+/"[(next() as usize) % 12];
        let token = String::from_utf8(bytes).unwrap();
        if token != good {
            assert_eq!(d.decrypt(&token), Err(Undecryptable), "{token}");
        }
    }
}

#[test]
fn jwe_decryption_keys_are_checked() {
    for bad in [
        &b"garbage"[..],
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        &vec![b'a'; 20_000],
    ] {
        assert!(JweDecrypter::from_pem(bad).is_err());
    }
    // An EC key is not an RSA key.
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let e = JweDecrypter::from_pem(pem("PRIVATE KEY", ec.as_ref()).as_bytes()).unwrap_err();
    assert!(e.starts_with("not a usable RSA private key"), "{e}");
}
