//! The session key ("ekey") of profile A: how lond builds it and how both ends derive the
//! 16-byte IDEA key from it (protocol section 3.3).

use std::fmt;

/// A 128-bit IDEA key as both ends of a link derive it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey([u8; 16]);

impl fmt::Debug for SessionKey {
    // The key is a secret: never print it by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    /// A key from its raw bytes (for tests and fixed-key harnesses).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        SessionKey(bytes)
    }

    /// Derives the key from the two LON-CAPA host ids (server first, client second, on both ends)
    /// and the build key line lond sent (without its LF).
    pub fn derive(server_id: &[u8], client_id: &[u8], build_key: &[u8]) -> Self {
        let mut ids = Vec::with_capacity(server_id.len() + client_id.len());
        ids.extend(server_id.iter().chain(client_id).map(|&c| id_char(c)));
        let unit_len = ids.len() + build_key.len();
        let mut keystring = [0u8; 32];
        if unit_len > 0 {
            let unit = ids.iter().chain(build_key).copied().cycle();
            for (slot, c) in keystring.iter_mut().zip(unit) {
                *slot = c;
            }
            // `k . buildkey . k . buildkey . k . buildkey`: three repetitions, so a unit shorter
            // than 11 characters leaves zero nibbles at the end, as Perl's pack does.
            let available = (3 * unit_len).min(32);
            SessionKey(pack_h32(&keystring[..available]))
        } else {
            SessionKey([0; 16])
        }
    }

    /// True when the ids and build key together are shorter than the 32 key characters, so
    /// that the key depends on how the LF of the build key line is treated (protocol 3.3, open
    /// point): worth a warning in the log.
    pub fn is_short(server_id: &[u8], client_id: &[u8], build_key: &[u8]) -> bool {
        server_id.len() + client_id.len() + build_key.len() < 32
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// One character of the id part: upper-cased, then `G`–`P` → `0`–`9` and `Q`–`Z` → `0`–`9`.
fn id_char(c: u8) -> u8 {
    match c.to_ascii_uppercase() {
        u @ b'G'..=b'P' => b'0' + (u - b'G'),
        u @ b'Q'..=b'Z' => b'0' + (u - b'Q'),
        u => u,
    }
}

/// Perl's `pack("H32", s)`: two characters per byte, high nibble first; an ASCII letter gives
/// `(c + 9) & 0xF`, any other character `c & 0xF`; missing characters give zero nibbles and
/// characters beyond the 32nd are ignored.
pub fn pack_h32(s: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, &c) in s.iter().take(32).enumerate() {
        let nibble = if c.is_ascii_alphabetic() {
            c.wrapping_add(9) & 0xF
        } else {
            c & 0xF
        };
        out[i / 2] |= if i % 2 == 0 { nibble << 4 } else { nibble };
    }
    out
}

/// The numbers lond draws for one build key; the core takes them from the caller so that it
/// never draws randomness itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySeed {
    /// lond's Unix time.
    pub time: u64,
    /// The lond child's pid.
    pub pid: u32,
    /// `0..=99999`, inside the translated part.
    pub random: u32,
    /// `0..=99999`, prefixed untranslated.
    pub prefix: u32,
    /// `0..=99999`, appended untranslated.
    pub suffix: u32,
}

/// The build key lond sends in answer to `ekey`:
/// `<prefix>` . tr/1-6/A-F/(`<time><pid><random>`) . `<suffix>`.
pub fn build_key(seed: &KeySeed) -> String {
    let b: String = format!("{}{}{}", seed.time, seed.pid, seed.random)
        .chars()
        .map(|c| match c {
            '1'..='6' => char::from(b'A' + (c as u8 - b'1')),
            c => c,
        })
        .collect();
    format!("{}{}{}", seed.prefix, b, seed.suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const SEED: KeySeed = KeySeed {
        time: 1_050_000_000,
        pid: 4242,
        random: 31337,
        prefix: 777,
        suffix: 12,
    };

    #[test]
    fn appendix_a_build_key() {
        assert_eq!(build_key(&SEED), "777A0E0000000DBDBCACC712");
    }

    #[test]
    fn appendix_a_id_part() {
        let ids: Vec<u8> = b"msul1msul2".iter().map(|&c| id_char(c)).collect();
        assert_eq!(ids, b"6245162452");
    }

    #[test]
    fn appendix_a_session_key() {
        let key = SessionKey::derive(b"msul1", b"msul2", b"777A0E0000000DBDBCACC712");
        assert_eq!(
            hex(key.as_bytes()),
            "624516245277".to_string() + "7a0e0000000dbdbcacc7"
        );
    }

    #[test]
    fn pack_h32_punctuation_and_short_strings() {
        let packed = pack_h32(b"AB-_.\n12");
        assert_eq!(hex(&packed), format!("abdfea12{}", "0".repeat(24)));
        assert_eq!(pack_h32(b""), [0; 16]);
        assert_eq!(hex(&pack_h32(b"abc")), format!("abc{}", "0".repeat(29)));
    }

    #[test]
    fn pack_h32_ignores_characters_beyond_32() {
        let long = [b'f'; 40];
        assert_eq!(pack_h32(&long), [0xff; 16]);
    }

    #[test]
    fn appendix_a_short_key_with_newline_stripped() {
        // ids `a` + `b`, build key `7`: "AB7" repeated three times, then zero nibbles.
        let key = SessionKey::derive(b"a", b"b", b"7");
        assert_eq!(hex(key.as_bytes()), format!("ab7ab7ab7{}", "0".repeat(23)));
        assert!(SessionKey::is_short(b"a", b"b", b"7"));
        // With the LF kept, as the open point describes: "ab7\n" → "ab7a" repeated.
        let kept = SessionKey::derive(b"a", b"b", b"7\n");
        assert_eq!(
            hex(kept.as_bytes()),
            format!("ab7aab7aab7a{}", "0".repeat(20))
        );
    }

    #[test]
    fn a_key_is_short_below_32_characters_not_at_32() {
        assert!(SessionKey::is_short(b"a", b"b", &[b'7'; 29]));
        assert!(!SessionKey::is_short(b"a", b"b", &[b'7'; 30]));
        assert!(!SessionKey::is_short(
            b"msul1",
            b"msul2",
            b"777A0E0000000DBDBCACC712"
        ));
    }

    #[test]
    fn id_translation_covers_every_letter() {
        let all: Vec<u8> = b"abcdefghijklmnopqrstuvwxyz-_."
            .iter()
            .map(|&c| id_char(c))
            .collect();
        assert_eq!(all, b"ABCDEF01234567890123456789-_.");
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", SessionKey::from_bytes([7; 16])),
            "SessionKey(..)"
        );
    }
}
