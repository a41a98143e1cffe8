//! [`KnownHeaders`]: the outcome of the header checks of tokens that verified, by header text.

use std::sync::OnceLock;

use super::decode::CheckedHeader;

/// How many distinct header texts a client remembers.
pub(crate) const KNOWN_HEADERS: usize = 8;

/// The [`CheckedHeader`]s of tokens that verified, by their exact base64url header text: a
/// tenant signs every token with one of a few header texts (one per signing key), and
/// [`check_header`](super::decode::check_header) is a function of that text, so a token whose
/// header text is known skips decoding and checking it, and gets the very outcome the checks
/// would give. Filled only after a successful verification, so that no one can fill it with
/// headers of their own; fixed-size, never evicted (a process that sees more than eight signing
/// keys checks the others' headers as before). Reads take no lock.
#[derive(Default)]
pub(crate) struct KnownHeaders {
    pub(super) slots: [OnceLock<KnownHeader>; KNOWN_HEADERS],
}

pub(crate) struct KnownHeader {
    segment: Box<str>,
    checked: CheckedHeader<'static>,
}

impl KnownHeaders {
    /// The outcome of the header checks for this header segment, if it is known.
    pub(crate) fn find(&self, segment: &str) -> Option<CheckedHeader<'_>> {
        self.slots
            .iter()
            .map_while(OnceLock::get)
            .find(|known| *known.segment == *segment)
            .map(|known| known.checked.borrowed())
    }

    /// Remembers `checked`, the outcome of the header checks of `segment`, a header of a token
    /// that just verified.
    pub(crate) fn remember(&self, segment: &str, checked: &CheckedHeader<'_>) {
        for slot in &self.slots {
            let known = slot.get_or_init(|| KnownHeader {
                segment: segment.into(),
                checked: checked.clone().into_owned(),
            });
            if *known.segment == *segment {
                return;
            }
        }
    }
}
