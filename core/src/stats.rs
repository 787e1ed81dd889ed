//! What a host has done, counted: requests, replies, `con_lost` by cause, replays, and the
//! reply latency (the last minute's percentiles, and a histogram since start for Prometheus).
//!
//! A host costs one pointer until it is first counted; then its counters, histograms and
//! last-minute window take one allocation of about 550 bytes, kept. Counting a reply costs a
//! few additions, a search among 12 bucket bounds and a few bit operations.

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
pub const SLICE: Duration = Duration::from_secs(20);
/// The slices of the last-minute window: the current one and the ones before it, so the
/// window covers the last 40 to 60 seconds.
pub const SLICES: usize = 3;
/// The fine buckets of the window start at 2^`FIRST_OCTAVE` µs (16 µs); bucket 0 holds
/// everything shorter.
const FIRST_OCTAVE: u32 = 4;
/// The last fine bucket holds everything from 2^`LAST_OCTAVE` µs (67 s, over twice the
/// default request timeout) on.
const LAST_OCTAVE: u32 = 26;
/// Fine buckets of the window: below 16 µs, two per power of two of microseconds up to
/// 2^26 µs, and the rest.
const FINE: usize = 2 + 2 * (LAST_OCTAVE - FIRST_OCTAVE) as usize;

/// The index of `micros` among the fine buckets: from 16 µs on, each power of two
/// `[2^k, 2^(k+1))` is split at `1.5 × 2^k`.
fn fine_bucket(micros: u64) -> usize {
    if micros < 1 << FIRST_OCTAVE {
        return 0;
    }
    let exp = 63 - micros.leading_zeros();
    let half = ((micros >> (exp - 1)) & 1) as usize;
    (1 + 2 * (exp - FIRST_OCTAVE) as usize + half).min(FINE - 1)
}

/// The smallest latency, in microseconds, that falls into fine bucket `i` (`i` ≥ 1).
fn fine_floor(i: usize) -> u64 {
    let base = 1u64 << (FIRST_OCTAVE as usize + (i - 1) / 2);
    if i % 2 == 1 { base } else { base + base / 2 }
}

/// The latencies of one slice of the last-minute window.
///
/// Counts are 16 bits: when a bucket would overflow, every count of the slice is halved, so
/// the slice keeps its shape with more weight on its later replies; `replies` stays exact
/// and gives the slice its weight in the window.
#[derive(Clone, Debug)]
struct Slice {
    /// Its number (time since the epoch / [`SLICE`]) plus one; 0 while unused.
    number: u32,
    replies: u32,
    /// The longest latency, in microseconds (saturating at about 71 minutes).
    max_micros: u32,
    counts: [u16; FINE],
}

impl Slice {
    /// An empty slice numbered `number` (0: unused).
    const fn new(number: u32) -> Slice {
        Slice {
            number,
            replies: 0,
            max_micros: 0,
            counts: [0; FINE],
        }
    }

    fn record(&mut self, micros: u64) {
        let b = fine_bucket(micros);
        if self.counts[b] == u16::MAX {
            for c in &mut self.counts {
                *c /= 2;
            }
        }
        self.counts[b] += 1;
        self.replies = self.replies.saturating_add(1);
        self.max_micros = self
            .max_micros
            .max(u32::try_from(micros).unwrap_or(u32::MAX));
    }
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

/// The counters of one host: zero, and no memory but a pointer, until it has done something.
#[derive(Clone, Debug, Default)]
pub struct HostStats {
    counts: Option<Box<Counts>>,
}

#[derive(Clone, Debug)]
struct Counts {
    /// The window's epoch: the first reply.
    epoch: Option<Instant>,
    requests: u64,
    lost: [u64; LostCause::ALL.len()],
    replayed: u64,
    /// Every reply's latency since start; its count is the replies'.
    latency: Histogram,
    window: [Slice; SLICES],
}

/// The histogram of a host that has no reply yet.
const NO_LATENCY: Histogram = Histogram {
    buckets: [0; LATENCY_BOUNDS.len() + 1],
    sum_micros: 0,
    count: 0,
};

impl HostStats {
    fn counts(&mut self) -> &mut Counts {
        self.counts.get_or_insert_with(|| {
            Box::new(Counts {
                epoch: None,
                requests: 0,
                lost: [0; LostCause::ALL.len()],
                replayed: 0,
                latency: NO_LATENCY,
                window: [const { Slice::new(0) }; SLICES],
            })
        })
    }

    /// Requests submitted by clients.
    pub fn requests(&self) -> u64 {
        self.counts.as_ref().map_or(0, |c| c.requests)
    }

    /// Requests answered with the lond's reply.
    pub fn replies(&self) -> u64 {
        self.latency().count
    }

    /// The `con_lost` answers for `cause`.
    pub fn lost(&self, cause: LostCause) -> u64 {
        self.lost_by_cause()[cause as usize]
    }

    /// The `con_lost` answers, per cause in [`LostCause::ALL`] order.
    pub fn lost_by_cause(&self) -> [u64; LostCause::ALL.len()] {
        self.counts
            .as_ref()
            .map_or([0; LostCause::ALL.len()], |c| c.lost)
    }

    /// Every `con_lost` answer.
    pub fn lost_total(&self) -> u64 {
        self.lost_by_cause().iter().sum()
    }

    /// Delayed files delivered.
    pub fn replayed(&self) -> u64 {
        self.counts.as_ref().map_or(0, |c| c.replayed)
    }

    /// Reply latencies since start.
    pub fn latency(&self) -> &Histogram {
        self.counts.as_ref().map_or(&NO_LATENCY, |c| &c.latency)
    }

    pub(crate) fn count_request(&mut self) {
        self.counts().requests += 1;
    }

    pub(crate) fn count_lost(&mut self, cause: LostCause) {
        self.counts().lost[cause as usize] += 1;
    }

    pub(crate) fn count_replayed(&mut self) {
        self.counts().replayed += 1;
    }

    /// A reply to a request that arrived at `arrived` was answered at `now`.
    pub(crate) fn count_reply(&mut self, now: Instant, arrived: Instant) {
        let latency = now.saturating_duration_since(arrived);
        let c = self.counts();
        c.latency.record(latency);
        c.epoch.get_or_insert(now);
        let number = c.slice_number(now);
        let slice = &mut c.window[number as usize % SLICES];
        if slice.number != number {
            *slice = Slice::new(number);
        }
        slice.record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// The latencies of the replies of the last minute (the current slice and the ones
    /// before it in the window).
    pub fn last_minute(&self, now: Instant) -> LatencySummary {
        let Some(c) = &self.counts else {
            return LatencySummary::default();
        };
        let current = c.slice_number(now);
        // Each slice's counts scaled to its replies (its counts may have been halved).
        let mut weights = [0f64; FINE];
        let (mut count, mut max) = (0u64, 0u64);
        for s in c.window.iter() {
            let live = s.number != 0 && s.number <= current && current - s.number < SLICES as u32;
            let kept: u64 = s.counts.iter().map(|&n| u64::from(n)).sum();
            if !live || kept == 0 {
                continue;
            }
            let scale = f64::from(s.replies) / kept as f64;
            for (w, &n) in weights.iter_mut().zip(&s.counts) {
                *w += f64::from(n) * scale;
            }
            count += u64::from(s.replies);
            max = max.max(u64::from(s.max_micros));
        }
        if count == 0 {
            return LatencySummary::default();
        }
        let total: f64 = weights.iter().sum();
        let quantile = |q: f64| {
            // The smallest bucket with at least a share q of the weight at or below it.
            let rank = q * total;
            let mut seen = 0.0;
            for (i, w) in weights.iter().enumerate() {
                seen += w;
                if *w > 0.0 && seen >= rank {
                    // The middle of the bucket, never above the maximum seen.
                    let low = if i == 0 { 0 } else { fine_floor(i) };
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

impl Counts {
    /// The number of the window's slice `now` falls in, plus one (0 marks an unused slice).
    fn slice_number(&self, now: Instant) -> u32 {
        let since = self
            .epoch
            .map_or(Duration::ZERO, |e| now.saturating_duration_since(e));
        u32::try_from(since.as_secs() / SLICE.as_secs() + 1).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_buckets_split_each_power_of_two_in_two() {
        for micros in 0..16 {
            assert_eq!(fine_bucket(micros), 0, "{micros}");
        }
        assert_eq!(fine_bucket(16), 1);
        assert_eq!(fine_bucket(23), 1);
        assert_eq!(fine_bucket(24), 2);
        assert_eq!(fine_bucket(31), 2);
        assert_eq!(fine_bucket(32), 3);
        assert_eq!(fine_bucket(1_000), 12); // 2^9 = 512; 1.5 × 512 = 768 <= 1000 < 1024
        assert_eq!(fine_bucket((1 << 26) - 1), FINE - 2);
        assert_eq!(fine_bucket(1 << 26), FINE - 1);
        assert_eq!(fine_bucket(u64::MAX), FINE - 1);
        for i in 1..FINE {
            assert_eq!(fine_bucket(fine_floor(i)), i, "{i}");
            assert_eq!(fine_bucket(fine_floor(i) - 1), i - 1, "{i}");
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
        let mut s = HostStats::default();
        assert_eq!(s.last_minute(t0), LatencySummary::default());
        // 98 replies of 2 ms and 2 of 900 ms, 5 s in.
        let at = t0 + Duration::from_secs(5);
        replies(&mut s, at, 98, Duration::from_millis(2));
        replies(&mut s, at, 2, Duration::from_millis(900));
        let m = s.last_minute(at);
        assert_eq!(m.count, 100);
        let near = |d: Duration, want: Duration| {
            let (d, w) = (d.as_secs_f64(), want.as_secs_f64());
            (d - w).abs() <= w * 0.25
        };
        assert!(near(m.p50, Duration::from_millis(2)), "{m:?}");
        assert!(near(m.p99, Duration::from_millis(900)), "{m:?}");
        assert_eq!(m.max, Duration::from_millis(900));
        assert_eq!(s.replies(), 100);
        assert_eq!(s.latency().count, 100);
        // The slices count from the first reply: 59 s later its slice is still in the window;
        // 60 s later, in the fourth 20-s slice, it is not.
        assert_eq!(s.last_minute(at + Duration::from_millis(59_999)).count, 100);
        assert_eq!(s.last_minute(at + Duration::from_secs(60)).count, 0);
        // A slice reused a minute later starts empty.
        let later = at + Duration::from_secs(60);
        s.count_reply(later, later - Duration::from_millis(7));
        let m = s.last_minute(later);
        assert_eq!(m.count, 1);
        assert_eq!(m.max, Duration::from_millis(7));
        assert_eq!(m.p50, m.p99);
        assert!(near(m.p50, Duration::from_millis(7)), "{m:?}");
        // The histogram since start keeps everything.
        assert_eq!(s.latency().count, 101);
    }

    /// `n` replies in at `at`, each `took` after its request.
    fn replies(s: &mut HostStats, at: Instant, n: u32, took: Duration) {
        for _ in 0..n {
            s.count_reply(at, at - took);
        }
    }

    /// 2 ms, and every 50th reply 900 ms.
    fn mostly_fast(s: &mut HostStats, at: Instant, n: u32) {
        for i in 0..n {
            let took = if i % 50 == 49 { 900 } else { 2 };
            s.count_reply(at, at - Duration::from_millis(took));
        }
    }

    #[test]
    fn a_slice_with_more_replies_than_16_bits_count_keeps_its_shape() {
        let t0 = Instant::now();
        let mut s = HostStats::default();
        // 200,000 replies in one slice: the 2 ms bucket passes 65,535 and is halved twice.
        mostly_fast(&mut s, t0, 200_000);
        let m = s.last_minute(t0);
        assert_eq!(m.count, 200_000);
        assert_eq!(m.p50, Duration::from_micros(1_792)); // [1536, 2048) µs
        assert_eq!(m.p99, Duration::from_millis(900)); // [786432, 1048576) µs: up to the longest
        assert_eq!(m.max, Duration::from_millis(900));
    }

    #[test]
    fn slices_weigh_by_their_replies_not_by_their_halved_counts() {
        let t0 = Instant::now();
        let mut s = HostStats::default();
        // 60,000 replies of 1 ms in the first slice, 70,000 of 100 ms in the next: the second
        // slice's counts are halved once (about 37,000 kept), yet it holds most replies.
        replies(&mut s, t0, 60_000, Duration::from_millis(1));
        let t1 = t0 + SLICE;
        replies(&mut s, t1, 70_000, Duration::from_millis(100));
        let m = s.last_minute(t1);
        assert_eq!(m.count, 130_000);
        // [98304, 131072) µs, whose middle is above the longest: the longest.
        assert_eq!(m.p50, Duration::from_millis(100));
        assert_eq!(m.max, Duration::from_millis(100));
    }

    #[test]
    fn a_slice_just_halved_keeps_its_slow_replies() {
        let t0 = Instant::now();
        let mut s = HostStats::default();
        // 40,000 replies of 900 ms, then 65,536 of 2 ms: the last one finds its bucket full and
        // halves the slice (20,000 and 32,768 kept); 38 % of the replies are still slow.
        replies(&mut s, t0, 40_000, Duration::from_millis(900));
        replies(&mut s, t0, 65_536, Duration::from_millis(2));
        let m = s.last_minute(t0);
        assert_eq!(m.count, 105_536);
        assert_eq!(m.p50, Duration::from_micros(1_792)); // [1536, 2048) µs
        assert_eq!(m.p99, Duration::from_millis(900));
    }

    #[test]
    fn the_last_fine_bucket_reaches_up_to_the_longest_reply() {
        let t0 = Instant::now();
        let mut s = HostStats::default();
        // Replies of 10 minutes (a request timeout set that long) fall in the last fine
        // bucket, from 2^26 µs (67 s) on: its estimate is the middle of 67 s and the longest
        // reply, not of a bucket closed above.
        let at = t0 + Duration::from_secs(600);
        replies(&mut s, at, 10, at - t0);
        let m = s.last_minute(at);
        assert_eq!(m.max, Duration::from_secs(600));
        assert_eq!(m.p50, Duration::from_micros(333_554_432)); // (2^26 + 600,000,000) / 2
        assert_eq!(m.p99, m.p50);
    }

    #[test]
    fn a_host_costs_a_pointer_until_counted_and_then_one_small_allocation() {
        assert_eq!(size_of::<HostStats>(), size_of::<usize>());
        let mut s = HostStats::default();
        assert!(s.counts.is_none());
        assert_eq!((s.requests(), s.replies(), s.lost_total()), (0, 0, 0));
        s.count_request();
        assert!(s.counts.is_some());
        // The budget behind "within 3 % of RSS" (README, the cost of the counters).
        assert!(size_of::<Counts>() <= 560, "{}", size_of::<Counts>());
    }

    #[test]
    fn lost_answers_are_counted_by_cause() {
        let mut s = HostStats::default();
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
