//! The host's view of its links: which are connecting, idle (a LIFO stack) or busy.

use crate::ids::{HostKey, LinkId};

use super::txn::Txn;

/// What the scheduler uses a link for (the link's protocol state is the node's `Link`).
#[derive(Debug)]
pub(crate) enum LinkUse {
    /// Opened, TCP connect or handshake not finished.
    Connecting,
    /// Ready and on the idle stack.
    Idle,
    /// Running a transaction.
    Busy(Txn),
}

#[derive(Debug)]
struct Slot {
    id: LinkId,
    used: LinkUse,
    /// It has carried a transaction (a lond may be closing it after that one).
    carried: bool,
}

/// At most `max_links` slots, so linear search is the fastest structure here.
#[derive(Debug)]
pub(crate) struct Links {
    host: HostKey,
    slots: Vec<Slot>,
    /// Idle links, most recently idle last (reused first).
    idle: Vec<LinkId>,
    next_number: u32,
}

impl Links {
    /// No links yet; their ids will be in the namespace of `host`.
    pub(crate) fn new(host: HostKey) -> Self {
        Links {
            host,
            slots: Vec::new(),
            idle: Vec::new(),
            next_number: 0,
        }
    }

    /// Number of links, connecting ones included.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Free the memory of the slots (when the pool is empty).
    pub(crate) fn shrink(&mut self) {
        self.slots.shrink_to_fit();
        self.idle.shrink_to_fit();
    }

    /// Links whose handshake is done (idle or busy).
    pub(crate) fn ready_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| !matches!(s.used, LinkUse::Connecting))
            .count()
    }

    pub(crate) fn idle_count(&self) -> usize {
        self.idle.len()
    }

    pub(crate) fn connecting(&self) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s.used, LinkUse::Connecting))
    }

    /// Allocate a fresh id for a new connecting link. Numbers wrap after 2^32 links; one still
    /// in use (a link idle all that time) is skipped.
    pub(crate) fn open(&mut self) -> LinkId {
        let mut id = LinkId::new(self.host, self.next_number);
        while self.usage(id).is_some() {
            self.next_number = self.next_number.wrapping_add(1);
            id = LinkId::new(self.host, self.next_number);
        }
        self.next_number = self.next_number.wrapping_add(1);
        self.slots.push(Slot {
            id,
            used: LinkUse::Connecting,
            carried: false,
        });
        id
    }

    pub(crate) fn usage(&self, id: LinkId) -> Option<&LinkUse> {
        self.slots.iter().find(|s| s.id == id).map(|s| &s.used)
    }

    fn slot_mut(&mut self, id: LinkId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id == id)
    }

    /// True while the link has carried no transaction: a lond that closes links after a
    /// reply (or an idle time) has had no reason to close this one yet.
    pub(crate) fn is_fresh(&self, id: LinkId) -> bool {
        self.slots.iter().any(|s| s.id == id && !s.carried)
    }

    /// Put a transaction on a link (which must exist and not be on the idle stack).
    pub(crate) fn set_busy(&mut self, id: LinkId, txn: Txn) {
        if let Some(slot) = self.slot_mut(id) {
            slot.carried = true;
            slot.used = LinkUse::Busy(txn);
        }
    }

    /// Take the transaction off a busy link, which is then between states until
    /// [`set_busy`](Self::set_busy) or [`set_idle`](Self::set_idle).
    pub(crate) fn take_busy(&mut self, id: LinkId) -> Option<Txn> {
        let slot = self.slot_mut(id)?;
        match std::mem::replace(&mut slot.used, LinkUse::Idle) {
            LinkUse::Busy(txn) => Some(txn),
            other => {
                slot.used = other;
                None
            }
        }
    }

    /// Mark a link idle and push it on the idle stack; returns what it held before.
    pub(crate) fn set_idle(&mut self, id: LinkId) -> Option<LinkUse> {
        let slot = self.slot_mut(id)?;
        let old = std::mem::replace(&mut slot.used, LinkUse::Idle);
        self.idle.push(id);
        Some(old)
    }

    /// Take the most recently idle link off the stack (it stays in the pool, state to be set).
    pub(crate) fn pop_idle(&mut self) -> Option<LinkId> {
        self.idle.pop()
    }

    /// Take the link that has been idle longest off the stack and out of the pool.
    pub(crate) fn remove_oldest_idle(&mut self) -> Option<LinkId> {
        if self.idle.is_empty() {
            return None;
        }
        let id = self.idle.remove(0);
        self.remove(id);
        Some(id)
    }

    /// Forget a link; returns its state, or `None` for an unknown id.
    pub(crate) fn remove(&mut self, id: LinkId) -> Option<LinkUse> {
        let pos = self.slots.iter().position(|s| s.id == id)?;
        let slot = self.slots.swap_remove(pos);
        if matches!(slot.used, LinkUse::Idle) {
            self.idle.retain(|&i| i != id);
        }
        Some(slot.used)
    }

    /// Every link's id, and whether it is busy.
    pub(crate) fn ids(&self) -> Vec<(LinkId, bool)> {
        self.slots
            .iter()
            .map(|s| (s.id, matches!(s.used, LinkUse::Busy(_))))
            .collect()
    }

    /// Forget every link; returns them with their states.
    pub(crate) fn remove_all(&mut self) -> Vec<(LinkId, LinkUse)> {
        self.idle.clear();
        self.slots.drain(..).map(|s| (s.id, s.used)).collect()
    }

    /// The busy links' transactions, for a client hang-up.
    pub(crate) fn busy_txns_mut(&mut self) -> impl Iterator<Item = &mut Txn> {
        self.slots.iter_mut().filter_map(|s| match &mut s.used {
            LinkUse::Busy(t) => Some(t),
            _ => None,
        })
    }

    /// The busy links and their transactions.
    pub(crate) fn busy(&self) -> impl Iterator<Item = (LinkId, &Txn)> {
        self.slots.iter().filter_map(|s| match &s.used {
            LinkUse::Busy(t) => Some((s.id, t)),
            _ => None,
        })
    }

    /// The busy links' transactions.
    pub(crate) fn busy_txns(&self) -> impl Iterator<Item = &Txn> {
        self.slots.iter().filter_map(|s| match &s.used {
            LinkUse::Busy(t) => Some(t),
            _ => None,
        })
    }
}
