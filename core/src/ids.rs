//! The handles by which a runtime and the core name what they share: a served host, a link to
//! its lond, a lonnet client connection. Each is a small copyable value, unique in the node.

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
}
