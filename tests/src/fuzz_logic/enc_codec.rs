//! `enc_codec`: arbitrary `enc:` lines decoded, under IDEA with the Appendix A key and under
//! [`FixedKeyCipher`](super::FixedKeyCipher). The input is one line; when it does not start
//! with `enc:` it is also tried with that prefix.
//!
//! Checks:
//! * decoding never panics; an error appends nothing to the output buffer;
//! * a decoded line yields exactly its declared length;
//! * the plaintext re-encodes into a canonical line (lower-case hex, `len/8 + 1` blocks) that
//!   decodes to the same plaintext (decoding is tolerant, so plaintexts are compared);
//! * the re-encoding equals the input bytes exactly when the input is canonical: decimal length
//!   without leading zeros, lower-case hex, `len/8 + 1` blocks, the padding all spaces.

use bytes::BytesMut;
use lonc_core::cipher::{BlockCipher, IdeaCipher};
use lonc_core::enc::{ENC_PREFIX, decode, decode_into, encode};
use lonc_core::key::SessionKey;

use super::FixedKeyCipher;

/// The cipher of protocol.md Appendix A (ids `msul1`, `msul2`, its build key).
pub fn appendix_cipher() -> IdeaCipher {
    IdeaCipher::from_key(&SessionKey::derive(
        b"msul1",
        b"msul2",
        b"777A0E0000000DBDBCACC712",
    ))
}

pub fn run(data: &[u8]) {
    let idea = appendix_cipher();
    let fixed = FixedKeyCipher::from_key(&SessionKey::from_bytes([0; 16]));
    check(&idea, data);
    check(&fixed, data);
    if !data.starts_with(ENC_PREFIX) {
        let prefixed = [ENC_PREFIX, data].concat();
        check(&idea, &prefixed);
        check(&fixed, &prefixed);
    }
}

fn check<C: BlockCipher>(cipher: &C, line: &[u8]) {
    let mut out = BytesMut::from(&b"keep"[..]);
    let result = decode_into(cipher, line, &mut out);
    assert_eq!(
        decode(cipher, line).map(|b| b.to_vec()),
        result.map(|()| out[4..].to_vec()),
        "decode and decode_into agree"
    );
    if result.is_err() {
        assert_eq!(&out[..], b"keep", "an error appends nothing");
        return;
    }
    let plain = &out[4..];
    let rest = &line[ENC_PREFIX.len()..];
    let colon = rest
        .iter()
        .position(|&b| b == b':')
        .expect("decoded: has a colon");
    let (len_field, body) = (&rest[..colon], &rest[colon + 1..]);
    let len: usize = std::str::from_utf8(len_field)
        .expect("decoded: length is digits")
        .parse()
        .expect("decoded: length fits");
    assert_eq!(plain.len(), len, "the declared length is what comes out");
    let blocks = body.len() / 16;
    assert!(blocks >= 1 && body.len() % 16 == 0 && len <= blocks * 8);

    let mut again = BytesMut::new();
    encode(cipher, plain, &mut again);
    let canonical_prefix = format!("enc:{len}:");
    assert!(again.starts_with(canonical_prefix.as_bytes()));
    let hex = &again[canonical_prefix.len()..];
    assert_eq!(hex.len(), (len / 8 + 1) * 16);
    assert!(hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
    assert_eq!(
        &decode(cipher, &again).expect("a re-encoding decodes")[..],
        plain,
        "re-encoding round-trips"
    );

    // The whole decrypted body, to see the padding.
    let full_line = [format!("enc:{}:", blocks * 8).as_bytes(), body].concat();
    let full = decode(cipher, &full_line).expect("the full body decodes");
    assert_eq!(&full[..len], plain, "the declared length only truncates");
    let canonical = len_field == len.to_string().as_bytes()
        && body.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        && blocks == len / 8 + 1
        && full[len..].iter().all(|&b| b == b' ');
    assert_eq!(
        &again[..] == line,
        canonical,
        "the re-encoding equals the input exactly when the input is canonical"
    );
}
