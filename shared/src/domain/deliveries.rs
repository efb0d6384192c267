//! Webhook deliveries: one per (event, endpoint), with every attempt recorded, a retry schedule
//! that backs off over at least a day, and the endpoint health that failures add up to.

use super::events::Event;
use super::webhooks::{Health, WebhookEndpoint};
use crate::ids::{DeliveryId, EventId, OrgId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Failed deliveries are retried at least this long after they were first due.
pub fn retry_window() -> Duration {
    Duration::hours(24)
}

/// First retry delay; each later one doubles, up to [`max_delay`].
fn first_delay() -> Duration {
    Duration::seconds(30)
}

fn max_delay() -> Duration {
    Duration::hours(4)
}

/// An endpoint failing for this long without a success is unhealthy rather than just failing.
pub fn unhealthy_after() -> Duration {
    Duration::days(3)
}

/// How long one attempt may hold a delivery before another may try it (the send itself times
/// out after 10 s).
pub fn attempt_lease() -> Duration {
    Duration::seconds(60)
}

/// Bytes of a receiver's response body kept on the attempt, for debugging.
pub const RESPONSE_EXCERPT_BYTES: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered at all.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub org_id: OrgId,
    pub event_id: EventId,
    pub event_type: String,
    /// The envelope exactly as sent: every attempt posts (and signs) these bytes.
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set while an attempt is in flight; another attempt may start only after it.
    pub attempt_lease_until: Option<DateTime<Utc>>,
    /// `false` for test deliveries: one attempt, no retries.
    pub retries: bool,
    pub redelivery_of: Option<DeliveryId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
    /// DynamoDB TTL attribute: finished deliveries are forgotten after [`KEEP_FINISHED_DAYS`].
    pub expires_at_epoch: Option<i64>,
}

/// Days a delivered or failed delivery stays listed.
pub const KEEP_FINISHED_DAYS: i64 = 30;

/// The JSON body receivers get.
pub fn envelope(event: &Event) -> String {
    serde_json::json!({
        "id": event.id,
        "type": event.event_type,
        "created_at": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": event.data,
    })
    .to_string()
}

impl Delivery {
    /// The delivery of `event` to `endpoint`. Its id is derived from both, so the completion
    /// function running twice for the same event creates it once.
    pub fn for_event(event: &Event, endpoint: &WebhookEndpoint, now: DateTime<Utc>) -> Delivery {
        let digest = Sha256::digest(format!("{}/{}", event.id, endpoint.id));
        let random = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
        let ms = event.created_at.timestamp_millis().max(0) as u64;
        let id = DeliveryId::from_ulid(ulid::Ulid::from_parts(ms, random));
        Delivery::new(id, event, endpoint, true, None, now)
    }

    /// A fresh delivery of an event already delivered (or not) once.
    pub fn redelivery(of: &Delivery, now: DateTime<Utc>) -> Delivery {
        Delivery {
            id: DeliveryId::generate(),
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(now),
            attempt_lease_until: None,
            retries: true,
            redelivery_of: Some(of.id.clone()),
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 0,
            expires_at_epoch: None,
            ..of.clone()
        }
    }

    /// A `webhook.test` delivery: attempted once, never retried.
    pub fn test(event: &Event, endpoint: &WebhookEndpoint, now: DateTime<Utc>) -> Delivery {
        Delivery::new(DeliveryId::generate(), event, endpoint, false, None, now)
    }

    fn new(
        id: DeliveryId,
        event: &Event,
        endpoint: &WebhookEndpoint,
        retries: bool,
        redelivery_of: Option<DeliveryId>,
        now: DateTime<Utc>,
    ) -> Delivery {
        Delivery {
            id,
            webhook_id: endpoint.id.clone(),
            org_id: endpoint.org_id.clone(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            payload: envelope(event),
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(now),
            attempt_lease_until: None,
            retries,
            redelivery_of,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 0,
            expires_at_epoch: None,
        }
    }

    /// Whether an attempt may start at `now`.
    pub fn attemptable(&self, now: DateTime<Utc>) -> bool {
        self.state == DeliveryState::Pending
            && self.next_attempt_at.is_some_and(|at| at <= now)
            && self.attempt_lease_until.is_none_or(|until| until <= now)
    }

    /// The time the due index should bring this delivery back to the retry sweep.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        if self.state != DeliveryState::Pending {
            return None;
        }
        match (self.attempt_lease_until, self.next_attempt_at) {
            (Some(lease), Some(next)) => Some(lease.max(next)),
            (lease, next) => lease.or(next),
        }
    }

    /// Takes the delivery for one attempt.
    pub fn claim(&mut self, now: DateTime<Utc>) {
        self.attempt_lease_until = Some(now + attempt_lease());
        self.updated_at = now;
    }

    /// Records an attempt and decides what follows: delivered, another try later, or failed
    /// once the retry window has passed. `jitter` in [0, 1) spreads retries of many
    /// deliveries that failed together.
    pub fn record(&mut self, attempt: Attempt, jitter: f64) {
        let at = attempt.at;
        let ok = attempt.succeeded();
        self.attempts.push(attempt);
        self.attempt_lease_until = None;
        self.updated_at = at;
        if ok {
            self.finish(DeliveryState::Delivered, at);
            return;
        }
        match next_retry(self.retries, self.created_at, self.attempts.len() as u32, at, jitter) {
            Some(next) => self.next_attempt_at = Some(next),
            None => self.finish(DeliveryState::Failed, at),
        }
    }

    fn finish(&mut self, state: DeliveryState, at: DateTime<Utc>) {
        self.state = state;
        self.next_attempt_at = None;
        self.attempt_lease_until = None;
        self.completed_at = Some(at);
        self.updated_at = at;
        self.expires_at_epoch = Some((at + Duration::days(KEEP_FINISHED_DAYS)).timestamp());
    }

    /// Ends a pending delivery without sending it (its endpoint was deleted or disabled).
    pub fn abandon(&mut self, reason: &str, now: DateTime<Utc>) {
        self.attempts.push(Attempt {
            at: now,
            status_code: None,
            latency_ms: 0,
            error: Some(reason.to_string()),
            response_excerpt: None,
        });
        self.finish(DeliveryState::Failed, now);
    }
}

/// When to try again after `attempts` failed attempts, the last at `now`; `None` when the
/// delivery has been retried for the whole window (or takes no retries). Delays double from
/// 30 s up to 4 h, each scaled by 0.8–1.2 with `jitter`; the last attempt is at or after
/// 24 h, so a receiver that is down for a day still gets the event.
pub fn next_retry(
    retries: bool,
    created_at: DateTime<Utc>,
    attempts: u32,
    now: DateTime<Utc>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    if !retries || now - created_at >= retry_window() {
        return None;
    }
    let doublings = attempts.saturating_sub(1).min(20);
    let base = (first_delay() * 2i32.pow(doublings)).min(max_delay());
    let scale = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Some(now + Duration::milliseconds((base.num_milliseconds() as f64 * scale) as i64))
}

/// Health of an endpoint whose deliveries have been failing since `failing_since`.
pub fn health(failing_since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Health {
    match failing_since {
        None => Health::Healthy,
        Some(since) if now - since >= unhealthy_after() => Health::Unhealthy,
        Some(_) => Health::Failing,
    }
}

/// The endpoint's health fields after an attempt: a success clears the failure streak, a
/// failure starts one (or continues it).
pub fn after_attempt(endpoint: &WebhookEndpoint, ok: bool, at: DateTime<Utc>) -> HealthUpdate {
    if ok {
        HealthUpdate { health: Health::Healthy, failing_since: None, last_success_at: Some(at) }
    } else {
        let since = endpoint.failing_since.unwrap_or(at);
        HealthUpdate {
            health: health(Some(since), at),
            failing_since: Some(since),
            last_success_at: endpoint.last_success_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthUpdate {
    pub health: Health,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 9, 12, 0, 0).unwrap()
    }

    fn endpoint() -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookId::generate(),
            org_id: OrgId::generate(),
            url: "https://example.com/hook".into(),
            description: None,
            event_types: vec![],
            is_active: true,
            secret_enc: "sealed".into(),
            health: Health::Healthy,
            failing_since: None,
            last_success_at: None,
            created_at: t0(),
            updated_at: t0(),
        }
    }

    fn event() -> Event {
        Event::new("backup.completed", OrgId::generate(), None, t0(), serde_json::json!({"backup_id": "bkp_x"}))
    }

    fn failure(at: DateTime<Utc>) -> Attempt {
        Attempt { at, status_code: Some(500), latency_ms: 3, error: None, response_excerpt: None }
    }

    #[test]
    fn the_same_event_and_endpoint_always_make_the_same_delivery_id() {
        let (e, ep) = (event(), endpoint());
        assert_eq!(Delivery::for_event(&e, &ep, t0()).id, Delivery::for_event(&e, &ep, t0()).id);
        assert_ne!(Delivery::for_event(&e, &ep, t0()).id, Delivery::for_event(&e, &endpoint(), t0()).id);
        assert_ne!(Delivery::for_event(&e, &ep, t0()).id, Delivery::for_event(&event(), &ep, t0()).id);
    }

    #[test]
    fn retries_back_off_and_keep_going_for_a_whole_day_then_fail() {
        let mut d = Delivery::for_event(&event(), &endpoint(), t0());
        let mut now = t0();
        let mut delays = Vec::new();
        while d.state == DeliveryState::Pending {
            d.record(failure(now), 0.5);
            if let Some(next) = d.next_attempt_at {
                delays.push(next - now);
                now = next;
            }
            assert!(d.attempts.len() < 100, "never gives up");
        }
        assert_eq!(d.state, DeliveryState::Failed);
        assert_eq!(delays[0], Duration::seconds(30));
        assert!(delays.windows(2).all(|w| w[1] >= w[0]), "delays never shrink: {delays:?}");
        assert_eq!(*delays.last().unwrap(), Duration::hours(4));
        let last = d.attempts.last().unwrap().at;
        assert!(last - t0() >= retry_window(), "the last attempt is a day or more after the first");
        assert!(last - t0() < retry_window() + Duration::hours(5));
        assert!((12..=20).contains(&d.attempts.len()), "{} attempts", d.attempts.len());
    }

    #[test]
    fn jitter_spreads_a_retry_within_a_fifth_either_way() {
        let lo = next_retry(true, t0(), 3, t0(), 0.0).unwrap() - t0();
        let hi = next_retry(true, t0(), 3, t0(), 0.999).unwrap() - t0();
        assert_eq!(lo, Duration::seconds(96));
        assert!(hi > Duration::seconds(143) && hi < Duration::seconds(144), "{hi}");
    }

    #[test]
    fn a_test_delivery_is_tried_once_and_a_success_ends_any_delivery() {
        let mut test = Delivery::test(&event(), &endpoint(), t0());
        test.record(failure(t0()), 0.5);
        assert_eq!(test.state, DeliveryState::Failed);
        let mut d = Delivery::for_event(&event(), &endpoint(), t0());
        d.record(failure(t0()), 0.5);
        d.record(Attempt { status_code: Some(204), ..failure(t0() + Duration::seconds(30)) }, 0.5);
        assert_eq!(d.state, DeliveryState::Delivered);
        assert_eq!(d.next_attempt_at, None);
        let forgotten = t0() + Duration::seconds(30) + Duration::days(KEEP_FINISHED_DAYS);
        assert_eq!(d.expires_at_epoch, Some(forgotten.timestamp()), "finished deliveries expire");
        assert_eq!(d.attempts.len(), 2);
        let timeout = Attempt { status_code: None, error: Some("timed out".into()), ..failure(t0()) };
        assert!(!timeout.succeeded());
    }

    #[test]
    fn an_in_flight_attempt_keeps_others_off_until_its_lease_ends() {
        let mut d = Delivery::for_event(&event(), &endpoint(), t0());
        assert!(d.attemptable(t0()));
        d.claim(t0());
        assert!(!d.attemptable(t0() + Duration::seconds(59)));
        assert!(d.attemptable(t0() + attempt_lease()));
        assert_eq!(d.due_at(), Some(t0() + attempt_lease()));
    }

    #[test]
    fn health_follows_the_failure_streak() {
        let mut ep = endpoint();
        let fail = after_attempt(&ep, false, t0());
        assert_eq!((fail.health.clone(), fail.failing_since), (Health::Failing, Some(t0())));
        ep.failing_since = fail.failing_since;
        let later = after_attempt(&ep, false, t0() + Duration::days(3));
        assert_eq!((later.health, later.failing_since), (Health::Unhealthy, Some(t0())));
        let ok = after_attempt(&ep, true, t0() + Duration::days(4));
        assert_eq!((ok.health, ok.failing_since), (Health::Healthy, None));
        assert_eq!(ok.last_success_at, Some(t0() + Duration::days(4)));
    }

    #[test]
    fn the_envelope_carries_id_type_time_and_data() {
        let e = event();
        let body: serde_json::Value = serde_json::from_str(&envelope(&e)).unwrap();
        assert_eq!(body["id"], e.id.as_str());
        assert_eq!(body["type"], "backup.completed");
        assert_eq!(body["created_at"], "2026-06-09T12:00:00.000Z");
        assert_eq!(body["data"]["backup_id"], "bkp_x");
    }
}
