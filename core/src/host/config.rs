//! The knobs of one host scheduler.

use std::time::Duration;

/// Configuration of a [`Host`](super::Host). `Default` gives loncnew's values where loncnew had
/// one, and documented bounds where it had none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// Most links (TCP connections to the peer's lond) open at once, connecting ones included.
    /// loncnew: 10. A value of 0 is treated as 1.
    pub max_links: usize,
    /// Connection attempts (connect + handshake) that may fail in a row before the host is
    /// marked dead. loncnew 1.19: 5. Restored whenever a link becomes Idle.
    pub retries: u32,
    /// While the queue is empty and idle links exist, one idle link is closed each time this
    /// much time passes. loncnew 1.19: 3600 s.
    pub idle_timeout: Duration,
    /// Timer granularity: every deadline of the host is rounded up to a whole number of ticks
    /// since the host was created, so that many hosts wake the driver together and never more
    /// often than once per tick. loncnew's timer: 1 s. `Duration::ZERO` means exact deadlines.
    pub tick: Duration,
    /// Most requests waiting for a link (delayed ones included). Beyond it a live request is
    /// answered `con_lost` at once and a delayed one stays on disk. Default 1024.
    pub max_queue_len: usize,
    /// Most bytes of request lines waiting for a link. Default 8 MiB.
    pub max_queue_bytes: usize,
    /// First delay before a dead host is probed again (and the least delay between probes).
    /// Default 1 s.
    pub probe_min: Duration,
    /// Longest delay between two probes of a dead host. Default 300 s.
    pub probe_max: Duration,
    /// The longest a request may spend in the host, from its arrival (queued, waiting for a
    /// link's handshake, on a link) to its answer; then it is answered `con_lost` (a delayed
    /// file stays on disk). Default 30 s, loncnew's step timeout.
    pub request_timeout: Duration,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_links: 10,
            retries: 5,
            idle_timeout: Duration::from_secs(3600),
            tick: Duration::from_secs(1),
            max_queue_len: 1024,
            max_queue_bytes: 8 << 20,
            probe_min: Duration::from_secs(1),
            probe_max: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
        }
    }
}
