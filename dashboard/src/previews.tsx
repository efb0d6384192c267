import { useState } from 'preact/hooks';
import { idempotency, ok, type Connections, type Preview, type Project } from './api';
import {
  Badge,
  Copyable,
  duration,
  ErrorText,
  Section,
  stateTone,
  Time,
  useAction,
  useLoad,
  useNow,
  useSession,
  ActionForm,
  Submit,
} from './ui';

export function PreviewsPanel({ project }: { project: Project }) {
  const { api } = useSession();
  const list = useLoad(
    () =>
      ok(
        api.GET('/v1/projects/{project_id}/preview-databases', {
          params: { path: { project_id: project.id }, query: { limit: 100 } },
        }),
      ),
    [project.id],
  );
  const previews = list.data?.preview_databases ?? [];
  return (
    <Section id="previews" title="Preview databases">
      {previews.length === 0 && list.data && (
        <p class="empty">No previews. Restore a backup or a moment into a new preview to inspect it safely.</p>
      )}
      {previews.length > 0 && (
        <ul class="cards" data-testid="previews">
          {previews.map((p) => (
            <PreviewCard key={p.id} preview={p} />
          ))}
        </ul>
      )}
      <ErrorText error={list.error} />
    </Section>
  );
}

function PreviewCard({ preview: p }: { preview: Preview }) {
  const { api, announce, changed } = useSession();
  const now = useNow(1000);
  const [conn, setConn] = useState<Connections | null>(null);
  const [ttl, setTtl] = useState('24');
  const [confirming, setConfirming] = useState(false);
  const left = Date.parse(p.ttl_expires_at) - now;
  const show = useAction(async () => {
    setConn(await ok(api.GET('/v1/preview-databases/{preview_id}/connections', { params: { path: { preview_id: p.id } } })));
  });
  const extend = useAction(async () => {
    const answer = await ok(
      api.POST('/v1/preview-databases/{preview_id}/extend', {
        params: { path: { preview_id: p.id }, header: idempotency() },
        body: { ttl_hours: Number(ttl) },
      }),
    );
    announce(`Preview ${p.name} now expires at ${answer.preview.ttl_expires_at}.`);
    changed();
  });
  const remove = useAction(async () => {
    await ok(api.DELETE('/v1/preview-databases/{preview_id}', { params: { path: { preview_id: p.id } } }));
    announce(`Preview ${p.name} deleted.`);
    changed();
  });
  return (
    <li class="card" data-preview-id={p.id}>
      <div class="card-head">
        <strong>{p.name}</strong> <Badge tone={stateTone(p.state)}>{p.state}</Badge>
      </div>
      <p class="muted">
        {left > 0 ? `Deleted in ${duration(left)}` : 'Expired; being deleted'} (<Time at={p.ttl_expires_at} />
        ). Data from{' '}
        {p.source_kind === 'pitr' ? <Time at={p.source_restore_time} /> : (p.source_backup_key?.split('/').pop() ?? '—')}.
      </p>
      {p.last_error && <p class="error">{p.last_error}</p>}
      {conn ? (
        <Copyable text={conn.direct_url} label={`connection string of ${p.name}`} />
      ) : (
        <button type="button" class="secondary small" disabled={show.busy || p.state !== 'ready'} onClick={() => show.run()}>
          {show.busy ? 'Loading…' : 'Show connection string'}
        </button>
      )}
      <ActionForm class="inline-form" onSubmit={() => extend.run()}>
        <label for={`extend-${p.id}`}>Keep for (hours from now)</label>
        <input id={`extend-${p.id}`} type="number" class="narrow" value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
        <Submit class="secondary small" busy={extend.busy} label="Extend" busyLabel="Extending…" />
      </ActionForm>
      {confirming ? (
        <div class="inline-form">
          <button type="button" class="danger small" disabled={remove.busy} onClick={() => remove.run()}>
            {remove.busy ? 'Deleting…' : `Delete ${p.name}`}
          </button>
          <button type="button" class="secondary small" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </div>
      ) : (
        <button type="button" class="secondary small" onClick={() => setConfirming(true)}>
          Delete preview
        </button>
      )}
      <ErrorText error={show.error ?? extend.error ?? remove.error} />
    </li>
  );
}
