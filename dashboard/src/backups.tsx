import { useState } from 'preact/hooks';
import { idempotency, ok, type Backup, type Job, type Project } from './api';
import { JobProgress } from './job';
import type { SourceChoice } from './restore';
import {
  Badge,
  bytes,
  describedBy,
  ErrorText,
  Field,
  fieldError,
  formError,
  Pager,
  Section,
  Time,
  useAction,
  useLoad,
  usePager,
  useSession,
  TableWrap,
  ActionForm,
  Submit,
  TableHead,
} from './ui';

const KINDS: Record<Backup['kind'], string> = {
  on_demand: 'On demand',
  scheduled: 'Scheduled',
  nightly: 'Nightly',
  pre_restore: 'Pre-restore safety copy',
};

export function Verification({ backup }: { backup: Backup }) {
  if (backup.state === 'failed') return <Badge tone="bad">backup failed</Badge>;
  switch (backup.verification_state) {
    case 'verified':
      return <Badge tone="ok">verified</Badge>;
    case 'failed':
      return (
        <span class="stack">
          <Badge tone="bad">verification failed</Badge>
          <small>{backup.verification_error}</small>
        </span>
      );
    default:
      return <Badge tone="wait">pending</Badge>;
  }
}

export function BackupsPanel({ project, onRestore }: { project: Project; onRestore: (s: SourceChoice) => void }) {
  const { api, announce, changed } = useSession();
  const [limit, setLimit] = useState(10);
  const pager = usePager();
  const list = useLoad(
    () =>
      ok(
        api.GET('/v1/projects/{project_id}/backups', {
          params: { path: { project_id: project.id }, query: { limit, cursor: pager.cursor } },
        }),
      ),
    [project.id, limit, pager.cursor],
  );
  const [label, setLabel] = useState('');
  const [running, setRunning] = useState<{ jobId: string; backupId: string } | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const create = useAction(async () => {
    setOutcome(null);
    const created = await ok(
      api.POST('/v1/projects/{project_id}/backups', {
        params: { path: { project_id: project.id }, header: idempotency() },
        body: label.trim() ? { label: label.trim() } : {},
      }),
    );
    setRunning({ jobId: created.job.id, backupId: created.backup.id });
    setLabel('');
    announce(`Backup ${created.backup.id} started.`);
    changed();
  });
  const finished = async (job: Job) => {
    if (!running) return;
    const { backup } = await ok(
      api.GET('/v1/projects/{project_id}/backups/{backup_id}', {
        params: { path: { project_id: project.id, backup_id: running.backupId } },
      }),
    );
    const text =
      job.state === 'completed' && backup.verification_state === 'verified'
        ? `Backup ${backup.id} completed and verified (${bytes(backup.size_bytes)}).`
        : `Backup ${backup.id} ${backup.state}: ${backup.error ?? backup.verification_error ?? job.error ?? 'see the job'}`;
    setOutcome(text);
    announce(text);
  };
  const labelError = fieldError(create.error, 'label');
  return (
    <Section id="backups" title="Backups">
      <ActionForm class="inline-form" onSubmit={() => create.run()}>
        <Field label="Label (optional)" id="backup-label" error={labelError}>
          <input
            {...describedBy('backup-label', labelError)}
            value={label}
            maxLength={200}
            placeholder="before-the-migration"
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
        </Field>
        <Submit busy={create.busy} label="Create backup" busyLabel="Creating…" />
      </ActionForm>
      <ErrorText error={formError(create.error, ['label'])} />
      {running && (
        <JobProgress key={running.jobId} jobId={running.jobId} title={`Backup ${running.backupId}`} onDone={finished} />
      )}
      {outcome && (
        <p class="outcome" data-testid="backup-outcome">
          {outcome}
        </p>
      )}
      <BackupTable
        backups={list.data?.backups ?? []}
        loading={list.loading && !list.data}
        projectId={project.id}
        onRestore={onRestore}
      />
      <ErrorText error={list.error} />
      <div class="table-foot">
        <label class="compact">
          Rows per page{' '}
          <select
            value={limit}
            onChange={(e) => {
              setLimit(Number(e.currentTarget.value));
              pager.reset();
            }}
          >
            {[5, 10, 25, 50].map((n) => (
              <option value={n}>{n}</option>
            ))}
          </select>
        </label>
        <Pager
          label="Backups"
          page={pager.page}
          next={list.data?.next_cursor}
          onNext={() => list.data?.next_cursor && pager.next(list.data.next_cursor)}
          onPrev={pager.prev}
        />
      </div>
    </Section>
  );
}

function BackupTable(props: { backups: Backup[]; loading: boolean; projectId: string; onRestore: (s: SourceChoice) => void }) {
  const { api, announce, changed } = useSession();
  const [confirming, setConfirming] = useState<string | null>(null);
  const remove = useAction(async (b: Backup) => {
    await ok(
      api.DELETE('/v1/projects/{project_id}/backups/{backup_id}', {
        params: { path: { project_id: props.projectId, backup_id: b.id } },
      }),
    );
    setConfirming(null);
    announce(`Backup ${b.label ?? b.id} deleted.`);
    changed();
  });
  if (props.loading) return <p>Loading backups…</p>;
  if (props.backups.length === 0) return <p class="empty">No backups yet. Create one above, or set a daily schedule.</p>;
  return (
    <>
      <ErrorText error={remove.error} />
      <TableWrap label="Backups">
        <table data-testid="backups-table" class="stacks">
          <TableHead
            caption="Backups of this project, newest first"
            columns={['Label', 'Kind', 'State', 'Verification', 'Size', 'Created', 'Expires', 'Pinned']}
            actions
          />
          <tbody>
            {props.backups.map((b) => (
              <tr key={b.id} data-backup-id={b.id}>
                <th scope="row">
                  {b.label ?? <span class="muted">(no label)</span>}
                  <small class="id">{b.id}</small>
                </th>
                <td data-label="Kind">{KINDS[b.kind]}</td>
                <td data-label="State">
                  <Badge tone={b.state === 'completed' ? 'ok' : b.state === 'failed' ? 'bad' : 'wait'}>{b.state}</Badge>
                  {b.error && <small class="error-inline">{b.error}</small>}
                </td>
                <td data-label="Verification">
                  <Verification backup={b} />
                </td>
                <td data-label="Size" class="nowrap">
                  {bytes(b.size_bytes)}
                </td>
                <td data-label="Created">
                  <Time at={b.created_at} />
                </td>
                <td data-label="Expires">
                  <Time at={b.expires_at} />
                </td>
                <td data-label="Pinned">
                  {b.pinned ? (
                    <Badge tone="info" title="A restore point keeps this backup">
                      pinned
                    </Badge>
                  ) : (
                    'no'
                  )}
                </td>
                <td class="actions">
                  {b.state === 'completed' && b.backup_key && (
                    <button
                      type="button"
                      class="secondary small"
                      onClick={() => props.onRestore({ kind: 'backup', backupKey: b.backup_key!, label: b.label ?? b.id })}
                    >
                      Restore…
                    </button>
                  )}
                  {confirming === b.id ? (
                    <>
                      <button type="button" class="danger small" disabled={remove.busy} onClick={() => remove.run(b)}>
                        {remove.busy ? 'Deleting…' : 'Confirm delete'}
                      </button>
                      <button type="button" class="secondary small" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  ) : (
                    <button
                      type="button"
                      class="secondary small"
                      onClick={() => {
                        remove.setError(null);
                        setConfirming(b.id);
                      }}
                    >
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </>
  );
}
