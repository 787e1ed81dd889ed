//! The logic of the fuzz targets, as plain functions of the input bytes.
//!
//! Each target of `fuzz/` is a thin wrapper around one `run` function here, so that the same
//! bytes replay on stable Rust: `tests/tests/fuzz_corpus.rs` runs every file of
//! `fuzz/corpus/<target>/` through its function on every `cargo test`. A `run` function panics
//! when an invariant is broken; any input that does not decode into a complete script is simply
//! shortened (structured targets read their operations with [`arbitrary::Unstructured`], which
//! pads a short input with zeros).
//!
//! [`seeds`] builds the committed seed corpora from readable scripts.

pub mod config;
pub mod enc_codec;
pub mod framing;
pub mod host;
pub mod link;
pub mod seeds;
pub mod session;

use arbitrary::{Arbitrary, Unstructured};
use lonc_core::cipher::BlockCipher;
use lonc_core::key::SessionKey;

/// A fuzz target's logic: panics when the input breaks an invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("framing", framing::run),
    ("enc_codec", enc_codec::run),
    ("link", link::run),
    ("session", session::run),
    ("host", host::run),
    ("config", config::run),
];

/// A cheap 8-byte block cipher that ignores the session key: both ends of a harness agree on
/// it whatever build key went over the wire, and the harness can encode and check `enc:` lines
/// itself. Encryption and decryption differ (XOR, then a rotation), so a swapped direction
/// shows. For fuzzing and tests only: the release build uses IDEA.
#[derive(Clone, Debug)]
pub struct FixedKeyCipher;

const FIXED_MASK: [u8; 8] = [0x5a, 0x13, 0xc4, 0x7e, 0x21, 0x9b, 0x08, 0xe6];

impl BlockCipher for FixedKeyCipher {
    fn from_key(_key: &SessionKey) -> Self {
        FixedKeyCipher
    }

    fn encrypt_block(&self, block: &mut [u8; 8]) {
        for (b, m) in block.iter_mut().zip(FIXED_MASK) {
            *b ^= m;
        }
        block.rotate_left(3);
    }

    fn decrypt_block(&self, block: &mut [u8; 8]) {
        block.rotate_right(3);
        for (b, m) in block.iter_mut().zip(FIXED_MASK) {
            *b ^= m;
        }
    }
}

/// A run of bytes in a structured input: a length byte, then that many bytes (fewer at the end
/// of the input). Cheaper for the fuzzer than `Vec<u8>`, which spends a byte per element.
#[derive(Clone, PartialEq, Eq)]
pub struct Chunk(pub Vec<u8>);

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", bytes::Bytes::copy_from_slice(&self.0))
    }
}

impl<'a> Arbitrary<'a> for Chunk {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = usize::from(u8::arbitrary(u)?);
        let bytes = u.bytes(len.min(u.len()))?;
        Ok(Chunk(bytes.to_vec()))
    }
}

impl Chunk {
    /// The bytes with every LF replaced by a space: one line.
    pub fn line(&self) -> Vec<u8> {
        self.0
            .iter()
            .map(|&b| if b == b'\n' { b' ' } else { b })
            .collect()
    }
}

/// Writes structured inputs in the byte format that `arbitrary`'s derive reads back, so that
/// seed scripts can be written as values (see [`seeds`]). Every encoder here is checked by a
/// round-trip test.
#[derive(Default)]
pub struct SeedWriter(pub Vec<u8>);

impl SeedWriter {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    /// The discriminant of variant `index` of an enum of `count` variants.
    pub fn variant(&mut self, index: u32, count: u32) {
        let (index, count) = (u64::from(index), u64::from(count));
        let v = (index << 32).div_ceil(count);
        self.u32(u32::try_from(v).expect("variant index below count"));
    }
    pub fn chunk(&mut self, c: &Chunk) {
        let len = u8::try_from(c.0.len()).expect("a chunk holds at most 255 bytes");
        self.u8(len);
        self.0.extend_from_slice(&c.0);
    }
    /// A `Vec` read with `arbitrary_iter` or `arbitrary_take_rest_iter`: a continue flag
    /// before each element.
    pub fn items<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        for item in items {
            self.bool(true);
            each(self, item);
        }
        self.bool(false);
    }
}

/// A deterministic stream of small numbers from a seed (splitmix64), for chunk sizes.
pub(crate) fn cuts(seed: u64) -> crate::rng::SplitMix {
    crate::rng::SplitMix::new(seed)
}
