//! Deadlines, kept one way by every state machine of the core.
//!
//! A machine names its timers with a small enum ([`TimerKind`]) and keeps them in a
//! [`Timers`] table: one slot per kind, `next()` is the earliest deadline (its `poll_timeout`),
//! and its `handle_timeout(now)` is a loop over [`Timers::pop_expired`]. A table may round its
//! deadlines up to a tick, so that many machines wake their driver together and never more
//! often than once per tick.
//!
//! The [`Node`](crate::node::Node), which composes many machines, files each machine's `next()`
//! in a [`Deadlines`] index and fires the machines that are due.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// The timers of one machine: an enum whose variants index the slots of its [`Timers`].
pub trait TimerKind: Copy + 'static {
    /// Every kind, in slot order.
    const ALL: &'static [Self];

    /// The kind's slot: its position in [`TimerKind::ALL`].
    fn slot(self) -> usize;
}

/// One deadline per [`TimerKind`] (`N` is the number of kinds).
#[derive(Clone, Debug)]
pub struct Timers<K: TimerKind, const N: usize> {
    at: [Option<Instant>; N],
    /// Deadlines are rounded up to `epoch + k * tick` when this is set.
    tick: Option<(Instant, Duration)>,
    _kind: PhantomData<K>,
}

impl<K: TimerKind, const N: usize> Default for Timers<K, N> {
    fn default() -> Self {
        Timers {
            at: [None; N],
            tick: None,
            _kind: PhantomData,
        }
    }
}

impl<K: TimerKind, const N: usize> Timers<K, N> {
    /// A table with exact deadlines and nothing armed.
    pub fn new() -> Self {
        Self::default()
    }

    /// A table whose deadlines are rounded up to a whole number of `tick`s after `epoch`
    /// (`Duration::ZERO`: exact deadlines).
    pub fn with_tick(epoch: Instant, tick: Duration) -> Self {
        Timers {
            tick: (!tick.is_zero()).then_some((epoch, tick)),
            ..Self::default()
        }
    }

    /// The deadline of `kind`, if armed.
    pub fn get(&self, kind: K) -> Option<Instant> {
        self.at[kind.slot()]
    }

    /// True when `kind` is armed.
    pub fn is_set(&self, kind: K) -> bool {
        self.get(kind).is_some()
    }

    /// Arms `kind` to fire at `deadline` (rounded up to the tick).
    pub fn set(&mut self, kind: K, deadline: Instant) {
        self.at[kind.slot()] = self.round_up(deadline);
    }

    /// Arms `kind` to fire `after` from `now`; a deadline too far to be represented means
    /// "never" (the timer is disarmed).
    pub fn set_after(&mut self, kind: K, now: Instant, after: Duration) {
        self.at[kind.slot()] = now.checked_add(after).and_then(|d| self.round_up(d));
    }

    /// Re-arms `kind` to fire `after` from `now` if it is armed (an inactivity timeout that
    /// restarts on progress); a disarmed timer stays disarmed.
    pub fn restart(&mut self, kind: K, now: Instant, after: Duration) {
        if self.is_set(kind) {
            self.set_after(kind, now, after);
        }
    }

    /// Disarms `kind`.
    pub fn clear(&mut self, kind: K) {
        self.at[kind.slot()] = None;
    }

    /// Disarms every timer.
    pub fn clear_all(&mut self) {
        self.at = [None; N];
    }

    /// The earliest deadline: what the machine's `poll_timeout` returns.
    pub fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// Disarms and returns the earliest timer due at `now` (the first kind on a tie), or
    /// `None` when none is due. A machine's `handle_timeout` loops on it.
    pub fn pop_expired(&mut self, now: Instant) -> Option<K> {
        let (slot, _) = self
            .at
            .iter()
            .enumerate()
            .filter_map(|(i, at)| at.filter(|t| *t <= now).map(|t| (i, t)))
            .min_by_key(|&(i, t)| (t, i))?;
        self.at[slot] = None;
        K::ALL.get(slot).copied()
    }

    fn round_up(&self, deadline: Instant) -> Option<Instant> {
        let Some((epoch, tick)) = self.tick else {
            return Some(deadline);
        };
        let since = deadline.saturating_duration_since(epoch).as_nanos();
        let ticks = since.div_ceil(tick.as_nanos());
        let nanos = u64::try_from(ticks.checked_mul(tick.as_nanos())?).ok()?;
        epoch.checked_add(Duration::from_nanos(nanos))
    }
}

/// The index a composing machine keeps of its parts' deadlines: each part `T` is filed under
/// its earliest deadline, so the earliest of all is found at once and the due parts in order.
#[derive(Clone, Debug)]
pub struct Deadlines<T: Ord + Copy> {
    by_time: BTreeSet<(Instant, T)>,
}

impl<T: Ord + Copy> Default for Deadlines<T> {
    fn default() -> Self {
        Deadlines {
            by_time: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Copy> Deadlines<T> {
    /// Moves `part` from its deadline `old` (as last filed) to `new`; returns `new`, to be
    /// remembered as the part's filed deadline.
    pub fn refile(
        &mut self,
        part: T,
        old: Option<Instant>,
        new: Option<Instant>,
    ) -> Option<Instant> {
        if old != new {
            if let Some(old) = old {
                self.by_time.remove(&(old, part));
            }
            if let Some(new) = new {
                self.by_time.insert((new, part));
            }
        }
        new
    }

    /// The earliest deadline filed.
    pub fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The parts due at `now`, earliest first.
    pub fn due(&self, now: Instant) -> Vec<T> {
        self.by_time
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, p)| *p)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum T {
        A,
        B,
    }

    impl TimerKind for T {
        const ALL: &'static [T] = &[T::A, T::B];
        fn slot(self) -> usize {
            self as usize
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_earliest_due_timer_fires_first_and_only_once() {
        let t0 = Instant::now();
        let mut t: Timers<T, 2> = Timers::new();
        assert_eq!(t.next(), None);
        assert_eq!(t.pop_expired(t0 + secs(100)), None);
        t.set(T::B, t0 + secs(2));
        t.set_after(T::A, t0, secs(3));
        assert_eq!(t.next(), Some(t0 + secs(2)));
        assert_eq!(t.pop_expired(t0 + secs(1)), None);
        assert_eq!(t.pop_expired(t0 + secs(5)), Some(T::B));
        assert!(!t.is_set(T::B));
        assert_eq!(t.pop_expired(t0 + secs(5)), Some(T::A));
        assert_eq!(t.pop_expired(t0 + secs(5)), None);
        // On a tie, the first kind fires first.
        t.set(T::B, t0 + secs(1));
        t.set(T::A, t0 + secs(1));
        assert_eq!(t.pop_expired(t0 + secs(1)), Some(T::A));
        assert_eq!(t.pop_expired(t0 + secs(1)), Some(T::B));
        t.set(T::A, t0);
        t.clear(T::A);
        assert_eq!(t.get(T::A), None);
        t.restart(T::A, t0, secs(9));
        assert_eq!(t.get(T::A), None, "a disarmed timer is not restarted");
        t.set(T::A, t0 + secs(1));
        t.restart(T::A, t0 + secs(5), secs(9));
        assert_eq!(t.get(T::A), Some(t0 + secs(14)));
        t.set(T::A, t0);
        t.set(T::B, t0);
        t.clear_all();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn deadlines_round_up_to_the_tick_and_overflow_means_never() {
        let t0 = Instant::now();
        let mut t: Timers<T, 2> = Timers::with_tick(t0, secs(1));
        t.set_after(T::A, t0 + Duration::from_millis(300), secs(10));
        assert_eq!(t.get(T::A), Some(t0 + secs(11)));
        t.set(T::B, t0 + secs(2));
        assert_eq!(t.get(T::B), Some(t0 + secs(2)), "a whole tick stays");
        t.set_after(T::B, t0, Duration::MAX);
        assert_eq!(t.get(T::B), None);
        let mut exact: Timers<T, 2> = Timers::with_tick(t0, Duration::ZERO);
        exact.set_after(T::A, t0, Duration::from_millis(1500));
        assert_eq!(exact.next(), Some(t0 + Duration::from_millis(1500)));
    }

    #[test]
    fn the_index_finds_the_due_parts_in_order() {
        let t0 = Instant::now();
        let mut d: Deadlines<u32> = Deadlines::default();
        let a = d.refile(1, None, Some(t0 + secs(5)));
        let b = d.refile(2, None, Some(t0 + secs(3)));
        assert_eq!(d.next(), Some(t0 + secs(3)));
        assert_eq!(d.due(t0 + secs(4)), vec![2]);
        assert_eq!(d.due(t0 + secs(9)), vec![2, 1]);
        let a = d.refile(1, a, Some(t0 + secs(1)));
        assert_eq!(d.due(t0 + secs(2)), vec![1]);
        d.refile(1, a, None);
        d.refile(2, b, None);
        assert_eq!(d.next(), None);
        assert!(d.due(t0 + secs(100)).is_empty());
    }
}
