import { useEffect, useRef, useState } from 'preact/hooks';
import {
  idempotency,
  ok,
  overwriteRefusal,
  type Connections,
  type Project,
  type Region,
  type Restore,
  type RestoreCreated,
  type TargetKind,
} from './api';
import { JobProgress } from './job';
import { TimeInWindow, windowOf } from './pitr';
import { Copyable, describedBy, ErrorText, Field, fieldError, formError, utc, useAction, useLoad, useSession } from './ui';

export type SourceChoice =
  | { kind: 'backup'; backupKey: string; label: string }
  | { kind: 'point'; id: string; label: string }
  | { kind: 'time'; at: string }
  | { kind: 'none' };

const FIELDS = ['backup_key', 'restore_point_id', 'restore_time', 'preview_name', 'ttl_hours', 'preview_id', 'target_kind'];

/** Source → target → (for production, the typed confirmation) → live progress → how to use it. */
export function RestoreDialog(props: { project: Project; region: Region; initial: SourceChoice; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const [started, setStarted] = useState<RestoreCreated | null>(null);
  return (
    <dialog ref={dialog} class="restore-dialog" aria-labelledby="restore-title" onClose={props.onClose}>
      <header class="dialog-head">
        <h2 id="restore-title">Restore</h2>
        <button type="button" class="secondary small" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </header>
      {started ? <RestoreRunning project={props.project} created={started} /> : <RestoreForm {...props} onStarted={setStarted} />}
    </dialog>
  );
}

function RestoreForm(props: { project: Project; region: Region; initial: SourceChoice; onStarted: (r: RestoreCreated) => void }) {
  const { api, me, announce, changed } = useSession();
  const projectId = props.project.id;
  const window = windowOf(props.region);
  const backups = useLoad(
    () =>
      ok(api.GET('/v1/projects/{project_id}/backups', { params: { path: { project_id: projectId }, query: { limit: 100 } } })),
    [projectId],
  );
  const points = useLoad(
    () =>
      ok(
        api.GET('/v1/projects/{project_id}/restore-points', {
          params: { path: { project_id: projectId }, query: { limit: 100 } },
        }),
      ),
    [projectId],
  );
  const previews = useLoad(
    () =>
      ok(
        api.GET('/v1/projects/{project_id}/preview-databases', {
          params: { path: { project_id: projectId }, query: { limit: 100 } },
        }),
      ),
    [projectId],
  );
  const usable = (backups.data?.backups ?? []).filter((b) => b.state === 'completed' && b.backup_key);
  const readyPreviews = (previews.data?.preview_databases ?? []).filter((p) => p.state === 'ready');
  const init = props.initial;
  const [sourceKind, setSourceKind] = useState<'backup' | 'point' | 'time'>(init.kind === 'none' ? 'backup' : init.kind);
  const [backupKey, setBackupKey] = useState(init.kind === 'backup' ? init.backupKey : '');
  const [pointId, setPointId] = useState(init.kind === 'point' ? init.id : '');
  const [at, setAt] = useState<number>(init.kind === 'time' ? Date.parse(init.at) : (window?.latest ?? 0));
  const [target, setTarget] = useState<TargetKind>('new_preview');
  const [previewName, setPreviewName] = useState('');
  const [ttl, setTtl] = useState('24');
  const [previewId, setPreviewId] = useState('');
  const [typedName, setTypedName] = useState('');
  const [allowUnverified, setAllowUnverified] = useState(false);
  const refusal = overwriteRefusal(me);
  const chosenKey = backupKey || usable[0]?.backup_key || '';
  const chosenBackup = usable.find((b) => b.backup_key === chosenKey);
  const confirmed = target !== 'project' || typedName === props.project.name;

  const submit = useAction(async () => {
    const source =
      sourceKind === 'backup'
        ? { backup_key: chosenKey || null }
        : sourceKind === 'point'
          ? { restore_point_id: pointId || points.data?.restore_points[0]?.id || null }
          : { restore_time: new Date(at).toISOString() };
    const created = await ok(
      api.POST('/v1/projects/{project_id}/restores', {
        params: { path: { project_id: projectId }, header: idempotency() },
        body: {
          ...source,
          target_kind: target,
          preview_name: target === 'new_preview' && previewName.trim() ? previewName.trim() : null,
          ttl_hours: target === 'new_preview' ? (ttl.trim() === '' ? null : Number(ttl)) : null,
          preview_id: target === 'preview' ? previewId || readyPreviews[0]?.id || null : null,
          confirm_project_overwrite: target === 'project' ? true : null,
          allow_unverified_backup: sourceKind === 'backup' && allowUnverified ? true : null,
        },
      }),
    );
    announce(`Restore ${created.restore.id} started.`);
    changed();
    props.onStarted(created);
  });
  const err = (f: string) => fieldError(submit.error, f);
  return (
    <form
      class="restore-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (confirmed && !(target === 'project' && refusal)) void submit.run();
      }}
    >
      <fieldset class="choices">
        <legend>1. Restore from</legend>
        <label>
          <input type="radio" name="source" checked={sourceKind === 'backup'} onChange={() => setSourceKind('backup')} /> A backup
        </label>
        {sourceKind === 'backup' && (
          <Field label="Backup" id="restore-backup" error={err('backup_key')}>
            <select
              {...describedBy('restore-backup', err('backup_key'))}
              value={chosenKey}
              onChange={(e) => setBackupKey(e.currentTarget.value)}
            >
              {usable.length === 0 && <option value="">No completed backup</option>}
              {usable.map((b) => (
                <option value={b.backup_key ?? ''}>
                  {`${b.label ?? b.id} — ${utc(new Date(b.created_at))} — ${b.verification_state}`}
                </option>
              ))}
            </select>
          </Field>
        )}
        {sourceKind === 'backup' && chosenBackup && chosenBackup.verification_state !== 'verified' && (
          <label class="warning">
            <input type="checkbox" checked={allowUnverified} onChange={(e) => setAllowUnverified(e.currentTarget.checked)} /> This
            backup is not verified ({chosenBackup.verification_state}). Restore it anyway.
          </label>
        )}
        <label>
          <input type="radio" name="source" checked={sourceKind === 'point'} onChange={() => setSourceKind('point')} /> A restore
          point
        </label>
        {sourceKind === 'point' && (
          <Field label="Restore point" id="restore-point" error={err('restore_point_id')}>
            <select
              {...describedBy('restore-point', err('restore_point_id'))}
              value={pointId}
              onChange={(e) => setPointId(e.currentTarget.value)}
            >
              {(points.data?.restore_points ?? []).length === 0 && <option value="">No restore points</option>}
              {(points.data?.restore_points ?? []).map((p) => (
                <option value={p.id}>{`${p.label} (${p.kind})`}</option>
              ))}
            </select>
          </Field>
        )}
        <label>
          <input
            type="radio"
            name="source"
            checked={sourceKind === 'time'}
            disabled={!window}
            onChange={() => setSourceKind('time')}
          />{' '}
          A moment{!window && ' — point-in-time recovery is not available in this region'}
        </label>
        {sourceKind === 'time' && window && (
          <TimeInWindow
            id="restore-time"
            label="Moment in the restorable window"
            window={window}
            value={at || window.latest}
            onChange={setAt}
          />
        )}
        {err('restore_time') && <small class="field-error">{err('restore_time')}</small>}
      </fieldset>

      <fieldset class="choices">
        <legend>2. Restore into</legend>
        <label>
          <input type="radio" name="target" checked={target === 'new_preview'} onChange={() => setTarget('new_preview')} /> A new
          preview database (production is not touched)
        </label>
        {target === 'new_preview' && (
          <div class="grid-form nested">
            <Field
              label="Preview name (optional)"
              id="restore-preview-name"
              error={err('preview_name')}
              hint="Lowercase letters, digits, hyphens"
            >
              <input
                {...describedBy('restore-preview-name', err('preview_name'), true)}
                value={previewName}
                onInput={(e) => setPreviewName(e.currentTarget.value)}
              />
            </Field>
            <Field label="Lifetime (hours, 1–168)" id="restore-ttl" error={err('ttl_hours')}>
              <input
                {...describedBy('restore-ttl', err('ttl_hours'))}
                type="number"
                value={ttl}
                onInput={(e) => setTtl(e.currentTarget.value)}
              />
            </Field>
          </div>
        )}
        <label>
          <input
            type="radio"
            name="target"
            checked={target === 'preview'}
            disabled={readyPreviews.length === 0}
            onChange={() => setTarget('preview')}
          />{' '}
          An existing preview (its data is replaced){readyPreviews.length === 0 && ' — none is ready'}
        </label>
        {target === 'preview' && (
          <Field label="Preview" id="restore-preview" error={err('preview_id')}>
            <select
              {...describedBy('restore-preview', err('preview_id'))}
              value={previewId}
              onChange={(e) => setPreviewId(e.currentTarget.value)}
            >
              {readyPreviews.map((p) => (
                <option value={p.id}>{p.name}</option>
              ))}
            </select>
          </Field>
        )}
        <label>
          <input
            type="radio"
            name="target"
            checked={target === 'project'}
            disabled={!!refusal}
            aria-describedby={refusal ? 'overwrite-refusal' : undefined}
            onChange={() => setTarget('project')}
          />{' '}
          This project's production database ({props.project.name})
        </label>
        {refusal && (
          <p class="hint" id="overwrite-refusal" data-testid="overwrite-refusal">
            Unavailable: {refusal}
          </p>
        )}
      </fieldset>

      {target === 'project' && (
        <div class="danger-box" role="note">
          <h3>This replaces production</h3>
          <p>
            The production database of <strong>{props.project.name}</strong> will be replaced by the data you chose. Everything
            written to it after that point will no longer be in production. Before the swap, CapyDB takes a safety copy of
            production as it is now and keeps it for 7 days, so you can undo this.
          </p>
          <p>Connection strings stay the same; connections open at the moment of the swap are closed.</p>
          <Field label={`Type the project's name (${props.project.name}) to confirm`} id="restore-confirm-name">
            <input
              id="restore-confirm-name"
              autoComplete="off"
              value={typedName}
              onInput={(e) => setTypedName(e.currentTarget.value)}
            />
          </Field>
        </div>
      )}
      <div class="form-actions">
        <button type="submit" class={target === 'project' ? 'danger' : ''} disabled={submit.busy || !confirmed}>
          {submit.busy ? 'Starting…' : target === 'project' ? 'Replace production' : 'Start restore'}
        </button>
      </div>
      <ErrorText error={formError(submit.error, FIELDS)} />
    </form>
  );
}

function RestoreRunning({ project, created }: { project: Project; created: RestoreCreated }) {
  const { api } = useSession();
  const [done, setDone] = useState<{ restore: Restore; connections?: Connections; undo?: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const finished = async () => {
    try {
      const { restore } = await ok(
        api.GET('/v1/projects/{project_id}/restores/{restore_id}', {
          params: { path: { project_id: project.id, restore_id: created.restore.id } },
        }),
      );
      if (restore.state !== 'completed') {
        setDone({ restore });
        return;
      }
      if (restore.preview_id) {
        const connections = await ok(
          api.GET('/v1/preview-databases/{preview_id}/connections', { params: { path: { preview_id: restore.preview_id } } }),
        );
        setDone({ restore, connections });
      } else if (restore.safety_backup_id) {
        const { backup } = await ok(
          api.GET('/v1/projects/{project_id}/backups/{backup_id}', {
            params: { path: { project_id: project.id, backup_id: restore.safety_backup_id } },
          }),
        );
        setDone({
          restore,
          undo: `capydb restore --project ${project.id} --backup-key ${backup.backup_key} --target-kind project --confirm-project-overwrite --wait`,
        });
      } else setDone({ restore });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const pitr = created.pitr;
  return (
    <div class="restore-running">
      {pitr?.restore_time_clamped && (
        <p class="warning" data-testid="clamp-notice">
          The moment asked for ({pitr.requested_restore_time ? utc(new Date(pitr.requested_restore_time)) : '—'}) is later than
          the newest archived WAL, so the restore uses the latest restorable moment instead: {utc(new Date(pitr.restore_time))}.
        </p>
      )}
      <JobProgress jobId={created.job.id} title={`Restore ${created.restore.id}`} onDone={finished} />
      {error && <p class="error">{error}</p>}
      {done && done.restore.state !== 'completed' && (
        <p class="error">
          The restore {done.restore.state}: {done.restore.error}
        </p>
      )}
      {done?.connections && (
        <div class="outcome" data-testid="restore-outcome">
          <p>
            The data is in preview database <strong>{created.preview?.name ?? done.restore.preview_id}</strong>. Connect with:
          </p>
          <Copyable text={done.connections.direct_url} label="preview connection string" />
        </div>
      )}
      {done?.undo && (
        <div class="outcome" data-testid="restore-outcome">
          <p>
            Production now holds the restored data. The data from just before is kept as backup{' '}
            <code>{done.restore.safety_backup_id}</code> for 7 days. To undo:
          </p>
          <Copyable text={done.undo} label="undo command" />
        </div>
      )}
    </div>
  );
}
