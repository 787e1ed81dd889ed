//! The `enc:<len>:<hex>` codec of encrypted requests and replies.

use std::fmt;

/// Why an `enc:` line could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncError {
    /// The line does not start with `enc:` or lacks the second colon.
    NotEnc,
    /// The length field is not a decimal number.
    BadLength,
    /// The hex body has a character that is not a hex digit.
    NotHex,
    /// The hex body is not a whole number of 16-digit blocks (or is empty).
    BadBlockCount,
    /// The declared length exceeds the decrypted size.
    LengthTooLarge,
}

impl fmt::Display for EncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncError::NotEnc => "not an enc: line",
            EncError::BadLength => "enc: length is not a decimal number",
            EncError::NotHex => "enc: body is not hexadecimal",
            EncError::BadBlockCount => "enc: body is not a whole number of 8-byte blocks",
            EncError::LengthTooLarge => "enc: length exceeds the decrypted data",
        })
    }
}

impl std::error::Error for EncError {}

use bytes::{BufMut, BytesMut};

use crate::cipher::BlockCipher;

/// The prefix of an encrypted line on the lond wire.
pub const ENC_PREFIX: &[u8] = b"enc:";

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `enc:<len>:<hex>` (no LF) for `cmd` to `out`: `cmd` padded with spaces to
/// `floor(len/8)+1` blocks (so a multiple of 8 gets a whole block of spaces), each block
/// encrypted and written as 16 lower-case hex digits.
pub fn encode<C: BlockCipher>(cipher: &C, cmd: &[u8], out: &mut BytesMut) {
    let blocks = cmd.len() / 8 + 1;
    let digits = itoa_buf(cmd.len());
    out.reserve(line_capacity(digits.as_slice().len(), blocks));
    out.put_slice(ENC_PREFIX);
    out.put_slice(digits.as_slice());
    out.put_u8(b':');
    for i in 0..blocks {
        let mut block = [b' '; 8];
        let chunk = cmd.get(i * 8..).unwrap_or_default();
        let n = chunk.len().min(8);
        block[..n].copy_from_slice(&chunk[..n]);
        cipher.encrypt_block(&mut block);
        let mut hex = [0u8; 16];
        for (j, b) in block.iter().enumerate() {
            hex[2 * j] = HEX[usize::from(b >> 4)];
            hex[2 * j + 1] = HEX[usize::from(b & 0xF)];
        }
        out.put_slice(&hex);
    }
}

/// Decodes an `enc:<len>:<hex>` line (no LF) and appends the plaintext, truncated to `len`,
/// to `out`. The length must be decimal digits, the body a non-empty whole number of 16-digit
/// blocks of hex (either case), and `len` no more than the decrypted size. On error nothing is
/// appended.
pub fn decode_into<C: BlockCipher>(
    cipher: &C,
    line: &[u8],
    out: &mut BytesMut,
) -> Result<(), EncError> {
    let rest = line.strip_prefix(ENC_PREFIX).ok_or(EncError::NotEnc)?;
    let colon = memchr::memchr(b':', rest).ok_or(EncError::NotEnc)?;
    let (len_field, body) = (&rest[..colon], &rest[colon + 1..]);
    let len = parse_decimal(len_field).ok_or(EncError::BadLength)?;
    if !body.iter().all(u8::is_ascii_hexdigit) {
        return Err(EncError::NotHex);
    }
    if body.is_empty() || body.len() % 16 != 0 {
        return Err(EncError::BadBlockCount);
    }
    let blocks = body.len() / 16;
    if len > blocks * 8 {
        return Err(EncError::LengthTooLarge);
    }
    out.reserve(len);
    for (i, hex) in body.chunks_exact(16).enumerate() {
        let mut block = [0u8; 8];
        for (j, b) in block.iter_mut().enumerate() {
            *b = (hex_val(hex[2 * j]) << 4) | hex_val(hex[2 * j + 1]);
        }
        cipher.decrypt_block(&mut block);
        let take = len.saturating_sub(i * 8).min(8);
        out.put_slice(&block[..take]);
        if take < 8 {
            break;
        }
    }
    Ok(())
}

/// Decodes an `enc:` line into a fresh buffer; see [`decode_into`].
pub fn decode<C: BlockCipher>(cipher: &C, line: &[u8]) -> Result<BytesMut, EncError> {
    let mut out = BytesMut::new();
    decode_into(cipher, line, &mut out)?;
    Ok(out)
}

/// The length of an `enc:` line with a length field of `digits` digits and `blocks` blocks,
/// reserved up front so that [`encode`] grows its buffer at most once: a capacity hint only.
fn line_capacity(digits: usize, blocks: usize) -> usize {
    ENC_PREFIX.len() + digits + 1 + blocks * 16
}

fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &c| {
        if c.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(usize::from(c - b'0'))
        } else {
            None
        }
    })
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Decimal digits of `n` without allocating.
fn itoa_buf(mut n: usize) -> DigitBuf {
    let mut buf = DigitBuf {
        digits: [0; 20],
        start: 20,
    };
    loop {
        buf.start -= 1;
        buf.digits[buf.start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break buf;
        }
    }
}

struct DigitBuf {
    digits: [u8; 20],
    start: usize,
}

impl DigitBuf {
    fn as_slice(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::IdeaCipher;
    use crate::key::SessionKey;

    fn appendix_cipher() -> IdeaCipher {
        IdeaCipher::from_key(&SessionKey::derive(
            b"msul1",
            b"msul2",
            b"777A0E0000000DBDBCACC712",
        ))
    }

    fn enc(cmd: &[u8]) -> String {
        let mut out = BytesMut::new();
        encode(&appendix_cipher(), cmd, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn appendix_a_encryptions() {
        assert_eq!(
            enc(b"passwd:msu:jdoe:old:new"),
            "enc:23:ea647e5ad65dce171259ca656401c05a2a9ecd51c601949f"
        );
        assert_eq!(enc(b"12345678"), "enc:8:7679c3a1b5c8bc965696aa54ab77bbec");
        assert_eq!(enc(b""), "enc:0:5696aa54ab77bbec");
    }

    #[test]
    fn appendix_a_decryptions() {
        let c = appendix_cipher();
        let line = b"enc:23:ea647e5ad65dce171259ca656401c05a2a9ecd51c601949f";
        assert_eq!(&decode(&c, line).unwrap()[..], b"passwd:msu:jdoe:old:new");
        assert_eq!(&decode(&c, b"enc:0:5696aa54ab77bbec").unwrap()[..], b"");
        let upper = b"enc:8:7679C3A1B5C8BC965696AA54AB77BBEC";
        assert_eq!(&decode(&c, upper).unwrap()[..], b"12345678");
    }

    #[test]
    fn long_commands_round_trip() {
        // Up to the 16 MiB line limit, so lengths of five digits and more.
        let c = appendix_cipher();
        for len in [9_999, 10_000, 123_457] {
            let cmd: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut line = BytesMut::new();
            encode(&c, &cmd, &mut line);
            let prefix = format!("enc:{len}:");
            assert!(line.starts_with(prefix.as_bytes()));
            assert_eq!(line.len(), prefix.len() + (len / 8 + 1) * 16);
            assert_eq!(&decode(&c, &line).unwrap()[..], &cmd[..]);
        }
    }

    #[test]
    fn shorter_length_truncates_padding() {
        let c = appendix_cipher();
        // Tolerant: a length below the block count keeps only that many bytes.
        let line = b"enc:3:7679c3a1b5c8bc965696aa54ab77bbec";
        assert_eq!(&decode(&c, line).unwrap()[..], b"123");
    }

    #[test]
    fn malformed_lines_are_typed_errors() {
        let c = appendix_cipher();
        let cases: &[(&[u8], EncError)] = &[
            (b"enx:1:5696aa54ab77bbec", EncError::NotEnc),
            (b"enc:5696aa54ab77bbec", EncError::NotEnc),
            (b"enc::5696aa54ab77bbec", EncError::BadLength),
            (b"enc:x1:5696aa54ab77bbec", EncError::BadLength),
            (b"enc:-1:5696aa54ab77bbec", EncError::BadLength),
            (b"enc: 1:5696aa54ab77bbec", EncError::BadLength),
            (
                b"enc:99999999999999999999999:5696aa54ab77bbec",
                EncError::BadLength,
            ),
            (b"enc:1:5696aa54ab77bbeg", EncError::NotHex),
            (b"enc:1:5696aa54ab77bbec:", EncError::NotHex),
            (b"enc:1:5696aa54ab77bbe", EncError::BadBlockCount),
            (b"enc:1:5696aa54ab77bb", EncError::BadBlockCount),
            (b"enc:0:", EncError::BadBlockCount),
            (b"enc:9:5696aa54ab77bbec", EncError::LengthTooLarge),
        ];
        for (line, want) in cases {
            assert_eq!(
                decode(&c, line).map(|b| b.to_vec()),
                Err(*want),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn errors_read_as_in_lonc_log() {
        // The text ends lonc.log lines such as `Connection to msul1 lost: bad encrypted line
        // from peer: <error>`.
        for (error, text) in [
            (EncError::NotEnc, "not an enc: line"),
            (EncError::BadLength, "enc: length is not a decimal number"),
            (EncError::NotHex, "enc: body is not hexadecimal"),
            (
                EncError::BadBlockCount,
                "enc: body is not a whole number of 8-byte blocks",
            ),
            (
                EncError::LengthTooLarge,
                "enc: length exceeds the decrypted data",
            ),
        ] {
            assert_eq!(error.to_string(), text);
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::cipher::IdeaCipher;
    use crate::key::SessionKey;
    use proptest::prelude::*;

    fn cipher(key: [u8; 16]) -> IdeaCipher {
        IdeaCipher::from_key(&SessionKey::from_bytes(key))
    }

    fn payload() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..4096),
            // Exact multiples of 8, which get a whole block of padding.
            (0usize..64).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 8)),
            proptest::collection::vec(prop_oneof![Just(b':'), Just(b' '), any::<u8>()], 0..64),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(key in any::<[u8; 16]>(), cmd in payload()) {
            let c = cipher(key);
            let mut line = BytesMut::new();
            encode(&c, &cmd, &mut line);
            let len = format!("{}", cmd.len());
            let prefix = format!("enc:{}:", len);
            prop_assert!(line.starts_with(prefix.as_bytes()));
            let hex = &line[5 + len.len()..];
            prop_assert_eq!(hex.len(), (cmd.len() / 8 + 1) * 16);
            prop_assert!(hex.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)));
            prop_assert_eq!(&decode(&c, &line).unwrap()[..], &cmd[..]);
        }

        #[test]
        fn decoding_never_panics_and_errors_append_nothing(
            key in any::<[u8; 16]>(),
            line in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                // `<len>:<blocks>` shaped: every error past the prefix, and successes.
                "[0-9x]{0,3}:([0-9a-fA-F]{16}){0,3}[0-9a-fA-F:g]{0,2}".prop_map(String::into_bytes),
            ],
        ) {
            let mut with_prefix = b"enc:".to_vec();
            with_prefix.extend_from_slice(&line);
            for l in [&line[..], &with_prefix[..]] {
                let mut out = BytesMut::from(&b"keep"[..]);
                if decode_into(&cipher(key), l, &mut out).is_err() {
                    prop_assert_eq!(&out[..], b"keep");
                }
            }
        }
    }
}
