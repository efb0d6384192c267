import { useEffect, useState } from 'preact/hooks';
import { ok, type Project, type ScheduledBackup } from './api';
import {
  Badge,
  describedBy,
  ErrorText,
  Field,
  fieldError,
  formError,
  Section,
  stateTone,
  Time,
  useAction,
  useLoad,
  useSession,
  ActionForm,
  Submit,
} from './ui';

const FIELDS = ['cron_hour', 'cron_minute', 'retention_days', 'label', 'is_active'];

function localTime(hour: string, minute: string): string | null {
  const h = Number(hour);
  const m = Number(minute);
  if (hour === '' || minute === '' || !Number.isInteger(h) || !Number.isInteger(m) || h < 0 || h > 23 || m < 0 || m > 59)
    return null;
  const d = new Date();
  d.setUTCHours(h, m, 0, 0);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} your time (${zone})`;
}

const num = (v: string): number | null => (v.trim() === '' ? null : Number(v));

export function SchedulePanel({ project }: { project: Project }) {
  const { api, announce, changed } = useSession();
  const current = useLoad(
    () => ok(api.GET('/v1/projects/{project_id}/scheduled-backups', { params: { path: { project_id: project.id } } })),
    [project.id],
  );
  const schedule: ScheduledBackup | undefined = current.data?.scheduled_backups[0];
  const [form, setForm] = useState({ hour: '3', minute: '0', active: true, retention: '14', label: 'scheduled' });
  useEffect(() => {
    if (schedule)
      setForm({
        hour: String(schedule.cron_hour),
        minute: String(schedule.cron_minute),
        active: schedule.is_active,
        retention: String(schedule.retention_days),
        label: schedule.label,
      });
  }, [schedule?.id, schedule?.updated_at]);
  const save = useAction(async () => {
    const { scheduled_backup: s } = await ok(
      api.PUT('/v1/projects/{project_id}/scheduled-backups/{schedule_id}', {
        params: { path: { project_id: project.id, schedule_id: 'default' } },
        body: {
          cron_hour: num(form.hour),
          cron_minute: num(form.minute),
          is_active: form.active,
          retention_days: num(form.retention),
          label: form.label.trim() === '' ? null : form.label.trim(),
        },
      }),
    );
    announce(`Schedule saved: daily at ${pad(s.cron_hour)}:${pad(s.cron_minute)} UTC${s.is_active ? '' : ' (paused)'}.`);
    changed();
  });
  const remove = useAction(async () => {
    if (!schedule) return;
    await ok(
      api.DELETE('/v1/projects/{project_id}/scheduled-backups/{schedule_id}', {
        params: { path: { project_id: project.id, schedule_id: 'default' } },
      }),
    );
    announce('Schedule removed.');
    changed();
  });
  const err = (f: string) => fieldError(save.error, f);
  const local = localTime(form.hour, form.minute);
  return (
    <Section id="schedule" title="Daily schedule">
      {schedule ? (
        <dl class="facts" data-testid="schedule-facts">
          <div>
            <dt>Runs</dt>
            <dd>{schedule.is_active ? `daily at ${pad(schedule.cron_hour)}:${pad(schedule.cron_minute)} UTC` : 'paused'}</dd>
          </div>
          <div>
            <dt>Next run</dt>
            <dd>{schedule.is_active ? <Time at={schedule.next_run_at} /> : '—'}</dd>
          </div>
          <div>
            <dt>Last run</dt>
            <dd>
              {schedule.last_run_state ? (
                <>
                  <Badge tone={stateTone(schedule.last_run_state)}>{schedule.last_run_state}</Badge>{' '}
                  <Time at={schedule.last_run_at} />
                </>
              ) : (
                'not yet'
              )}
            </dd>
          </div>
          <div>
            <dt>Retention</dt>
            <dd>{schedule.retention_days} days</dd>
          </div>
        </dl>
      ) : (
        current.data && <p class="empty">No daily backup is scheduled. The nightly platform dump still runs at 02:15 UTC.</p>
      )}
      {schedule?.last_run_state === 'missed' && (
        <p class="warning" role="note">
          The last scheduled backup did not run (a <code>backup.missed</code> event was sent to your webhooks).
        </p>
      )}
      {schedule && !schedule.scheduler_synced && (
        <p class="warning">The scheduler does not match this schedule yet; it is synced again automatically.</p>
      )}
      <ActionForm class="grid-form" onSubmit={() => save.run()}>
        {/* Not editable until the saved schedule is in, so a load never overwrites typing. */}
        <fieldset class="contents" disabled={!current.data}>
          <Field label="Hour (UTC, 0–23)" id="schedule-hour" error={err('cron_hour')}>
            <input
              {...describedBy('schedule-hour', err('cron_hour'))}
              type="number"
              inputMode="numeric"
              value={form.hour}
              onInput={(e) => setForm({ ...form, hour: e.currentTarget.value })}
            />
          </Field>
          <Field label="Minute (0–59)" id="schedule-minute" error={err('cron_minute')} hint={local ?? 'UTC'}>
            <input
              {...describedBy('schedule-minute', err('cron_minute'), true)}
              type="number"
              inputMode="numeric"
              value={form.minute}
              onInput={(e) => setForm({ ...form, minute: e.currentTarget.value })}
            />
          </Field>
          <Field label="Keep backups for (days, 1–365)" id="schedule-retention" error={err('retention_days')}>
            <input
              {...describedBy('schedule-retention', err('retention_days'))}
              type="number"
              inputMode="numeric"
              value={form.retention}
              onInput={(e) => setForm({ ...form, retention: e.currentTarget.value })}
            />
          </Field>
          <Field label="Label" id="schedule-label" error={err('label')}>
            <input
              {...describedBy('schedule-label', err('label'))}
              value={form.label}
              onInput={(e) => setForm({ ...form, label: e.currentTarget.value })}
            />
          </Field>
          <div class="field checkbox">
            <input
              id="schedule-active"
              type="checkbox"
              checked={form.active}
              onChange={(e) => setForm({ ...form, active: e.currentTarget.checked })}
            />
            <label for="schedule-active">Active</label>
          </div>
          <div class="form-actions">
            <Submit busy={save.busy} label="Save schedule" busyLabel="Saving…" />
            {schedule && (
              <button type="button" class="secondary" disabled={remove.busy} onClick={() => remove.run()}>
                {remove.busy ? 'Removing…' : 'Remove schedule'}
              </button>
            )}
          </div>
        </fieldset>
      </ActionForm>
      <ErrorText error={formError(save.error, FIELDS)} />
      <ErrorText error={remove.error ?? current.error} />
    </Section>
  );
}

const pad = (n: number) => String(n).padStart(2, '0');
