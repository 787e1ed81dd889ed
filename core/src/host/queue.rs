//! The bounded FIFO of requests waiting for a link.

use std::collections::VecDeque;

use super::txn::Txn;

#[derive(Debug)]
pub(crate) struct WorkQueue {
    items: VecDeque<Txn>,
    bytes: usize,
    max_len: usize,
    max_bytes: usize,
}

impl WorkQueue {
    pub(crate) fn new(max_len: usize, max_bytes: usize) -> Self {
        WorkQueue {
            items: VecDeque::new(),
            bytes: 0,
            max_len,
            max_bytes,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Txn> {
        self.items.iter()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True if a request of `len` bytes may join the queue.
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.items.len() < self.max_len
            && self
                .bytes
                .checked_add(len)
                .is_some_and(|b| b <= self.max_bytes)
    }

    /// True if a request of `len` bytes would fit in the empty queue.
    pub(crate) fn could_hold(&self, len: usize) -> bool {
        self.max_len > 0 && len <= self.max_bytes
    }

    /// Free the memory of an empty queue.
    pub(crate) fn shrink(&mut self) {
        if self.items.is_empty() {
            self.items = VecDeque::new();
        }
    }

    /// Append (the caller checked [`fits`](Self::fits)).
    pub(crate) fn push(&mut self, txn: Txn) {
        self.bytes += txn.request.len();
        self.items.push_back(txn);
    }

    /// Put a transaction back at the head (it came back unread from a link). It left the
    /// queue before any queued one came, so its deadline is no later than theirs; but several
    /// may come back, in any order: it goes before the first whose deadline is not earlier,
    /// which keeps the queue in deadline order (its head has the earliest).
    pub(crate) fn push_front(&mut self, txn: Txn) {
        self.bytes += txn.request.len();
        // No deadline is the latest of all.
        let not_earlier = |t: &Txn| match (t.deadline, txn.deadline) {
            (Some(queued), Some(mine)) => queued >= mine,
            (None, _) => true,
            (Some(_), None) => false,
        };
        let at = self
            .items
            .iter()
            .position(not_earlier)
            .unwrap_or(self.items.len());
        self.items.insert(at, txn);
    }

    /// The earliest deadline of a queued transaction: the head's.
    pub(crate) fn next_deadline(&self) -> Option<std::time::Instant> {
        self.items.iter().find_map(|t| t.deadline)
    }

    /// Takes the transactions whose deadline is due at `now`.
    pub(crate) fn take_expired(&mut self, now: std::time::Instant) -> Vec<Txn> {
        let mut expired = Vec::new();
        let mut kept = VecDeque::with_capacity(self.items.len());
        for t in self.items.drain(..) {
            if t.deadline.is_some_and(|d| d <= now) {
                self.bytes -= t.request.len();
                expired.push(t);
            } else {
                kept.push_back(t);
            }
        }
        self.items = kept;
        expired
    }

    /// The first transaction in order that may go to a link: any for a `fresh` one; for a
    /// link that has carried a transaction, the first not sent again after its link closed
    /// under it (that one waits for a fresh link, so as not to meet the same race twice).
    pub(crate) fn pop_for(&mut self, fresh: bool) -> Option<Txn> {
        let at = if fresh {
            0
        } else {
            self.items.iter().position(|t| !t.resent)?
        };
        let txn = self.items.remove(at)?;
        self.bytes -= txn.request.len();
        Some(txn)
    }

    /// Remove the transactions for which `drop` is true, keeping the order of the others.
    pub(crate) fn remove_if(&mut self, mut drop: impl FnMut(&Txn) -> bool) -> usize {
        let before = self.items.len();
        let mut bytes = self.bytes;
        self.items.retain(|t| {
            let d = drop(t);
            if d {
                bytes -= t.request.len();
            }
            !d
        });
        self.bytes = bytes;
        before - self.items.len()
    }

    /// Take every queued transaction, oldest first.
    pub(crate) fn take_all(&mut self) -> VecDeque<Txn> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }
}
