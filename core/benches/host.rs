//! Speed and memory of the host scheduler. Plain `Instant`-timed loops (no criterion) and a
//! counting global allocator. Run: `cargo bench -p lonc-core --bench host`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lonc_core::host::{Host, HostAction, HostConfig};
use lonc_core::ids::{ClientId, HostKey, LinkId};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Relaxed)
}

fn allocs() -> usize {
    ALLOCS.load(Relaxed)
}

fn drain(h: &mut Host) -> usize {
    let mut n = 0;
    while let Some(a) = h.poll_action() {
        black_box(&a);
        n += 1;
    }
    n
}

fn opened(h: &mut Host) -> Vec<LinkId> {
    std::iter::from_fn(|| h.poll_action())
        .filter_map(|a| match a {
            HostAction::OpenLink(l) => Some(l),
            _ => None,
        })
        .collect()
}

/// A host with `links` ready links, all idle.
fn warm_host(links: usize, t0: Instant) -> Host {
    let cfg = HostConfig {
        max_links: links,
        max_queue_len: 1 << 20,
        max_queue_bytes: 1 << 30,
        ..HostConfig::default()
    };
    let mut h = Host::new(HostKey(0), "msul1", cfg, t0, 1);
    for i in 0..links as u64 {
        h.submit(t0, ClientId(i), Bytes::from_static(b"ping"));
    }
    let mut busy = vec![];
    loop {
        let open = opened(&mut h);
        let Some(&l) = open.first() else { break };
        h.handle_link_ready(t0, l);
        busy.push(l);
    }
    let _ = drain(&mut h);
    for l in busy {
        h.handle_reply(t0, l, Bytes::from_static(b"pong"));
    }
    let _ = drain(&mut h);
    h
}

/// submit -> Start -> handle_reply -> Answer on one idle link.
fn bench_idle_path(n: u64) -> (f64, f64) {
    let t0 = Instant::now();
    let mut h = warm_host(1, t0);
    let link = LinkId(0);
    let req = Bytes::from_static(b"get:msu:jdoe:environment");
    let rep = Bytes::from_static(b"ok");
    // warm-up
    for i in 0..10_000 {
        h.submit(t0, ClientId(i), req.clone());
        drain(&mut h);
        h.handle_reply(t0, link, rep.clone());
        drain(&mut h);
    }
    let a0 = allocs();
    let start = Instant::now();
    for i in 0..n {
        h.submit(t0, ClientId(i), black_box(req.clone()));
        drain(&mut h);
        h.handle_reply(t0, link, black_box(rep.clone()));
        drain(&mut h);
    }
    let el = start.elapsed();
    (
        el.as_nanos() as f64 / n as f64,
        (allocs() - a0) as f64 / n as f64,
    )
}

/// Ten busy links and a standing queue: every reply starts the next queued request.
fn bench_queued_path(n: u64) -> (f64, f64) {
    let t0 = Instant::now();
    let mut h = warm_host(10, t0);
    let req = Bytes::from_static(b"get:msu:jdoe:environment");
    let rep = Bytes::from_static(b"ok");
    // Occupy the ten links and keep 100 requests queued.
    for i in 0..110 {
        h.submit(t0, ClientId(i), req.clone());
    }
    drain(&mut h);
    let a0 = allocs();
    let start = Instant::now();
    for i in 0..n {
        let link = LinkId(i % 10);
        h.handle_reply(t0, link, black_box(rep.clone()));
        drain(&mut h);
        h.submit(t0, ClientId(1000 + i), black_box(req.clone()));
        drain(&mut h);
    }
    let el = start.elapsed();
    (
        el.as_nanos() as f64 / n as f64,
        (allocs() - a0) as f64 / n as f64,
    )
}

/// Bytes held per queued request of `len` bytes, request allocation included.
fn mem_per_queued(n: usize, len: usize) -> f64 {
    let t0 = Instant::now();
    let cfg = HostConfig {
        max_queue_len: n + 1,
        max_queue_bytes: usize::MAX,
        ..HostConfig::default()
    };
    let mut h = Host::new(HostKey(0), "msul1", cfg, t0, 1);
    h.submit(t0, ClientId(0), Bytes::from_static(b"x")); // opens the link, which never connects
    drain(&mut h);
    let before = live();
    for i in 0..n {
        h.submit(t0, ClientId(i as u64 + 1), Bytes::from(vec![b'q'; len]));
        drain(&mut h);
    }
    let after = live();
    black_box(&h);
    (after - before) as f64 / n as f64
}

/// Bytes per host with no links: fresh, and after a burst of traffic whose links were pruned.
fn mem_per_idle_host(n: usize, after_traffic: bool) -> f64 {
    let t0 = Instant::now();
    let before = live();
    let mut hosts = Vec::with_capacity(n);
    for i in 0..n {
        let mut h = Host::new(
            HostKey(0),
            &format!("host{i:05}"),
            HostConfig::default(),
            t0,
            i as u64,
        );
        if after_traffic {
            h = warm_host(10, t0);
            let mut t = t0;
            while h.link_count() > 0 {
                t += Duration::from_secs(3600);
                h.handle_timeout(t);
                drain(&mut h);
            }
        }
        hosts.push(h);
    }
    let after = live();
    black_box(&hosts);
    (after - before) as f64 / n as f64
}

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --benches` keep the run short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 10_000 } else { 2_000_000 };
    let (idle_ns, idle_allocs) = bench_idle_path(n);
    let (queued_ns, queued_allocs) = bench_queued_path(n);
    let q64 = mem_per_queued(if quick { 1000 } else { 100_000 }, 64);
    let q512 = mem_per_queued(if quick { 1000 } else { 100_000 }, 512);
    let host_fresh = mem_per_idle_host(if quick { 100 } else { 10_000 }, false);
    let host_used = mem_per_idle_host(if quick { 10 } else { 1_000 }, true);

    println!("host scheduler benchmark ({n} transactions per CPU row)");
    println!("{:<58} {:>12} {:>10}", "measure", "value", "goal");
    println!(
        "{:<58} {:>9.0} ns {:>10}",
        "CPU per transaction, idle link (submit..Answer)", idle_ns, "<= 1000"
    );
    println!(
        "{:<58} {:>12.2} {:>10}",
        "  heap allocations per transaction", idle_allocs, ""
    );
    println!(
        "{:<58} {:>9.0} ns {:>10}",
        "CPU per transaction, 10 busy links + queue", queued_ns, "<= 1000"
    );
    println!(
        "{:<58} {:>12.2} {:>10}",
        "  heap allocations per transaction", queued_allocs, ""
    );
    println!(
        "{:<58} {:>10.0} B {:>10}",
        "memory per queued 64-byte request (request included)", q64, "<= 192"
    );
    println!(
        "{:<58} {:>10.0} B {:>10}",
        "memory per queued 512-byte request (request included)", q512, "<= 640"
    );
    println!(
        "{:<58} {:>10.0} B {:>10}",
        "memory per idle host, no links, fresh", host_fresh, "<= 1024"
    );
    println!(
        "{:<58} {:>10.0} B {:>10}",
        "memory per idle host, no links, after 10 links were pruned", host_used, "<= 1024"
    );
    println!(
        "{:<58} {:>10} B",
        "size_of::<Host>()",
        std::mem::size_of::<Host>()
    );
}
