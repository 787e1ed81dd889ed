//! The host's timer table (design rule 3): one slot per kind, `poll_timeout` is the minimum.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Close one idle link.
    Prune = 0,
    /// Probe a dead host.
    Probe = 1,
}

const KINDS: usize = 2;

#[derive(Debug)]
pub(crate) struct Timers {
    /// Deadlines are rounded up to `epoch + k * tick`.
    epoch: Instant,
    tick: Duration,
    at: [Option<Instant>; KINDS],
}

impl Timers {
    pub(crate) fn new(epoch: Instant, tick: Duration) -> Self {
        Timers {
            epoch,
            tick,
            at: [None; KINDS],
        }
    }

    #[cfg(test)]
    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        self.at[t as usize]
    }

    pub(crate) fn is_set(&self, t: Timer) -> bool {
        self.at[t as usize].is_some()
    }

    pub(crate) fn clear(&mut self, t: Timer) {
        self.at[t as usize] = None;
    }

    pub(crate) fn clear_all(&mut self) {
        self.at = [None; KINDS];
    }

    /// Arm `t` to fire `after` from `now`, rounded up to the tick. A deadline too far to be
    /// represented means "never".
    pub(crate) fn set(&mut self, t: Timer, now: Instant, after: Duration) {
        self.at[t as usize] = now.checked_add(after).and_then(|d| self.round_up(d));
    }

    /// Disarm and return true if `t` is due at `now`.
    pub(crate) fn take_expired(&mut self, t: Timer, now: Instant) -> bool {
        match self.at[t as usize] {
            Some(d) if d <= now => {
                self.at[t as usize] = None;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    fn round_up(&self, deadline: Instant) -> Option<Instant> {
        let tick = self.tick.as_nanos();
        if tick == 0 {
            return Some(deadline);
        }
        let since = deadline.saturating_duration_since(self.epoch).as_nanos();
        let ticks = since.div_ceil(tick);
        let nanos = u64::try_from(ticks.checked_mul(tick)?).ok()?;
        self.epoch.checked_add(Duration::from_nanos(nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_to_the_tick_and_keeps_the_minimum() {
        let t0 = Instant::now();
        let mut t = Timers::new(t0, Duration::from_secs(1));
        t.set(
            Timer::Prune,
            t0 + Duration::from_millis(300),
            Duration::from_secs(10),
        );
        assert_eq!(t.get(Timer::Prune), Some(t0 + Duration::from_secs(11)));
        t.set(Timer::Probe, t0, Duration::from_secs(2));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(2)));
        assert!(!t.take_expired(Timer::Probe, t0 + Duration::from_millis(1999)));
        assert!(t.take_expired(Timer::Probe, t0 + Duration::from_secs(2)));
        assert!(!t.is_set(Timer::Probe));
        t.set(Timer::Probe, t0, Duration::MAX);
        assert_eq!(t.get(Timer::Probe), None);
        let mut exact = Timers::new(t0, Duration::ZERO);
        exact.set(Timer::Prune, t0, Duration::from_millis(1500));
        assert_eq!(exact.next(), Some(t0 + Duration::from_millis(1500)));
    }
}
