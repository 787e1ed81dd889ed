//! Helpers shared by the host scheduler tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use lonc_core::host::{DelayedFile, Host, HostAction, HostConfig};
use lonc_core::ids::{ClientId, HostKey, LinkId};
use lonc_core::log::Severity;
use lonc_core::logfmt::message;

pub const HOST: &str = "msul1";

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub fn c(n: u64) -> ClientId {
    ClientId(n)
}

pub fn host(config: HostConfig, t0: Instant) -> Host {
    Host::new(HostKey(0), HOST, config, t0, 7)
}

/// Everything the host wants done, in order.
pub fn drain(h: &mut Host) -> Vec<HostAction> {
    std::iter::from_fn(|| h.poll_action()).collect()
}

pub fn opens(a: &[HostAction]) -> Vec<LinkId> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::OpenLink(l) => Some(*l),
            _ => None,
        })
        .collect()
}

pub fn closes(a: &[HostAction]) -> Vec<LinkId> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::CloseLink(l) => Some(*l),
            _ => None,
        })
        .collect()
}

pub fn starts(a: &[HostAction]) -> Vec<(LinkId, String)> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Start { link, request } => {
                Some((*link, String::from_utf8_lossy(request).into_owned()))
            }
            _ => None,
        })
        .collect()
}

pub fn answers(a: &[HostAction]) -> Vec<(u64, String)> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Answer { client, line } => {
                Some((client.0, String::from_utf8_lossy(line).into_owned()))
            }
            _ => None,
        })
        .collect()
}

pub fn logs(a: &[HostAction], sev: Severity) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Log(e) if e.severity() == sev => Some(message(e, HOST)),
            _ => None,
        })
        .collect()
}

pub fn all_logs(a: &[HostAction]) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::Log(e) => Some(message(e, HOST)),
            HostAction::PermLog(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

pub fn deleted(a: &[HostAction]) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::DeleteDelayed(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

pub fn perm(a: &[HostAction]) -> Vec<String> {
    a.iter()
        .filter_map(|x| match x {
            HostAction::PermLog(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

pub fn lists(a: &[HostAction]) -> usize {
    a.iter()
        .filter(|x| matches!(x, HostAction::ListDelayed))
        .count()
}

/// True if the actions touch the network (open a link or start a transaction).
pub fn touches_network(a: &[HostAction]) -> bool {
    a.iter()
        .any(|x| matches!(x, HostAction::OpenLink(_) | HostAction::Start { .. }))
}

pub fn file(name: &str, request: &str) -> DelayedFile {
    DelayedFile {
        name: name.to_owned(),
        request: b(request),
    }
}

/// Submit one request on a fresh host and bring its first link up; returns the link.
pub fn one_ready_link(h: &mut Host, now: Instant) -> LinkId {
    h.submit(now, c(999), b("ping"));
    let a = drain(h);
    let link = opens(&a)[0];
    h.handle_link_ready(now, link);
    let _ = drain(h);
    h.handle_reply(now, link, b("pong"));
    let a = drain(h);
    assert_eq!(answers(&a), [(999, "pong".to_string())]);
    link
}
