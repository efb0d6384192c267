//! Which failures are worth another attempt. A transient failure (the cluster restarting or
//! unreachable, a dropped connection, throttling, a write conflict) puts the job back with
//! exponential back-off; a permanent one (bad credentials, a missing database, an archive that
//! does not restore, bad input) ends it at once, naming the cause.
//!
//! Failures reach the job as the messages of the errors that caused them (the drivers' and the
//! SDKs' own texts, SQLSTATE names included), so the classification reads those.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryClass {
    Transient,
    Permanent,
}

/// Texts of failures that pass: connection trouble, a server starting up or overloaded
/// (57P03, 53300), serialization failures and deadlocks (40001, 40P01), S3 5xx / SlowDown,
/// DynamoDB throttling and transaction conflicts, the scheduler's 5xx, timeouts.
const TRANSIENT: &[&str] = &[
    "connection refused",
    "connection reset",
    "broken pipe",
    "error connecting to server",
    "cannot reach region cluster",
    "could not connect",
    "connection closed",
    // libpq's words (pg_dump, pg_restore) when the server went away mid-session: a restart,
    // a failover (57P01 is an administrator's shutdown), a dropped network path.
    "server closed the connection unexpectedly",
    "no connection to the server",
    "could not send data to server",
    "could not receive data from server",
    "terminating connection due to administrator command",
    "57p01",
    "unexpected eof",
    "timed out",
    "timeout",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "57p03",
    "too many clients",
    "too many connections",
    "53300",
    "could not serialize access",
    "40001",
    "deadlock detected",
    "40p01",
    "slowdown",
    "slow down",
    "internalerror",
    "service unavailable",
    "serviceunavailable",
    "throttling",
    "provisionedthroughputexceeded",
    "requestlimitexceeded",
    "transactionconflict",
    "status code 500",
    "status code 502",
    "status code 503",
    "status code 504",
    "dispatch failure",
    "io error",
];

/// Texts that mean trying again cannot help, even when they also mention a connection: a
/// wrong password or a missing database fails the same way every time.
const PERMANENT: &[&str] = &[
    "password authentication failed",
    "authentication failed",
    "does not exist",
    "permission denied",
    "no pg_hba.conf entry",
    "invalid",
    "corrupt",
    "checksum",
    "sha-256",
    "verification failed",
    // The data's own doing (a tenant function that runs too long, a row over a limit).
    "statement timeout",
    "canceling statement",
    "temp_file_limit",
    "out of memory",
    "disk full",
    "no space left",
];

pub fn classify(message: &str) -> RetryClass {
    let m = message.to_ascii_lowercase();
    if PERMANENT.iter().any(|p| m.contains(p)) {
        return RetryClass::Permanent;
    }
    if TRANSIENT.iter().any(|t| m.contains(t)) {
        RetryClass::Transient
    } else {
        RetryClass::Permanent
    }
}

/// The wait before attempt `attempt + 1`: `base` doubling per attempt, at most 15 minutes, with
/// ±20 % jitter (`jitter` in 0..1) so jobs that failed together do not retry together.
pub fn backoff(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let doubled = base.num_milliseconds().saturating_mul(1i64 << attempt.saturating_sub(1).min(16));
    let capped = doubled.min(Duration::minutes(15).num_milliseconds());
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Duration::milliseconds((capped as f64 * factor) as i64)
}

/// Whether a job created at `created` may still be retried at `at`: the attempts budget and a
/// total time budget, so a long outage ends in a named failure rather than endless retries.
pub fn within_budget(created: DateTime<Utc>, at: DateTime<Utc>, window: Duration) -> bool {
    at < created + window
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_passes_is_retried_and_what_cannot_pass_is_not() {
        for transient in [
            "cannot reach region cluster local-1: error connecting to server: Connection refused (os error 111)",
            "db error: FATAL: the database system is starting up",
            "db error: FATAL: sorry, too many clients already",
            "db error: ERROR: could not serialize access due to concurrent update",
            "db error: ERROR: deadlock detected",
            "connection reset by peer",
            "operation timed out",
            "S3: service error: SlowDown: Please reduce your request rate",
            "DynamoDB: ThrottlingException: Rate of requests exceeds the allowed throughput",
            "TransactionCanceledException: Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
            "scheduler: unhandled error (status code 503)",
            "pg_dump: error: Dumping the contents of table \"blobs\" failed: PQgetCopyData() failed.\npg_dump: detail: Error message from server: server closed the connection unexpectedly",
            "pg_restore: error: could not execute query: FATAL:  terminating connection due to administrator command",
            "pg_restore: error: error returned by PQputCopyData: no connection to the server",
        ] {
            assert_eq!(classify(transient), RetryClass::Transient, "{transient}");
        }
        for permanent in [
            "db error: FATAL: password authentication failed for user \"prj_x\"",
            "db error: FATAL: database \"prj_x\" does not exist",
            "pg_restore: error: could not read from input file: end of file",
            "verification failed: the stored archive does not restore",
            "the stored object's SHA-256 differs from the recorded one",
            "label must be at most 200 characters",
            "pg_restore: error: canceling statement due to statement timeout",
            "",
        ] {
            assert_eq!(classify(permanent), RetryClass::Permanent, "{permanent}");
        }
    }

    #[test]
    fn back_off_doubles_with_jitter_up_to_a_cap() {
        let base = Duration::seconds(30);
        assert_eq!(backoff(base, 1, 0.5), Duration::seconds(30));
        assert_eq!(backoff(base, 2, 0.5), Duration::seconds(60));
        assert_eq!(backoff(base, 3, 0.5), Duration::seconds(120));
        assert_eq!(backoff(base, 30, 0.5), Duration::minutes(15), "capped");
        assert_eq!(backoff(base, 1, 0.0), Duration::seconds(24));
        assert_eq!(backoff(base, 1, 1.0), Duration::seconds(36));
    }

    #[test]
    fn the_time_budget_ends_retries() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-02T00:00:00Z").unwrap().with_timezone(&Utc);
        assert!(within_budget(t0, t0 + Duration::minutes(59), Duration::hours(1)));
        assert!(!within_budget(t0, t0 + Duration::hours(1), Duration::hours(1)));
    }
}
