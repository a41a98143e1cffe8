//! Compact JWS parsing: `split`, strict base64url (`b64_decode` round-trips through the
//! canonical encoding), `decode_object` and `parse_object` (objects with unique names only).
#![no_main]

use auth0_api::jws::{self, MAX_TOKEN_BYTES};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fn check_segment(segment: &str) {
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
    check_segment(token);
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
