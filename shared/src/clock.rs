use chrono::{DateTime, SubsecRound, Utc};

/// Time source. Sweeps and leases take `now` from here so tests can move time forward
/// instead of sleeping.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Whole milliseconds: every timestamp the service records, and so every one the API
    /// shows, has at most millisecond precision (as CapyDB's published API does).
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }
}

/// A clock that stands still until a test moves it: back-off and leases run out without waiting.
#[cfg(test)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

#[cfg(test)]
impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(std::sync::Mutex::new(at.trunc_subsecs(3)))
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at.trunc_subsecs(3);
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_whole_milliseconds() {
        let now = SystemClock.now();
        assert_eq!(now.timestamp_subsec_nanos() % 1_000_000, 0);
        let json = serde_json::to_string(&now).unwrap();
        let fraction = json.trim_matches('"').split('.').nth(1).unwrap_or("Z");
        assert!(fraction.len() <= 4, "at most three digits before the Z: {json}");
    }
}
