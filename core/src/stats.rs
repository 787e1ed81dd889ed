//! What a host has done, counted: requests, replies, `con_lost` by cause, replays, and the
//! reply latency (the last minute's percentiles, and a histogram since start for Prometheus).
//!
//! Counting costs a few additions per request and no allocation but a host's first reply's
//! (its last-minute window, about 1.3 KiB, then kept).

use std::time::{Duration, Instant};

/// Why a request was answered `con_lost` (or a delayed file left on disk).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LostCause {
    /// The host was dead (retries exhausted) when the request came.
    Dead,
    /// A connection to the lond could not be opened or handshaken while the request waited.
    ConnectFailed,
    /// The link carrying the request failed or closed before its reply.
    LinkLost,
    /// The request was not answered within the request timeout.
    Timeout,
    /// The host's queue was full.
    QueueFull,
    /// The daemon was stopping, or stopped serving the host.
    Shutdown,
    /// A client sent `close_connection_exit`: every waiting request is failed.
    CloseConnectionExit,
    /// The request line was longer than the line limit.
    TooLong,
}

impl LostCause {
    /// Every cause, in the order reports list them.
    pub const ALL: [LostCause; 8] = [
        LostCause::Dead,
        LostCause::ConnectFailed,
        LostCause::LinkLost,
        LostCause::Timeout,
        LostCause::QueueFull,
        LostCause::Shutdown,
        LostCause::CloseConnectionExit,
        LostCause::TooLong,
    ];

    /// The cause's name in reports and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            LostCause::Dead => "dead",
            LostCause::ConnectFailed => "connect_failed",
            LostCause::LinkLost => "link_lost",
            LostCause::Timeout => "timeout",
            LostCause::QueueFull => "queue_full",
            LostCause::Shutdown => "shutdown",
            LostCause::CloseConnectionExit => "close_connection_exit",
            LostCause::TooLong => "too_long",
        }
    }
}

/// The upper bounds, in seconds, of the buckets of the latency histogram since start
/// (Prometheus' `le` labels; a last bucket, `+Inf`, takes the rest).
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// A cumulative histogram of latencies since start, in [`LATENCY_BOUNDS`] buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    pub buckets: [u64; LATENCY_BOUNDS.len() + 1],
    /// The sum of all observations, in microseconds.
    pub sum_micros: u64,
    /// The number of observations.
    pub count: u64,
}

impl Histogram {
    fn record(&mut self, latency: Duration) {
        let secs = latency.as_secs_f64();
        let i = LATENCY_BOUNDS.partition_point(|&le| le < secs);
        self.buckets[i] += 1;
        self.sum_micros = self
            .sum_micros
            .saturating_add(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        self.count += 1;
    }
}

/// How long one slice of the last-minute window lasts; the window is [`SLICES`] of them.
pub const SLICE: Duration = Duration::from_secs(10);
/// The slices of the last-minute window.
pub const SLICES: usize = 6;
/// Fine buckets of the window: two per power of two of microseconds, from 1 µs to about
/// 2^28 µs (4.5 minutes); the last takes everything longer.
const FINE: usize = 56;

/// The index of `micros` among the fine buckets: bucket `2k` holds `[2^k, 1.5 × 2^k)`,
/// bucket `2k + 1` holds `[1.5 × 2^k, 2^(k+1))` (bucket 0 holds 0 and 1).
fn fine_bucket(micros: u64) -> usize {
    if micros < 2 {
        return 0;
    }
    let exp = 63 - micros.leading_zeros() as usize;
    let half = ((micros >> (exp - 1)) & 1) as usize;
    (2 * exp + half).min(FINE - 1)
}

/// The smallest latency, in microseconds, that falls into fine bucket `i`.
fn fine_floor(i: usize) -> u64 {
    let exp = i / 2;
    let base = 1u64 << exp;
    if i % 2 == 0 { base } else { base + base / 2 }
}

/// The latencies of the last minute: one fine histogram per [`SLICE`], the oldest reused.
#[derive(Clone, Debug)]
struct Window {
    /// The slice number (time since the epoch / `SLICE`) each histogram holds.
    slice_of: [u64; SLICES],
    counts: [[u32; FINE]; SLICES],
    max_micros: [u64; SLICES],
}

/// Percentiles of the last minute's latencies, from the fine buckets (each within about 25 %
/// of the true value), and the exact maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Replies in the last minute.
    pub count: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// The counters of one host. Read them through the public fields; the host counts.
#[derive(Clone, Debug)]
pub struct HostStats {
    /// When counting began (the host started being served): the window's epoch.
    epoch: Instant,
    /// Requests submitted by clients.
    pub requests: u64,
    /// Requests answered with the lond's reply.
    pub replies: u64,
    /// Requests answered `con_lost`, per cause ([`LostCause::ALL`] order).
    pub lost: [u64; LostCause::ALL.len()],
    /// Delayed files delivered.
    pub replayed: u64,
    /// Reply latencies since start.
    pub latency: Histogram,
    window: Option<Box<Window>>,
}

impl HostStats {
    /// Counters at zero, counting from `now`.
    pub fn new(now: Instant) -> HostStats {
        HostStats {
            epoch: now,
            requests: 0,
            replies: 0,
            lost: [0; LostCause::ALL.len()],
            replayed: 0,
            latency: Histogram::default(),
            window: None,
        }
    }

    /// The `con_lost` answers for `cause`.
    pub fn lost(&self, cause: LostCause) -> u64 {
        self.lost[cause as usize]
    }

    /// Every `con_lost` answer.
    pub fn lost_total(&self) -> u64 {
        self.lost.iter().sum()
    }

    pub(crate) fn count_request(&mut self) {
        self.requests += 1;
    }

    pub(crate) fn count_lost(&mut self, cause: LostCause) {
        self.lost[cause as usize] += 1;
    }

    pub(crate) fn count_replayed(&mut self) {
        self.replayed += 1;
    }

    /// A reply to a request that arrived at `arrived` was answered at `now`.
    pub(crate) fn count_reply(&mut self, now: Instant, arrived: Instant) {
        self.replies += 1;
        let latency = now.saturating_duration_since(arrived);
        self.latency.record(latency);
        let slice = self.slice(now);
        let w = self.window.get_or_insert_with(|| {
            Box::new(Window {
                slice_of: [u64::MAX; SLICES],
                counts: [[0; FINE]; SLICES],
                max_micros: [0; SLICES],
            })
        });
        let at = (slice % SLICES as u64) as usize;
        if w.slice_of[at] != slice {
            w.slice_of[at] = slice;
            w.counts[at] = [0; FINE];
            w.max_micros[at] = 0;
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        w.counts[at][fine_bucket(micros)] += 1;
        w.max_micros[at] = w.max_micros[at].max(micros);
    }

    fn slice(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.epoch);
        since.as_secs() / SLICE.as_secs()
    }

    /// The latencies of the replies of the last minute (the current slice and the five before).
    pub fn last_minute(&self, now: Instant) -> LatencySummary {
        let Some(w) = &self.window else {
            return LatencySummary::default();
        };
        let current = self.slice(now);
        let live = |i: usize| {
            let s = w.slice_of[i];
            s != u64::MAX && s <= current && current - s < SLICES as u64
        };
        let mut counts = [0u64; FINE];
        let mut max = 0;
        for i in (0..SLICES).filter(|&i| live(i)) {
            for (sum, c) in counts.iter_mut().zip(w.counts[i]) {
                *sum += u64::from(c);
            }
            max = max.max(w.max_micros[i]);
        }
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return LatencySummary::default();
        }
        let quantile = |q: f64| {
            // The rank of the q-quantile, 1-based: the smallest latency with at least that
            // many at or below it.
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    // The middle of the bucket, never above the maximum seen.
                    let low = fine_floor(i);
                    let high = if i + 1 < FINE { fine_floor(i + 1) } else { max };
                    return Duration::from_micros(low.midpoint(high).min(max));
                }
            }
            Duration::from_micros(max)
        };
        LatencySummary {
            count,
            p50: quantile(0.50),
            p99: quantile(0.99),
            max: Duration::from_micros(max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_buckets_split_each_power_of_two_in_two() {
        assert_eq!(fine_bucket(0), 0);
        assert_eq!(fine_bucket(1), 0);
        assert_eq!(fine_bucket(2), 2);
        assert_eq!(fine_bucket(3), 3);
        assert_eq!(fine_bucket(4), 4);
        assert_eq!(fine_bucket(5), 4);
        assert_eq!(fine_bucket(6), 5);
        assert_eq!(fine_bucket(7), 5);
        assert_eq!(fine_bucket(1_000), 19); // 2^9 = 512; 1.5 × 512 = 768 <= 1000 < 1024
        assert_eq!(fine_bucket(u64::MAX), FINE - 1);
        for i in 2..FINE {
            assert_eq!(fine_bucket(fine_floor(i)), i, "{i}");
            // Bucket 1 holds nothing: 0 and 1 µs both fall in bucket 0.
            let below = if i == 2 { 0 } else { i - 1 };
            assert_eq!(fine_bucket(fine_floor(i) - 1), below, "{i}");
        }
    }

    #[test]
    fn the_histogram_puts_each_latency_under_its_first_bound() {
        let mut h = Histogram::default();
        h.record(Duration::from_micros(1_000)); // exactly 1 ms: le 0.001
        h.record(Duration::from_micros(1_001));
        h.record(Duration::from_secs(31));
        assert_eq!(h.buckets[0], 1);
        assert_eq!(h.buckets[1], 1);
        assert_eq!(h.buckets[LATENCY_BOUNDS.len()], 1);
        assert_eq!(h.count, 3);
        assert_eq!(h.sum_micros, 1_000 + 1_001 + 31_000_000);
    }

    #[test]
    fn the_last_minute_gives_percentiles_and_forgets_older_replies() {
        let t0 = Instant::now();
        let mut s = HostStats::new(t0);
        assert_eq!(s.last_minute(t0), LatencySummary::default());
        // 98 replies of 2 ms and 2 of 900 ms, 5 s in.
        let at = t0 + Duration::from_secs(5);
        for _ in 0..98 {
            s.count_reply(at, at - Duration::from_millis(2));
        }
        for _ in 0..2 {
            s.count_reply(at, at - Duration::from_millis(900));
        }
        let m = s.last_minute(at);
        assert_eq!(m.count, 100);
        let near = |d: Duration, want: Duration| {
            let (d, w) = (d.as_secs_f64(), want.as_secs_f64());
            (d - w).abs() <= w * 0.25
        };
        assert!(near(m.p50, Duration::from_millis(2)), "{m:?}");
        assert!(near(m.p99, Duration::from_millis(900)), "{m:?}");
        assert_eq!(m.max, Duration::from_millis(900));
        assert_eq!(s.replies, 100);
        assert_eq!(s.latency.count, 100);
        // 55 s later the slice is still in the minute; 65 s later it is not.
        assert_eq!(s.last_minute(at + Duration::from_secs(54)).count, 100);
        assert_eq!(s.last_minute(at + Duration::from_secs(56)).count, 0);
        // A slice reused a minute later starts empty.
        let later = at + Duration::from_secs(60);
        s.count_reply(later, later - Duration::from_millis(7));
        let m = s.last_minute(later);
        assert_eq!(m.count, 1);
        assert_eq!(m.max, Duration::from_millis(7));
        assert_eq!(m.p50, m.p99);
        assert!(near(m.p50, Duration::from_millis(7)), "{m:?}");
        // The histogram since start keeps everything.
        assert_eq!(s.latency.count, 101);
    }

    #[test]
    fn lost_answers_are_counted_by_cause() {
        let mut s = HostStats::new(Instant::now());
        s.count_lost(LostCause::Dead);
        s.count_lost(LostCause::Dead);
        s.count_lost(LostCause::QueueFull);
        assert_eq!(s.lost(LostCause::Dead), 2);
        assert_eq!(s.lost(LostCause::QueueFull), 1);
        assert_eq!(s.lost(LostCause::Timeout), 0);
        assert_eq!(s.lost_total(), 3);
        let names: Vec<&str> = LostCause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "dead",
                "connect_failed",
                "link_lost",
                "timeout",
                "queue_full",
                "shutdown",
                "close_connection_exit",
                "too_long"
            ]
        );
    }
}
