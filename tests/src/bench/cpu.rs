//! How much of the machine other processes took during a measurement: the whole machine's
//! busy time (`/proc/stat`) less this process's and the daemon's (`/proc/<pid>/stat`). Shared
//! machines run other work; a figure taken while something else was busy says so.

/// CPU counters at one instant, in clock ticks.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSample {
    total: u64,
    busy: u64,
    ours: u64,
    daemon: u64,
    bench: u64,
}

/// CPU time per request over a point, in microseconds.
#[derive(Clone, Copy, Debug)]
pub struct PerRequest {
    /// The daemon under test, if there is one.
    pub daemon_us: Option<f64>,
    /// This process: the load, the simulated lond and (set-up (b)) the null relay.
    pub bench_us: f64,
}

fn machine() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total, total - idle))
}

fn process(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

impl CpuSample {
    /// Now, counting this process and `daemon` (if any) as ours.
    pub fn now(daemon: Option<u32>) -> CpuSample {
        let (total, busy) = machine().unwrap_or((0, 0));
        let daemon_ticks = daemon.map_or(0, |p| process(&p.to_string()));
        let bench = process("self");
        CpuSample {
            total,
            busy,
            ours: bench + daemon_ticks,
            daemon: daemon_ticks,
            bench,
        }
    }

    /// CPU time (user and system) since `self` divided by the `sent` requests; to the clock
    /// tick (10 ms on most kernels), so meaningful over runs of a second or more.
    pub fn per_request(&self, later: &CpuSample, sent: u64, daemon: bool) -> PerRequest {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let us =
            |from: u64, to: u64| to.saturating_sub(from) as f64 * 1e6 / hz / sent.max(1) as f64;
        PerRequest {
            daemon_us: daemon.then(|| us(self.daemon, later.daemon)),
            bench_us: us(self.bench, later.bench),
        }
    }

    /// The share of the machine (0–100 %) that other processes used since `self`.
    pub fn foreign_pct_since(&self, later: &CpuSample) -> f64 {
        let total = later.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        let busy = later.busy.saturating_sub(self.busy);
        let ours = later.ours.saturating_sub(self.ours);
        100.0 * busy.saturating_sub(ours) as f64 / total as f64
    }
}
