//! Compact JWS parsing: `split`, strict base64url (`b64_decode` round-trips through the
//! canonical encoding; the SIMD decoder against the `base64` crate's strict engine), the split
//! against a plain `split('.')`, `decode_object` and `parse_object` (objects with unique names
//! only), and the validating walk (`json_view`) against `parse_object` on every text.
#![no_main]

use auth0_api::__fuzz::jws::{self, MAX_TOKEN_BYTES};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fn check_segment(segment: &str) {
    let decoded = jws::b64_decode(segment);
    // The SIMD decoder accepts exactly what the `base64` crate's strict engine accepts.
    assert_eq!(
        decoded.as_ref().ok(),
        URL_SAFE_NO_PAD.decode(segment).ok().as_ref()
    );
    // Into a buffer: the same bytes or error, or "would not fit" (judged by the length alone,
    // the text unchecked) for a segment longer than the buffer can take.
    let mut buf = [std::mem::MaybeUninit::uninit(); 64];
    match jws::b64_decode_into(segment, &mut buf) {
        Ok(Some(bytes)) => assert_eq!(Some(bytes), decoded.as_deref().ok()),
        Ok(None) => assert!(segment.len() * 3 / 4 > 64),
        Err(e) => assert_eq!(Some(e), decoded.err()),
    }
    if let Ok(bytes) = jws::b64_decode(segment) {
        // Strict: only the canonical encoding of the bytes is accepted.
        assert_eq!(URL_SAFE_NO_PAD.encode(&bytes), segment);
    }
    if let Ok(object) = jws::decode_object(segment) {
        // What was accepted serialises to JSON that is accepted again (numbers may move in
        // their last digit: serde_json parses floats best-effort, so no equality here).
        let text = serde_json::to_vec(&object).expect("serialises");
        assert!(jws::parse_object(&text).is_ok());
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(object) = jws::parse_object(data) {
        let text = serde_json::to_vec(&object).expect("serialises");
        assert!(jws::parse_object(&text).is_ok());
    }
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    // The walk verification runs (its fast reader, then serde_json) answers as the map does.
    assert_eq!(
        auth0_api::__fuzz::walk_object(token),
        jws::parse_object(data).map(|_| ())
    );
    check_segment(token);
    // The split agrees with a plain `splitn`-based one.
    let parts: Vec<&str> = token.split('.').collect();
    match (jws::split(token, MAX_TOKEN_BYTES), parts.as_slice()) {
        (Ok(s), [h, p, sig]) if token.len() <= MAX_TOKEN_BYTES => {
            assert_eq!((s.header, s.payload, s.signature), (*h, *p, *sig));
        }
        (Err(jws::DecodeError::Segments(n)), _) => assert_eq!(n, parts.len()),
        (Err(jws::DecodeError::TooLarge(_)), _) => assert!(token.len() > MAX_TOKEN_BYTES),
        (other, _) => panic!("split {other:?} for {} parts", parts.len()),
    }
    match jws::split(token, MAX_TOKEN_BYTES) {
        Ok(s) => {
            assert_eq!(s.signing_input, format!("{}.{}", s.header, s.payload));
            assert_eq!(format!("{}.{}", s.signing_input, s.signature), token);
            check_segment(s.header);
            check_segment(s.payload);
            check_segment(s.signature);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
