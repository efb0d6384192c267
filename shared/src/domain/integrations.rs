//! Deployment integrations: a Vercel project or Netlify site whose `DATABASE_URL` and
//! `DATABASE_URL_UNPOOLED` follow the project database (re-pushed after every restore).

use crate::ids::{OrgId, ProjectId};
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub const MAX_TOKEN_LEN: usize = 1024;
pub const MAX_TARGET_ID_LEN: usize = 200;

/// The variables pushed, pooled first.
pub const ENV_POOLED: &str = "DATABASE_URL";
pub const ENV_DIRECT: &str = "DATABASE_URL_UNPOOLED";

/// A failed push is retried as long as a webhook delivery, then left failed until the next
/// restore or sync.
pub fn sync_retry_window() -> Duration {
    super::deliveries::retry_window()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Vercel,
    Netlify,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Vercel, Provider::Netlify];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Vercel => "vercel",
            Provider::Netlify => "netlify",
        }
    }

    pub fn parse(raw: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// The provider a request names, or a 400 naming `provider` and the allowed values.
    pub fn parse_field(raw: &str) -> Result<Provider, Error> {
        Provider::parse(raw).ok_or_else(|| {
            let allowed = Provider::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
            Error::invalid("provider", format!("unknown provider `{raw}`; allowed: {allowed}"))
        })
    }

    /// The request field naming the provider's target: Vercel's `project_id`, Netlify's
    /// `site_id`.
    pub fn target_field(self) -> &'static str {
        match self {
            Provider::Vercel => "project_id",
            Provider::Netlify => "site_id",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the variables go: a Vercel project (optionally in a team) or a Netlify site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Vercel project id or name; Netlify site id.
    pub id: String,
    /// Vercel team id; never set for Netlify.
    pub team_id: Option<String>,
}

impl Target {
    /// The target id and `team_id` as the request gave them, checked for the provider (errors
    /// name the provider's own field).
    pub fn parse(provider: Provider, id: &str, team_id: Option<&str>) -> Result<Target, Error> {
        let id = parse_target_id(provider.target_field(), id)?;
        let team_id = match (provider, team_id) {
            (_, None) => None,
            (Provider::Vercel, Some(t)) => Some(parse_target_id("team_id", t)?),
            (Provider::Netlify, Some(_)) => {
                return Err(Error::invalid("team_id", "team_id applies to vercel only"));
            }
        };
        Ok(Target { id, team_id })
    }
}

fn parse_target_id(field: &str, raw: &str) -> Result<String, Error> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_TARGET_ID_LEN
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(raw.to_string())
    } else {
        Err(Error::invalid(
            field,
            format!("{field} must be 1-{MAX_TARGET_ID_LEN} characters of letters, digits, '-', '_' or '.'"),
        ))
    }
}

pub fn parse_token(raw: &str) -> Result<&str, Error> {
    let t = raw.trim();
    if t.is_empty() || t.len() > MAX_TOKEN_LEN || t.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::invalid("token", format!("token must be 1-{MAX_TOKEN_LEN} characters without spaces")));
    }
    Ok(t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Saved; nothing pushed yet.
    Never,
    /// A push is due (after a restore or on request), or being retried.
    Pending,
    Synced,
    /// Retries ran out; the next restore or sync tries again.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub project_id: ProjectId,
    pub org_id: OrgId,
    pub provider: Provider,
    pub target: Target,
    /// The provider API token, sealed.
    pub token_enc: String,
    pub sync_state: SyncState,
    /// Why the push is due (`restore.completed`, `manual`), while pending.
    pub sync_reason: Option<String>,
    pub sync_attempts: u32,
    /// When the current push first became due; retries stop a window after it.
    pub sync_requested_at: Option<DateTime<Utc>>,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_sync_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl Integration {
    /// Marks a push as due now.
    pub fn request_sync(&mut self, reason: &str, now: DateTime<Utc>) {
        self.sync_state = SyncState::Pending;
        self.sync_reason = Some(reason.to_string());
        self.sync_attempts = 0;
        self.sync_requested_at = Some(now);
        self.next_sync_at = Some(now);
        self.updated_at = now;
    }

    /// Records the outcome of a push: synced, or retried with the same back-off as webhook
    /// deliveries until the window is over.
    pub fn record_sync(&mut self, result: Result<(), String>, now: DateTime<Utc>, jitter: f64) {
        self.sync_attempts += 1;
        self.updated_at = now;
        match result {
            Ok(()) => {
                self.sync_state = SyncState::Synced;
                self.sync_reason = None;
                self.next_sync_at = None;
                self.last_synced_at = Some(now);
                self.last_sync_error = None;
            }
            Err(e) => {
                self.last_sync_error = Some(e);
                let since = self.sync_requested_at.unwrap_or(now);
                match super::deliveries::next_retry(true, since, self.sync_attempts, now, jitter) {
                    Some(at) => self.next_sync_at = Some(at),
                    None => {
                        self.sync_state = SyncState::Failed;
                        self.next_sync_at = None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn targets_are_checked_per_provider_and_name_the_field() {
        let t = Target::parse(Provider::Vercel, "prj_abc-1.x", Some("team_1")).unwrap();
        assert_eq!(t.team_id.as_deref(), Some("team_1"));
        let e = Target::parse(Provider::Netlify, "site", Some("team")).unwrap_err();
        assert!(matches!(e, Error::InvalidField { ref field, .. } if field == "team_id"), "{e:?}");
        let e = Target::parse(Provider::Netlify, "a/b", None).unwrap_err();
        assert!(matches!(e, Error::InvalidField { ref field, .. } if field == "site_id"), "{e:?}");
        assert!(parse_token("").is_err());
        assert!(parse_token("has space").is_err());
        assert_eq!(parse_token(" tok ").unwrap(), "tok");
        assert_eq!(Provider::parse("vercel"), Some(Provider::Vercel));
        assert_eq!(Provider::parse("heroku"), None);
        let e = Target::parse(Provider::Vercel, "", None).unwrap_err();
        assert!(matches!(e, Error::InvalidField { ref field, .. } if field == "project_id"), "{e:?}");
        let e = Provider::parse_field("heroku").unwrap_err();
        assert!(
            matches!(e, Error::InvalidField { ref field, ref message } if field == "provider" && message.contains("vercel, netlify")),
            "{e:?}"
        );
        assert_eq!(Provider::parse_field("netlify").unwrap().target_field(), "site_id");
    }

    #[test]
    fn a_failed_push_is_retried_then_left_failed_and_a_success_clears_the_error() {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 9, 12, 0, 0).unwrap();
        let mut i = Integration {
            project_id: ProjectId::generate(),
            org_id: OrgId::generate(),
            provider: Provider::Vercel,
            target: Target { id: "p".into(), team_id: None },
            token_enc: "sealed".into(),
            sync_state: SyncState::Never,
            sync_reason: None,
            sync_attempts: 0,
            sync_requested_at: None,
            next_sync_at: None,
            last_synced_at: None,
            last_sync_error: None,
            created_at: t0,
            updated_at: t0,
            version: 0,
        };
        i.request_sync("restore.completed", t0);
        i.record_sync(Err("vercel answered 503".into()), t0, 0.5);
        assert_eq!(i.sync_state, SyncState::Pending);
        assert_eq!(i.next_sync_at, Some(t0 + Duration::seconds(30)));
        i.record_sync(Ok(()), t0 + Duration::seconds(30), 0.5);
        assert_eq!(i.sync_state, SyncState::Synced);
        assert_eq!(i.last_sync_error, None);
        i.request_sync("manual", t0 + Duration::hours(1));
        let mut now = t0 + Duration::hours(1);
        while i.sync_state == SyncState::Pending {
            i.record_sync(Err("down".into()), now, 0.5);
            now = i.next_sync_at.unwrap_or(now);
        }
        assert_eq!(i.sync_state, SyncState::Failed);
        assert_eq!(i.last_sync_error.as_deref(), Some("down"));
        assert!(now - (t0 + Duration::hours(1)) >= sync_retry_window());
    }
}
