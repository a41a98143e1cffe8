//! A tiny, non-constant-time RSA signer for key sizes aws-lc-rs refuses.
//!
//! aws-lc-rs only creates and loads RSA private keys of 2048 to 8192 bits, but
//! tests of a verifier's minimum-key-size rule need a *correctly signed* token
//! under a 1024-bit key. This module signs RS256 (RSASSA-PKCS1-v1_5 with
//! SHA-256) with a fixed, publicly known 1024-bit test key using Montgomery
//! modular exponentiation. It is for tests only: the key is embedded in the
//! source and the arithmetic is not constant-time.

/// Modulus of the embedded 1024-bit test key, big-endian hex.
const FIXED_1024_N_HEX: [&str; 4] = [
    "eb9ee1b51c37871bceda57123ed4623ce7681fc69d4ecc98874d5864fd0e2f42",
    "7c4202df6880019c8982029a5d70dc7d9318d6534beafb2955975274e9251696",
    "ffb69a824b79396dbea5b692d35e5a248905fe11aeac55da9fdaacb85472bbcc",
    "964cd84d36e2a839ab60e185b86ac71bfd2083578c76f6876dfaa45c2f8029e7",
];
/// Private exponent of the embedded 1024-bit test key, big-endian hex.
const FIXED_1024_D_HEX: [&str; 4] = [
    "0746a485a9392ea23c885915c2ee0ab61f33ae622f8480f9cb0aeed8869e322e",
    "f72fc8e125b1300637e7f1dfbe70b8373b2a841207c104c010753b942ca525a9",
    "98df0a68d6e92fa08be5133255dc8b96e7db260ce0c0eca1af3a0fa6784bd934",
    "949f38d2910652ce45618537f7e570d59c70b812d746d082dea403f71a524a91",
];

/// DER `DigestInfo` prefix for SHA-256 (RFC 8017 section 9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// An RSA private key held as big-endian byte strings.
#[derive(Clone)]
pub(crate) struct FixedRsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
    d: Vec<u8>,
}

impl std::fmt::Debug for FixedRsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedRsaKey")
            .field("bits", &(self.n.len() * 8))
            .finish()
    }
}

fn hex_to_bytes(parts: &[&str]) -> Vec<u8> {
    let joined: String = parts.concat();
    joined
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
            let lo = pair
                .get(1)
                .and_then(|c| (*c as char).to_digit(16))
                .unwrap_or(0);
            u8::try_from(hi * 16 + lo).unwrap_or(0)
        })
        .collect()
}

impl FixedRsaKey {
    /// The embedded 1024-bit test key (e = 65537).
    pub(crate) fn fixed_1024() -> Self {
        FixedRsaKey {
            n: hex_to_bytes(&FIXED_1024_N_HEX),
            e: vec![0x01, 0x00, 0x01],
            d: hex_to_bytes(&FIXED_1024_D_HEX),
        }
    }

    /// Big-endian modulus without leading zeros.
    pub(crate) fn n(&self) -> &[u8] {
        &self.n
    }

    /// Big-endian public exponent without leading zeros.
    pub(crate) fn e(&self) -> &[u8] {
        &self.e
    }

    /// RSASSA-PKCS1-v1_5 SHA-256 signature of `msg`.
    pub(crate) fn sign_pkcs1_sha256(&self, msg: &[u8]) -> Vec<u8> {
        let k = self.n.len();
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, msg);
        let t_len = SHA256_DIGEST_INFO.len() + hash.as_ref().len();
        // EM = 0x00 || 0x01 || PS (0xff..) || 0x00 || T
        let mut em = vec![0xffu8; k];
        em[0] = 0x00;
        em[1] = 0x01;
        em[k - t_len - 1] = 0x00;
        em[k - t_len..k - hash.as_ref().len()].copy_from_slice(&SHA256_DIGEST_INFO);
        em[k - hash.as_ref().len()..].copy_from_slice(hash.as_ref());
        mod_pow(&em, &self.d, &self.n)
    }
}

/// Little-endian 32-bit limbs of a big-endian byte string, padded to `k` limbs.
fn to_limbs(be: &[u8], k: usize) -> Vec<u32> {
    let mut limbs = vec![0u32; k];
    for (i, byte) in be.iter().rev().enumerate() {
        if let Some(limb) = limbs.get_mut(i / 4) {
            *limb |= u32::from(*byte) << (8 * (i % 4));
        }
    }
    limbs
}

/// Big-endian bytes (exactly `len` of them) of little-endian limbs.
fn from_limbs(limbs: &[u32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, slot) in out.iter_mut().rev().enumerate() {
        let limb = limbs.get(i / 4).copied().unwrap_or(0);
        *slot = (limb >> (8 * (i % 4))) as u8;
    }
    out
}

/// `a >= b` for equal-length little-endian limb slices.
fn ge(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b` in place (little-endian limbs, `a >= b`).
fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (x, y) in a.iter_mut().zip(b.iter()) {
        let d = u64::from(*x)
            .wrapping_sub(u64::from(*y))
            .wrapping_sub(borrow);
        *x = d as u32;
        borrow = (d >> 63) & 1;
    }
}

/// Montgomery arithmetic modulo an odd `n`.
struct Montgomery {
    n: Vec<u32>,
    n0inv: u32,
}

impl Montgomery {
    fn new(n: Vec<u32>) -> Self {
        // -n^-1 mod 2^32 by Newton iteration (n is odd).
        let n0 = n[0];
        let mut inv: u32 = 1;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
        }
        Montgomery {
            n,
            n0inv: inv.wrapping_neg(),
        }
    }

    /// `a * b * R^-1 mod n` (CIOS).
    fn mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let k = self.n.len();
        let mut t = vec![0u32; k + 2];
        for &bi in b.iter().take(k) {
            let mut c = 0u64;
            for j in 0..k {
                let s = u64::from(t[j]) + u64::from(a[j]) * u64::from(bi) + c;
                t[j] = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[k]) + c;
            t[k] = s as u32;
            t[k + 1] = (s >> 32) as u32;

            let m = t[0].wrapping_mul(self.n0inv);
            let s = u64::from(t[0]) + u64::from(m) * u64::from(self.n[0]);
            let mut c = s >> 32;
            for j in 1..k {
                let s = u64::from(t[j]) + u64::from(m) * u64::from(self.n[j]) + c;
                t[j - 1] = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[k]) + c;
            t[k - 1] = s as u32;
            t[k] = t[k + 1] + (s >> 32) as u32;
            t[k + 1] = 0;
        }
        let overflow = t[k] != 0;
        let mut r = t[..k].to_vec();
        if overflow || ge(&r, &self.n) {
            sub_in_place(&mut r, &self.n);
        }
        r
    }

    /// `R^2 mod n`, by doubling 1 modulo n `2 * 32 * k` times.
    fn r_squared(&self) -> Vec<u32> {
        let k = self.n.len();
        let mut x = vec![0u32; k];
        x[0] = 1;
        for _ in 0..(64 * k) {
            let mut carry = 0u32;
            for limb in x.iter_mut() {
                let next = *limb >> 31;
                *limb = (*limb << 1) | carry;
                carry = next;
            }
            if carry != 0 || ge(&x, &self.n) {
                sub_in_place(&mut x, &self.n);
            }
        }
        x
    }
}

/// `base^exp mod n` for big-endian inputs with `base < n` and `n` odd; the
/// result has the byte length of `n`.
fn mod_pow(base: &[u8], exp: &[u8], n: &[u8]) -> Vec<u8> {
    let k = n.len().div_ceil(4);
    let mont = Montgomery::new(to_limbs(n, k));
    let r2 = mont.r_squared();
    let base_m = mont.mul(&to_limbs(base, k), &r2);
    let mut one = vec![0u32; k];
    one[0] = 1;
    let mut acc = mont.mul(&one, &r2);
    for byte in exp {
        for bit in (0..8).rev() {
            acc = mont.mul(&acc, &acc);
            if (byte >> bit) & 1 == 1 {
                acc = mont.mul(&acc, &base_m);
            }
        }
    }
    from_limbs(&mont.mul(&acc, &one), n.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, RsaPublicKeyComponents,
    };

    #[test]
    fn small_mod_pow() {
        // 4^13 mod 497 = 445
        assert_eq!(mod_pow(&[4], &[13], &[0x01, 0xf1]), vec![0x01, 0xbd]);
    }

    #[test]
    fn fixed_key_signature_verifies_with_aws_lc() {
        let key = FixedRsaKey::fixed_1024();
        assert_eq!(key.n().len(), 128);
        assert!(key.n()[0] & 0x80 != 0);
        let msg = b"header.payload";
        let sig = key.sign_pkcs1_sha256(msg);
        assert_eq!(sig.len(), 128);
        let public = RsaPublicKeyComponents {
            n: key.n(),
            e: key.e(),
        };
        public
            .verify(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, msg, &sig)
            .unwrap();
        assert!(
            public
                .verify(
                    &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                    b"other",
                    &sig
                )
                .is_err()
        );
    }
}
