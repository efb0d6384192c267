//! WAL archive arithmetic: segment names, LSNs, and the restorable window a set of archived
//! segments and base backups gives. Pure; the services feed it listings.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// PostgreSQL's default WAL segment size; the clusters use it.
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;
const SEGMENTS_PER_LOG: u64 = 0x1_0000_0000 / SEGMENT_BYTES;

/// A WAL segment file name (`TTTTTTTTXXXXXXXXYYYYYYYY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Segment {
    pub timeline: u32,
    /// Segment number since the start of WAL.
    pub number: u64,
}

impl Segment {
    pub fn parse(name: &str) -> Option<Segment> {
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let timeline = u32::from_str_radix(&name[0..8], 16).ok()?;
        let log = u64::from_str_radix(&name[8..16], 16).ok()?;
        let seg = u64::from_str_radix(&name[16..24], 16).ok()?;
        (seg < SEGMENTS_PER_LOG).then_some(Segment { timeline, number: log * SEGMENTS_PER_LOG + seg })
    }

    /// The segment holding `lsn`.
    pub fn of_lsn(timeline: u32, lsn: u64) -> Segment {
        Segment { timeline, number: lsn / SEGMENT_BYTES }
    }

    pub fn name(&self) -> String {
        format!("{:08X}{:08X}{:08X}", self.timeline, self.number / SEGMENTS_PER_LOG, self.number % SEGMENTS_PER_LOG)
    }
}

/// `X/Y` (hex halves) as PostgreSQL prints an LSN.
pub fn parse_lsn(raw: &str) -> Option<u64> {
    let (hi, lo) = raw.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Where recovery stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecoveryTarget {
    /// The last transaction committed at or before `at`.
    Time { at: DateTime<Utc> },
    /// A named restore point placed with `pg_create_restore_point` (exact).
    Name { name: String, lsn: String },
    /// Everything archived when recovery runs. No longer planned (a clamped moment could then
    /// bring back commits made after it once they reach the archive); read from plans stored
    /// by earlier versions.
    Latest,
}

/// One archived segment as the listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Archived {
    pub segment: Segment,
    /// When it was stored: it holds WAL up to about this moment.
    pub archived_at: DateTime<Utc>,
}

/// A physical base backup of a region cluster, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseBackup {
    pub id: String,
    pub region: String,
    pub timeline: u32,
    /// WAL position at or before the backup's start (replay starts here).
    pub start_lsn: String,
    /// WAL position at or after its end: the earliest consistent point.
    pub end_lsn: String,
    pub started_at: DateTime<Utc>,
    /// From this moment on the backup can be recovered to any time the WAL reaches.
    pub completed_at: DateTime<Utc>,
    pub key: String,
    pub size_bytes: u64,
    pub tar_bytes: u64,
    pub sha256: String,
    pub server_version: String,
}

impl BaseBackup {
    pub fn start_segment(&self) -> Option<Segment> {
        parse_lsn(&self.start_lsn).map(|l| Segment::of_lsn(self.timeline, l))
    }

    pub fn end_segment(&self) -> Option<Segment> {
        parse_lsn(&self.end_lsn).map(|l| Segment::of_lsn(self.timeline, l))
    }
}

/// What can be restored: from `earliest` to `latest`, starting from one of `base_backups`.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
    /// Usable base backups, oldest first.
    pub base_backups: Vec<BaseBackup>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowReport {
    pub window: Option<Window>,
    /// Missing segments (first, last) between the oldest base backup and the newest segment.
    pub gaps: Vec<(Segment, Segment)>,
}

fn ceil_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.trunc_subsecs(3);
    if floor == t {
        t
    } else {
        floor + chrono::Duration::milliseconds(1)
    }
}

/// The window the archive can restore: the newest unbroken run of segments (a gap cuts off
/// everything before it), from the oldest base backup whose WAL lies entirely inside that run,
/// to the newest archived segment.
pub fn window(segments: &[Archived], bases: &[BaseBackup]) -> WindowReport {
    let mut segs: Vec<&Archived> = segments.iter().collect();
    segs.sort_by_key(|a| a.segment);
    segs.dedup_by_key(|a| a.segment);
    let mut gaps = Vec::new();
    for pair in segs.windows(2) {
        let (a, b) = (pair[0].segment, pair[1].segment);
        if a.timeline == b.timeline && b.number > a.number + 1 {
            gaps.push((
                Segment { timeline: a.timeline, number: a.number + 1 },
                Segment { timeline: a.timeline, number: b.number - 1 },
            ));
        }
    }
    let Some(last) = segs.last() else { return WindowReport { window: None, gaps } };
    let run_start = gaps.last().map(|(_, to)| to.number + 1).unwrap_or(segs[0].segment.number);
    let mut usable: Vec<BaseBackup> = bases
        .iter()
        .filter(|b| b.timeline == last.segment.timeline)
        .filter(|b| match (b.start_segment(), b.end_segment()) {
            (Some(s), Some(e)) => s.number >= run_start && e.number <= last.segment.number,
            _ => false,
        })
        .cloned()
        .collect();
    usable.sort_by_key(|b| b.completed_at);
    // Whole milliseconds, as every timestamp the API shows: the earliest rounded up and the
    // latest down, so both stay inside what the archive can restore.
    let window = usable.first().map(|oldest| {
        let earliest = ceil_ms(oldest.completed_at);
        Window {
            earliest,
            latest: last.archived_at.max(oldest.completed_at).trunc_subsecs(3).max(earliest),
            base_backups: usable.clone(),
        }
    });
    WindowReport { window, gaps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 9, 12, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn seg(n: u64, min: i64) -> Archived {
        Archived { segment: Segment { timeline: 1, number: n }, archived_at: t(min) }
    }

    fn base(id: &str, start: u64, end: u64, done: i64) -> BaseBackup {
        BaseBackup {
            id: id.into(),
            region: "r".into(),
            timeline: 1,
            start_lsn: format_lsn(start * SEGMENT_BYTES + 40),
            end_lsn: format_lsn(end * SEGMENT_BYTES + 100),
            started_at: t(done - 1),
            completed_at: t(done),
            key: String::new(),
            size_bytes: 0,
            tar_bytes: 0,
            sha256: String::new(),
            server_version: String::new(),
        }
    }

    #[test]
    fn names_and_lsns_round_trip() {
        let s = Segment::parse("0000000100000002000000FF").unwrap();
        assert_eq!((s.timeline, s.number), (1, 2 * 256 + 255));
        assert_eq!(s.name(), "0000000100000002000000FF");
        assert_eq!(Segment::parse("000000010000000200000100"), None, "segment part out of range");
        assert_eq!(Segment::parse("00000001.history"), None);
        assert_eq!(parse_lsn("2/FF000028"), Some((2 << 32) | 0xFF00_0028));
        assert_eq!(Segment::of_lsn(1, parse_lsn("2/FF000028").unwrap()).name(), "0000000100000002000000FF");
        assert_eq!(format_lsn(parse_lsn("16/B374D848").unwrap()), "16/B374D848");
    }

    #[test]
    fn the_window_runs_from_the_oldest_usable_base_backup_to_the_newest_segment() {
        let segs: Vec<Archived> = (3..=10).map(|n| seg(n, n as i64 * 10)).collect();
        let r = window(&segs, &[base("b1", 3, 4, 45), base("b2", 7, 7, 75)]);
        let w = r.window.unwrap();
        assert_eq!((w.earliest, w.latest), (t(45), t(100)));
        assert_eq!(w.base_backups.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(), vec!["b1", "b2"]);
        assert!(r.gaps.is_empty());
    }

    #[test]
    fn a_gap_cuts_the_window_to_what_follows_it() {
        let segs: Vec<Archived> = (3..=10).filter(|n| *n != 6).map(|n| seg(n, n as i64 * 10)).collect();
        let r = window(&segs, &[base("b1", 3, 4, 45), base("b2", 7, 7, 75)]);
        assert_eq!(r.gaps, vec![(Segment { timeline: 1, number: 6 }, Segment { timeline: 1, number: 6 })]);
        let w = r.window.unwrap();
        assert_eq!(w.earliest, t(75), "b1 needs segment 6, which is missing");
        assert_eq!(w.base_backups.len(), 1);
        // With only the older base backup, nothing is restorable across the gap.
        assert_eq!(window(&segs, &[base("b1", 3, 4, 45)]).window, None);
    }

    #[test]
    fn no_base_backup_or_its_wal_not_yet_archived_means_no_window() {
        let segs: Vec<Archived> = (3..=5).map(|n| seg(n, n as i64)).collect();
        assert_eq!(window(&segs, &[]).window, None);
        assert_eq!(window(&segs, &[base("b", 5, 6, 9)]).window, None, "its end segment is not archived yet");
        assert_eq!(window(&[], &[base("b", 5, 6, 9)]).window, None);
    }

    #[test]
    fn the_window_is_whole_milliseconds_inside_what_the_archive_holds() {
        let base_end = t(0) + Duration::nanoseconds(1_500_001);
        let last = t(10) + Duration::nanoseconds(2_999_999);
        assert_eq!(ceil_ms(base_end), t(0) + Duration::milliseconds(2));
        assert_eq!(ceil_ms(t(0)), t(0));
        assert_eq!(last.trunc_subsecs(3), t(10) + Duration::milliseconds(2));
    }
}
