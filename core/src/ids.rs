//! The handles by which a runtime and the core name what they share: a served host, a link to
//! its lond, a lonnet client connection. Each is a small copyable value, unique in the node.
//! [`IdMap`] is the map the node and the runtimes keep them in.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A served host, as the node hands it out with `Output::Listen`. Keys are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey(pub u32);

/// One TCP link to a lond, unique in the node: the key of its host (high 32 bits) and the
/// number its host's scheduler gave it (low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

impl LinkId {
    /// Link number `n` of the host `host`.
    pub fn new(host: HostKey, n: u32) -> LinkId {
        LinkId((u64::from(host.0) << 32) | u64::from(n))
    }

    /// The host the link belongs to.
    pub fn host(self) -> HostKey {
        HostKey((self.0 >> 32) as u32)
    }

    /// The link's number within its host.
    pub fn number(self) -> u32 {
        self.0 as u32
    }
}

/// One lonnet connection on a host's UNIX socket, unique in the node (numbered by the node
/// when the runtime reports it accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// A map keyed by handles (or other integers the daemon numbers itself). The keys are never
/// chosen by a peer, so they need no protection against collisions forced from outside, and
/// [`IdHasher`] replaces the default SipHash: under load a request looks its client, link and
/// host up dozens of times, and SipHash took a fifth of the daemons' user time.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The hasher of [`IdMap`]: one rotate, xor and multiply per integer written (the Fx hash).
/// Sequential ids land in distinct buckets (the multiplier is odd) and spread over the high
/// bits the table uses for its tags.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl IdHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(Self::K);
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }

    fn write_u16(&mut self, v: u16) {
        self.add(u64::from(v));
    }

    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }

    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }

    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_knows_its_host() {
        let l = LinkId::new(HostKey(7), 3);
        assert_eq!((l.host(), l.number()), (HostKey(7), 3));
        let l = LinkId::new(HostKey(u32::MAX), u32::MAX);
        assert_eq!((l.host(), l.number()), (HostKey(u32::MAX), u32::MAX));
        assert_eq!(LinkId::new(HostKey(0), 5), LinkId(5));
    }

    #[test]
    fn an_id_map_spreads_sequential_ids() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (0..1024u64).map(|n| build.hash_one(ClientId(n))).collect();
        // Distinct low bits (the bucket) and varied high 7 bits (the tag).
        let buckets: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        assert_eq!(buckets.len(), 1024);
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(tags.len() > 100, "{} tags", tags.len());
        let mut map = IdMap::default();
        for n in 0..1000 {
            map.insert(LinkId::new(HostKey(n % 7), n), n);
        }
        assert_eq!(map.get(&LinkId::new(HostKey(3), 500)), Some(&500));
        assert_eq!(map.len(), 1000);
    }

    /// How many of the keys' hashes fall in distinct buckets of a 1024-bucket table.
    fn buckets<K: std::hash::Hash>(keys: impl IntoIterator<Item = K>) -> usize {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<IdHasher>::default();
        let buckets: std::collections::HashSet<u64> =
            keys.into_iter().map(|k| build.hash_one(k) & 1023).collect();
        buckets.len()
    }

    #[test]
    fn every_key_type_is_spread() {
        // Not only u64 handles: HostKey is a u32, the blocking runtime keys its sources by
        // usize, and any other integer, byte string or composite key may be an IdMap's. A
        // hasher that ignored one of them would still be correct, but every key would share
        // one bucket and each look-up would walk them all.
        assert_eq!(buckets((0..1024u32).map(HostKey)), 1024);
        assert_eq!(buckets(0..1024usize), 1024);
        assert_eq!(buckets(0..=255u8), 256);
        assert_eq!(buckets(0..1024u16), 1024);
        // Bytes go in 8 at a time, the last word zero-padded: names that differ only in their
        // second word, which the hash mixes into the first's.
        let names: Vec<[u8; 12]> = (0..1024u16)
            .map(|n| {
                let mut name = *b"msul1-ho..st";
                name[8..10].copy_from_slice(&n.to_le_bytes());
                name
            })
            .collect();
        assert_eq!(buckets(names.iter().map(|n| &n[..])), 1024);
        // A composite key writes two integers, the second mixed into the first's hash: no two
        // pairs hash alike.
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<IdHasher>::default();
        let pairs: std::collections::HashSet<u64> = (0..32u32)
            .flat_map(|h| (0..32u32).map(move |n| (HostKey(h), n)))
            .map(|key| build.hash_one(key))
            .collect();
        assert_eq!(pairs.len(), 1024);
    }
}
