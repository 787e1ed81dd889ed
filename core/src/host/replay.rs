//! The host's side of the delayed directory: which of its files are waiting, being read,
//! queued or in flight, and which could not be read.
//!
//! Every name is in at most one of the sets. The directory is the truth: each scan replaces
//! what is waiting, and a name no scan lists any more is forgotten (a file being read, queued
//! or in flight finishes its course). A file delivered is not replayed again while scans still
//! list it: a scan made before its deletion may come back after it, and a deletion may fail.

use std::collections::BTreeSet;

use crate::spool::DelayedName;

/// How many names of one host's files are kept from a scan: a directory flooded with more
/// waits for those to be delivered (the rest are listed again by later scans).
pub(crate) const MAX_WAITING: usize = 100_000;

/// Replay order: numeric time, count, pid, then the name.
type Key = (u64, u64, u64, Box<str>);

#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// Listed by the last scan and not read, queued or in flight: in replay order.
    waiting: BTreeSet<Key>,
    /// Asked for (`ReadDelayed`) and not answered yet.
    reading: BTreeSet<Box<str>>,
    /// Queued or in flight.
    active: BTreeSet<Box<str>>,
    /// Could not be read; warned about once, skipped while scans list them.
    skipped: BTreeSet<Box<str>>,
    /// Delivered; skipped while scans list them.
    delivered: BTreeSet<Box<str>>,
    /// Deleted by an administrator (`lonc spool delete`), or being deleted: never replayed
    /// while scans list them (a scan made before the deletion may come back after it).
    removed: BTreeSet<Box<str>>,
}

impl Replay {
    /// The host's files a scan found (names that parse and are this host's). Returns how
    /// many of them are new to the host.
    pub(crate) fn listed(&mut self, names: Vec<(DelayedName, String)>) -> usize {
        let mut waiting = BTreeSet::new();
        let mut skipped = BTreeSet::new();
        let mut delivered = BTreeSet::new();
        let mut removed = BTreeSet::new();
        let mut new = 0;
        for (n, name) in names {
            let name: Box<str> = name.into();
            if self.reading.contains(&name) || self.active.contains(&name) {
                continue;
            }
            if self.skipped.contains(&name) {
                skipped.insert(name);
                continue;
            }
            if self.delivered.contains(&name) {
                delivered.insert(name);
                continue;
            }
            if self.removed.contains(&name) {
                removed.insert(name);
                continue;
            }
            if waiting.len() >= MAX_WAITING {
                continue;
            }
            let key = (n.time, n.count, n.pid, name);
            if !self.waiting.contains(&key) {
                new += 1;
            }
            waiting.insert(key);
        }
        self.waiting = waiting;
        self.skipped = skipped;
        self.delivered = delivered;
        self.removed = removed;
        new
    }

    /// An administrator deletes the file: it leaves the replay for good (while scans list
    /// it). Refused, with why, for a file being read, queued or on a link (its request may be
    /// running on the lond now), or one already delivered or deleted.
    pub(crate) fn remove(&mut self, name: &str) -> Result<(), &'static str> {
        if self.reading.contains(name) || self.active.contains(name) {
            return Err("being delivered now; try again once it is done");
        }
        if self.delivered.contains(name) {
            return Err("already delivered");
        }
        if self.removed.contains(name) {
            return Err("already deleted, or being deleted");
        }
        if let Ok(n) = DelayedName::parse(name) {
            self.waiting.remove(&(n.time, n.count, n.pid, name.into()));
        }
        self.skipped.remove(name);
        self.removed.insert(name.into());
        Ok(())
    }

    /// A deletion did not happen (its record could not be written): the file is replayed
    /// again from the next scan.
    pub(crate) fn unremove(&mut self, name: &str) {
        self.removed.remove(name);
    }

    /// Files that could not be read are tried again at the next scan (`lonc spool flush`).
    pub(crate) fn retry_skipped(&mut self) {
        self.skipped = BTreeSet::new();
    }

    /// Up to `room` waiting names, in replay order, now being read.
    pub(crate) fn take(&mut self, room: usize) -> Vec<String> {
        let mut names = Vec::new();
        while names.len() < room {
            let Some((_, _, _, name)) = self.waiting.pop_first() else {
                break;
            };
            names.push(name.to_string());
            self.reading.insert(name);
        }
        names
    }

    /// A name asked for came back: true if it was being read.
    pub(crate) fn read_back(&mut self, name: &str) -> bool {
        self.reading.remove(name)
    }

    /// A file that was read is queued.
    pub(crate) fn activate(&mut self, name: &str) {
        self.active.insert(name.into());
    }

    /// A file read but not queued (no room, or the host stopped): it waits again.
    pub(crate) fn put_back(&mut self, name: &str) {
        if let Ok(n) = DelayedName::parse(name) {
            self.waiting.insert((n.time, n.count, n.pid, name.into()));
        }
    }

    /// A file that could not be read: skipped while it stays; true the first time.
    pub(crate) fn skip(&mut self, name: &str) -> bool {
        self.skipped.insert(name.into())
    }

    /// A queued or in-flight file failed (or was put back): the next scan lists it again.
    pub(crate) fn finish(&mut self, name: &str) {
        self.active.remove(name);
    }

    /// A file in flight was delivered: it is not replayed again while scans list it.
    pub(crate) fn deliver(&mut self, name: &str) {
        if self.active.remove(name) {
            self.delivered.insert(name.into());
        }
    }

    /// True when the file is queued or in flight.
    #[cfg(test)]
    pub(crate) fn is_active(&self, name: &str) -> bool {
        self.active.contains(name)
    }

    /// Files being read, queued or in flight.
    pub(crate) fn in_use(&self) -> usize {
        self.reading.len() + self.active.len()
    }

    /// Files waiting to be read.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Forgets the waiting names (the host stops replaying); reads under way are ignored when
    /// they come back.
    pub(crate) fn stop(&mut self) {
        self.waiting = BTreeSet::new();
        self.reading = BTreeSet::new();
    }

    /// Gives back the memory of an empty replay.
    pub(crate) fn shrink(&mut self) {
        if self.waiting.is_empty() && self.reading.is_empty() && self.active.is_empty() {
            *self = Replay {
                skipped: std::mem::take(&mut self.skipped),
                delivered: std::mem::take(&mut self.delivered),
                removed: std::mem::take(&mut self.removed),
                ..Replay::default()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(names: &[&str]) -> Vec<(DelayedName, String)> {
        names
            .iter()
            .map(|n| (DelayedName::parse(n).unwrap(), n.to_string()))
            .collect()
    }

    #[test]
    fn names_are_taken_in_numeric_time_order_and_never_twice() {
        let mut r = Replay::default();
        let new = r.listed(listed(&["20.1.9.p.h", "3.2.9.p.h", "3.1.9.p.h"]));
        assert_eq!(new, 3);
        assert_eq!(r.take(2), ["3.1.9.p.h", "3.2.9.p.h"]);
        // A new scan lists them again: being read, they are not waiting twice.
        assert_eq!(
            r.listed(listed(&["20.1.9.p.h", "3.2.9.p.h", "3.1.9.p.h"])),
            0
        );
        assert_eq!(r.waiting(), 1);
        assert!(r.read_back("3.1.9.p.h"));
        assert!(!r.read_back("3.1.9.p.h"), "only once");
        r.activate("3.1.9.p.h");
        assert!(r.is_active("3.1.9.p.h"));
        assert_eq!(r.in_use(), 2);
        r.finish("3.1.9.p.h");
        assert_eq!(r.in_use(), 1);
        assert_eq!(r.take(5), ["20.1.9.p.h"]);
    }

    #[test]
    fn a_skipped_file_stays_skipped_while_listed_and_is_forgotten_once_gone() {
        let mut r = Replay::default();
        r.listed(listed(&["1.1.1.p.h"]));
        assert_eq!(r.take(1), ["1.1.1.p.h"]);
        r.read_back("1.1.1.p.h");
        assert!(r.skip("1.1.1.p.h"));
        assert!(!r.skip("1.1.1.p.h"), "warned once");
        r.listed(listed(&["1.1.1.p.h"]));
        assert_eq!(r.take(1), Vec::<String>::new());
        r.listed(listed(&[]));
        r.listed(listed(&["1.1.1.p.h"]));
        assert_eq!(
            r.take(1),
            ["1.1.1.p.h"],
            "a file put back in place is tried again"
        );
    }

    #[test]
    fn a_delivered_file_is_skipped_while_listed_and_forgotten_once_gone() {
        let mut r = Replay::default();
        r.listed(listed(&["1.1.1.p.h"]));
        assert_eq!(r.take(1), ["1.1.1.p.h"]);
        r.read_back("1.1.1.p.h");
        r.activate("1.1.1.p.h");
        r.deliver("1.1.1.p.h");
        assert_eq!(r.in_use(), 0);
        // An idle replay gives back its memory, and still remembers what was delivered.
        r.shrink();
        assert_eq!(r.listed(listed(&["1.1.1.p.h"])), 0);
        assert_eq!(r.take(1), Vec::<String>::new(), "not replayed twice");
        r.listed(listed(&[]));
        r.listed(listed(&["1.1.1.p.h"]));
        assert_eq!(
            r.take(1),
            ["1.1.1.p.h"],
            "gone, then a new file of that name"
        );
    }

    #[test]
    fn stop_forgets_what_waits_and_put_back_restores_order() {
        let mut r = Replay::default();
        r.listed(listed(&["2.1.1.p.h", "1.1.1.p.h"]));
        assert_eq!(r.take(1), ["1.1.1.p.h"]);
        r.read_back("1.1.1.p.h");
        r.put_back("1.1.1.p.h");
        assert_eq!(r.take(2), ["1.1.1.p.h", "2.1.1.p.h"]);
        r.stop();
        assert!(!r.read_back("2.1.1.p.h"));
        assert_eq!(r.in_use(), 0);
    }

    #[test]
    fn a_removed_file_is_never_taken_while_listed_and_one_in_use_is_not_removed() {
        let mut r = Replay::default();
        r.listed(listed(&["1.1.1.p.h", "2.1.1.p.h", "3.1.1.p.h"]));
        assert_eq!(r.take(1), ["1.1.1.p.h"]);
        assert!(r.remove("1.1.1.p.h").is_err(), "being read");
        r.read_back("1.1.1.p.h");
        r.activate("1.1.1.p.h");
        assert!(r.remove("1.1.1.p.h").is_err(), "queued or on a link");
        r.deliver("1.1.1.p.h");
        assert_eq!(r.remove("1.1.1.p.h"), Err("already delivered"));
        assert_eq!(r.remove("2.1.1.p.h"), Ok(()));
        assert!(r.remove("2.1.1.p.h").is_err(), "not twice");
        assert_eq!(r.waiting(), 1);
        // A scan made before the deletion comes back after it: still not replayed.
        r.listed(listed(&["1.1.1.p.h", "2.1.1.p.h", "3.1.1.p.h"]));
        assert_eq!(r.take(5), ["3.1.1.p.h"]);
        // An idle replay gives back its memory, and still remembers what was deleted.
        assert!(r.read_back("3.1.1.p.h"));
        assert_eq!(r.in_use(), 0);
        r.shrink();
        r.listed(listed(&["2.1.1.p.h"]));
        assert_eq!(
            r.take(5),
            Vec::<String>::new(),
            "deleted, even after shrink"
        );
        // A deletion that did not happen: replayed from the next scan.
        r.unremove("2.1.1.p.h");
        r.listed(listed(&["2.1.1.p.h"]));
        assert_eq!(r.take(5), ["2.1.1.p.h"]);
    }
}
