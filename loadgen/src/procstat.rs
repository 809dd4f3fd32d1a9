//! What the server processes cost, read from Linux's `/proc/<pid>`: resident
//! memory (now and the kernel's high-water mark) and CPU time, summed over
//! every instance of a deployment that runs several. The load
//! generator samples these before and after a run and reports the deltas, so
//! the cost of the work it drove is separated from start-up and setup.

use serde::Serialize;
use std::time::Duration;

/// One reading of a process's memory and CPU counters.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Sample {
    /// Resident set size now (VmRSS), KiB.
    pub rss_kib: u64,
    /// Peak resident set size since the process started (VmHWM), KiB.
    pub hwm_kib: u64,
    /// User plus system CPU time since the process started, seconds.
    pub cpu_s: f64,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat`.
pub fn sample(pid: u32) -> Result<Sample, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    Ok(Sample {
        rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
        hwm_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
        cpu_s: cpu_seconds(&stat).ok_or_else(|| format!("cannot parse /proc/{pid}/stat"))?,
    })
}

/// [`sample`] of each process, summed: what a deployment of several
/// instances holds and has spent.
pub fn sample_all(pids: &[u32]) -> Result<Sample, String> {
    let mut total = Sample::default();
    for pid in pids {
        let one = sample(*pid)?;
        total.rss_kib += one.rss_kib;
        total.hwm_kib += one.hwm_kib;
        total.cpu_s += one.cpu_s;
    }
    Ok(total)
}

/// `VmRSS:     1234 kB` → 1234.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// utime + stime (fields 14 and 15 of `/proc/<pid>/stat`) in seconds. The
/// command name (field 2) may contain spaces, so fields are counted from the
/// closing parenthesis.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_second())
}

/// USER_HZ: 100 on every mainstream Linux; asked of `getconf` to be sure.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// Samples the processes in the background, keeping the highest total RSS seen.
pub struct Watcher {
    pids: Vec<u32>,
    start: Sample,
    peak_rss: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

/// What the processes cost between [`Watcher::start`] and [`Watcher::finish`]
/// (summed over them).
#[derive(Clone, Debug, Serialize)]
pub struct Usage {
    pub pids: Vec<u32>,
    pub rss_start_kib: u64,
    pub rss_end_kib: u64,
    /// Highest VmRSS sampled (every 100 ms) during the window.
    pub rss_peak_kib: u64,
    /// The kernel's peak RSS since the process started (VmHWM) at the end.
    pub hwm_end_kib: u64,
    /// CPU seconds (user + system) spent during the window.
    pub cpu_s: f64,
}

impl Watcher {
    pub fn start(pids: &[u32]) -> Result<Watcher, String> {
        let start = sample_all(pids)?;
        let peak_rss = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(start.rss_kib));
        let peak = peak_rss.clone();
        let watched = pids.to_vec();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                match sample_all(&watched) {
                    Ok(s) => {
                        peak.fetch_max(s.rss_kib, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(Watcher {
            pids: pids.to_vec(),
            start,
            peak_rss,
            task,
        })
    }

    pub fn finish(self) -> Result<Usage, String> {
        self.task.abort();
        let end = sample_all(&self.pids)?;
        let peak = self
            .peak_rss
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(end.rss_kib);
        Ok(Usage {
            pids: self.pids,
            rss_start_kib: self.start.rss_kib,
            rss_end_kib: end.rss_kib,
            rss_peak_kib: peak,
            hwm_end_kib: end.hwm_kib,
            cpu_s: end.cpu_s - self.start.cpu_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let status = "Name:\tparley\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(40_000));
        assert_eq!(status_kib(status, "VmHWM:"), Some(51_234));
        let stat = "4242 (par ley) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100 0 0";
        let cpu = cpu_seconds(stat).expect("parses");
        assert!((cpu - 300.0 / clock_ticks_per_second()).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).expect("own /proc");
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
    }
}
