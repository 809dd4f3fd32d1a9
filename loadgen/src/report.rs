//! Turning measurements into the two outputs a run prints: a table for
//! people and, as the very last line, one JSON object for scripts (and for
//! docs/performance.md). Latencies are kept in hdrhistograms in microseconds
//! with three significant digits, so percentiles are exact to 0.1 %.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Highest latency a histogram keeps exactly (larger values are clamped).
const MAX_TRACKED_US: u64 = 600_000_000;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("valid histogram bounds")
}

/// Records a duration in microseconds (at least 1, clamped to the range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_TRACKED_US);
    h.saturating_record(us);
}

/// A latency distribution, microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }
}

/// `1234` µs → `"1.23 ms"`, `56` → `"56 µs"`.
pub fn fmt_us(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else if us >= 1_000 {
        format!("{:.2} ms", us as f64 / 1e3)
    } else {
        format!("{us} µs")
    }
}

/// A table of latency summaries, one row each.
pub fn latency_table(rows: &[(&str, Summary)]) -> String {
    let mut out = format!(
        "{:<28} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
        "latency", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for (name, s) in rows {
        out.push_str(&format!(
            "{:<28} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
            name,
            s.count,
            fmt_us(s.p50),
            fmt_us(s.p90),
            fmt_us(s.p99),
            fmt_us(s.p999),
            fmt_us(s.max)
        ));
    }
    out
}

/// `key  value` lines, aligned.
pub fn facts(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

pub fn kib(kib: u64) -> String {
    if kib >= 10 * 1024 {
        format!("{:.1} MiB", kib as f64 / 1024.0)
    } else {
        format!("{kib} KiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_and_formats() {
        let mut h = histogram();
        for us in 1..=1000 {
            record(&mut h, Duration::from_micros(us));
        }
        let s = Summary::of(&h);
        assert_eq!(s.count, 1000);
        assert!((499..=501).contains(&s.p50), "{s:?}");
        assert!(s.max >= 999 && s.max <= 1001, "{s:?}");
        assert_eq!(fmt_us(56), "56 µs");
        assert_eq!(fmt_us(1234), "1.23 ms");
        assert_eq!(fmt_us(2_500_000), "2.50 s");
        assert_eq!(Summary::of(&histogram()).count, 0);
    }
}
