import { useEffect, useState } from 'preact/hooks';
import type { Region } from './api';
import type { SourceChoice } from './restore';
import { Badge, duration, Section, Time, utc } from './ui';

/** `YYYY-MM-DDTHH:MM:SS` in UTC, the value a datetime-local input takes. */
const toInput = (ms: number) => new Date(ms).toISOString().slice(0, 19);
const fromInput = (v: string) => Date.parse(`${v}Z`);

export interface Window {
  earliest: number;
  latest: number;
}
export function windowOf(region: Region): Window | null {
  if (!region.pitr_available || !region.earliest_restore_time || !region.latest_restore_time) return null;
  return { earliest: Date.parse(region.earliest_restore_time), latest: Date.parse(region.latest_restore_time) };
}

/**
 * A moment inside the window: a slider that cannot leave it, and a UTC field whose value is
 * pulled back inside if typed outside (and says so).
 */
export function TimeInWindow(props: {
  id: string;
  label: string;
  window: Window;
  value: number;
  onChange: (ms: number) => void;
}) {
  const { earliest, latest } = props.window;
  const [note, setNote] = useState<string | null>(null);
  const set = (ms: number) => {
    if (Number.isNaN(ms)) return;
    const clamped = Math.min(latest, Math.max(earliest, ms));
    setNote(clamped !== ms ? `Kept inside the window: ${utc(new Date(clamped))}.` : null);
    props.onChange(clamped);
  };
  return (
    <div class="time-in-window">
      <label for={`${props.id}-range`}>{props.label}</label>
      <input
        id={`${props.id}-range`}
        type="range"
        min={earliest}
        max={latest}
        step={1000}
        value={props.value}
        aria-valuetext={utc(new Date(props.value))}
        onInput={(e) => set(Number(e.currentTarget.value))}
      />
      <div class="range-ends" aria-hidden="true">
        <span>{utc(new Date(earliest))}</span>
        <span>{utc(new Date(latest))}</span>
      </div>
      <label for={props.id}>Moment (UTC)</label>
      <input
        id={props.id}
        type="datetime-local"
        step={1}
        min={toInput(earliest)}
        max={toInput(latest)}
        value={toInput(props.value)}
        onChange={(e) => set(fromInput(e.currentTarget.value))}
      />
      <small class="hint">{new Date(props.value).toLocaleString()} your time</small>
      {note && (
        <small class="hint" role="status">
          {note}
        </small>
      )}
    </div>
  );
}

export function PitrPanel({ region, onRestore }: { region: Region; onRestore: (s: SourceChoice) => void }) {
  const window = windowOf(region);
  const [at, setAt] = useState<number>(window?.latest ?? 0);
  useEffect(() => {
    if (window && (at < window.earliest || at > window.latest || at === 0)) setAt(window.latest);
  }, [window?.earliest, window?.latest]);
  return (
    <Section id="pitr" title="Point-in-time recovery">
      {!region.wal_archiving ? (
        <p class="empty" data-testid="pitr-unsupported">
          Region {region.display_name} ({region.id}) does not archive WAL, so point-in-time recovery is not available here.
          Backups and restore points of kind backup still work.
        </p>
      ) : !window ? (
        <p class="empty">
          Region {region.display_name} archives WAL, but no restorable window exists yet (it opens with the first base backup).
        </p>
      ) : (
        <>
          <dl class="facts" data-testid="pitr-window">
            <div>
              <dt>Earliest</dt>
              <dd>
                <Time at={region.earliest_restore_time} />
              </dd>
            </div>
            <div>
              <dt>Latest</dt>
              <dd>
                <Time at={region.latest_restore_time} />
              </dd>
            </div>
            <div>
              <dt>Archive lag</dt>
              <dd>
                {region.archive_lag_seconds == null ? '—' : duration(region.archive_lag_seconds * 1000)}{' '}
                {region.archive_lag_seconds != null && region.archive_lag_seconds > 300 && <Badge tone="bad">behind</Badge>}
              </dd>
            </div>
            <div>
              <dt>Kept</dt>
              <dd>{region.pitr_window_days ? `${region.pitr_window_days} days` : '—'}</dd>
            </div>
          </dl>
          <Timeline window={window} at={at} />
          {region.wal_gaps.length > 0 && (
            <p class="warning">The archive has gaps the window stops at: {region.wal_gaps.join(', ')}.</p>
          )}
          <TimeInWindow id="pitr-time" label="Choose a moment in the window" window={window} value={at} onChange={setAt} />
          <button type="button" onClick={() => onRestore({ kind: 'time', at: new Date(at).toISOString() })}>
            Restore this moment…
          </button>
        </>
      )}
    </Section>
  );
}

function Timeline({ window, at }: { window: Window; at: number }) {
  const width = Math.max(1, window.latest - window.earliest);
  const pos = ((at - window.earliest) / width) * 100;
  return (
    <div
      class="timeline"
      role="img"
      aria-label={`Restorable window from ${utc(new Date(window.earliest))} to ${utc(new Date(window.latest))}`}
    >
      <div class="timeline-bar" />
      <div class="timeline-mark" style={{ left: `${pos}%` }} />
    </div>
  );
}
