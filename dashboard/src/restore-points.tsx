import { useState } from 'preact/hooks';
import { idempotency, ok, type Project, type Region } from './api';
import { TimeInWindow, windowOf } from './pitr';
import type { SourceChoice } from './restore';
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
  TableWrap,
  ActionForm,
  Submit,
  TableHead,
} from './ui';

const FIELDS = ['label', 'kind', 'backup_key', 'pitr_time', 'note'];

export function RestorePointsPanel(props: { project: Project; region: Region; onRestore: (s: SourceChoice) => void }) {
  const { api, announce, changed } = useSession();
  const projectId = props.project.id;
  const points = useLoad(
    () =>
      ok(
        api.GET('/v1/projects/{project_id}/restore-points', {
          params: { path: { project_id: projectId }, query: { limit: 100 } },
        }),
      ),
    [projectId],
  );
  const backups = useLoad(
    () =>
      ok(api.GET('/v1/projects/{project_id}/backups', { params: { path: { project_id: projectId }, query: { limit: 100 } } })),
    [projectId],
  );
  const usable = (backups.data?.backups ?? []).filter((b) => b.state === 'completed' && b.backup_key);
  const window = windowOf(props.region);
  const [label, setLabel] = useState('');
  const [note, setNote] = useState('');
  const [kind, setKind] = useState<'backup' | 'pitr'>('backup');
  const [backupKey, setBackupKey] = useState('');
  const [when, setWhen] = useState<'now' | 'time'>('now');
  const [at, setAt] = useState<number>(window?.latest ?? 0);
  const create = useAction(async () => {
    const chosenKey = backupKey || usable[0]?.backup_key || null;
    const { restore_point: rp } = await ok(
      api.POST('/v1/projects/{project_id}/restore-points', {
        params: { path: { project_id: projectId }, header: idempotency() },
        body: {
          label: label.trim(),
          kind,
          note: note.trim() || null,
          backup_key: kind === 'backup' ? chosenKey : null,
          pitr_time: kind === 'pitr' && when === 'time' ? new Date(at).toISOString() : null,
        },
      }),
    );
    setLabel('');
    setNote('');
    announce(`Restore point ${rp.label} created.`);
    changed();
  });
  const remove = useAction(async (id: string, name: string) => {
    await ok(
      api.DELETE('/v1/projects/{project_id}/restore-points/{restore_point_id}', {
        params: { path: { project_id: projectId, restore_point_id: id } },
      }),
    );
    announce(`Restore point ${name} deleted.`);
    changed();
  });
  const err = (f: string) => fieldError(create.error, f);
  const list = points.data?.restore_points ?? [];
  return (
    <Section id="restore-points" title="Restore points">
      {list.length === 0 && points.data && <p class="empty">No restore points. Name a backup or a moment to come back to it.</p>}
      {list.length > 0 && (
        <TableWrap label="Restore points">
          <table data-testid="restore-points-table">
            <TableHead
              caption="Restore points of this project"
              columns={['Label', 'Kind', 'Marks', 'State', 'Created']}
              actions
            />
            <tbody>
              {list.map((p) => (
                <tr key={p.id} data-restore-point-id={p.id}>
                  <th scope="row">
                    {p.label}
                    {p.note && <small class="id">{p.note}</small>}
                  </th>
                  <td>{p.kind}</td>
                  <td>{p.kind === 'backup' ? <code>{p.backup_id}</code> : <Time at={p.pitr_time} />}</td>
                  <td>
                    <Badge tone={stateTone(p.state)}>{p.state}</Badge>
                  </td>
                  <td>
                    <Time at={p.created_at} />
                  </td>
                  <td class="actions">
                    <button
                      type="button"
                      class="secondary small"
                      onClick={() => props.onRestore({ kind: 'point', id: p.id, label: p.label })}
                    >
                      Restore…
                    </button>
                    <button
                      type="button"
                      class="secondary small"
                      disabled={remove.busy}
                      onClick={() => remove.run(p.id, p.label)}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <ErrorText error={remove.error ?? points.error} />
      <h3>New restore point</h3>
      <ActionForm class="grid-form" onSubmit={() => create.run()}>
        <Field label="Label" id="rp-label" error={err('label')} hint="Unique in this project">
          <input
            {...describedBy('rp-label', err('label'), true)}
            value={label}
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
        </Field>
        <Field label="Note (optional)" id="rp-note" error={err('note')}>
          <input {...describedBy('rp-note', err('note'))} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
        <fieldset class="choices">
          <legend>Marks</legend>
          <label>
            <input type="radio" name="rp-kind" checked={kind === 'backup'} onChange={() => setKind('backup')} /> A backup
          </label>
          <label>
            <input type="radio" name="rp-kind" checked={kind === 'pitr'} disabled={!window} onChange={() => setKind('pitr')} /> A
            moment (point in time){!window && ' — not available in this region'}
          </label>
        </fieldset>
        {kind === 'backup' ? (
          <Field label="Backup" id="rp-backup" error={err('backup_key')}>
            <select
              {...describedBy('rp-backup', err('backup_key'))}
              value={backupKey}
              onChange={(e) => setBackupKey(e.currentTarget.value)}
            >
              {usable.length === 0 && <option value="">No completed backup yet</option>}
              {usable.map((b) => (
                <option value={b.backup_key ?? ''}>
                  {(b.label ?? b.id) + ' — ' + new Date(b.created_at).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'}
                </option>
              ))}
            </select>
          </Field>
        ) : (
          <fieldset class="choices">
            <legend>Moment</legend>
            <label>
              <input type="radio" name="rp-when" checked={when === 'now'} onChange={() => setWhen('now')} /> Now (marked in the
              WAL itself, exact)
            </label>
            <label>
              <input type="radio" name="rp-when" checked={when === 'time'} onChange={() => setWhen('time')} /> A past moment
            </label>
            {when === 'time' && window && (
              <TimeInWindow
                id="rp-time"
                label="Moment in the window"
                window={window}
                value={at || window.latest}
                onChange={setAt}
              />
            )}
            {err('pitr_time') && <small class="field-error">{err('pitr_time')}</small>}
          </fieldset>
        )}
        <div class="form-actions">
          <Submit busy={create.busy} label="Create restore point" busyLabel="Creating…" />
        </div>
      </ActionForm>
      <ErrorText error={formError(create.error, FIELDS)} />
    </Section>
  );
}
