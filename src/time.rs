//! Timestamps as milliseconds since the Unix epoch (UTC), the one time format
//! shared by both databases, the wire and the browser, and their rendering
//! for people ("just now", "5 min ago", "12 Mar").
//!
//! No clock is read here (the browser and the server each bring their own
//! `now`), which keeps this crate pure and usable in WASM.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
pub struct Timestamp(pub i64);

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// A short human distance from `now`: "just now", "4 min ago", "3 h ago",
    /// "yesterday", then a date ("12 Mar", or "12 Mar 2025" in another year).
    pub fn relative_to(self, now: Timestamp) -> String {
        let ago = now.0 - self.0;
        if ago < MINUTE {
            "just now".to_owned()
        } else if ago < HOUR {
            format!("{} min ago", ago / MINUTE)
        } else if ago < DAY {
            format!("{} h ago", ago / HOUR)
        } else if ago < 2 * DAY {
            "yesterday".to_owned()
        } else {
            let (y, m, d) = self.civil_date();
            let (now_y, _, _) = now.civil_date();
            if y == now_y {
                format!("{d} {}", MONTHS[(m - 1) as usize])
            } else {
                format!("{d} {} {y}", MONTHS[(m - 1) as usize])
            }
        }
    }

    /// "2026-11-23 14:05 UTC": exact, for tooltips and audit trails.
    pub fn utc_string(self) -> String {
        let (y, m, d) = self.civil_date();
        let in_day = self.0.rem_euclid(DAY);
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
            in_day / HOUR,
            (in_day % HOUR) / MINUTE
        )
    }

    /// "Nov 2026": for "member since".
    pub fn month_year(self) -> String {
        let (y, m, _) = self.civil_date();
        format!("{} {y}", MONTHS[(m - 1) as usize])
    }

    /// (year, month 1..=12, day 1..=31) in UTC, by Howard Hinnant's days-to-civil.
    fn civil_date(self) -> (i64, i64, i64) {
        let z = self.0.div_euclid(DAY) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, m, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23 12:00:00 UTC
    const NOON: Timestamp = Timestamp(1_795_435_200_000);

    #[test]
    fn relative_steps() {
        assert_eq!(Timestamp(NOON.0 - 5_000).relative_to(NOON), "just now");
        assert_eq!(Timestamp(NOON.0 - 4 * MINUTE).relative_to(NOON), "4 min ago");
        assert_eq!(Timestamp(NOON.0 - 3 * HOUR).relative_to(NOON), "3 h ago");
        assert_eq!(Timestamp(NOON.0 - 30 * HOUR).relative_to(NOON), "yesterday");
        assert_eq!(Timestamp(NOON.0 - 10 * DAY).relative_to(NOON), "13 Nov");
        assert_eq!(Timestamp(NOON.0 - 400 * DAY).relative_to(NOON), "19 Oct 2025");
    }

    #[test]
    fn exact_rendering() {
        assert_eq!(NOON.utc_string(), "2026-11-23 12:00 UTC");
        assert_eq!(Timestamp(0).utc_string(), "1970-01-01 00:00 UTC");
        assert_eq!(NOON.month_year(), "Nov 2026");
        // a leap day
        assert_eq!(Timestamp(1_709_208_000_000).utc_string(), "2024-02-29 12:00 UTC");
    }
}
