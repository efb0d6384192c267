import { ok, type Job, type Project, type Restore } from './api';
import {
  Badge,
  ErrorText,
  Pager,
  Section,
  span,
  stateTone,
  Time,
  useLoad,
  usePager,
  useSession,
  TableWrap,
  TableHead,
} from './ui';

const JOB_TYPES: Record<Job['type'], string> = {
  'project.provision': 'Provision',
  'project.backup': 'Backup',
  'project.restore': 'Restore',
  'instance.pitr_restore': 'Point-in-time restore',
};

function source(r: Restore): string {
  if (r.pitr) return `moment ${r.pitr.restore_time}`;
  return r.source_backup_id ?? r.source_backup_key ?? '—';
}
function target(r: Restore): string {
  if (r.target_kind === 'project') return 'production';
  return r.target_kind === 'new_preview' ? `new preview ${r.preview_id ?? ''}` : `preview ${r.preview_id ?? ''}`;
}

export function RestoresPanel({ project }: { project: Project }) {
  const { api } = useSession();
  const pager = usePager();
  const list = useLoad(
    () =>
      ok(
        api.GET('/v1/projects/{project_id}/restores', {
          params: { path: { project_id: project.id }, query: { limit: 10, cursor: pager.cursor } },
        }),
      ),
    [project.id, pager.cursor],
  );
  const restores = list.data?.restores ?? [];
  return (
    <Section id="restores" title="Restores">
      {restores.length === 0 && list.data && <p class="empty">No restores yet.</p>}
      {restores.length > 0 && (
        <TableWrap label="Restores">
          <table data-testid="restores-table">
            <TableHead
              caption="Restores of this project, newest first"
              columns={['Started', 'From', 'Into', 'State', 'Duration', 'Safety copy']}
            />
            <tbody>
              {restores.map((r) => (
                <tr key={r.id}>
                  <th scope="row">
                    <Time at={r.created_at} />
                    <small class="id">{r.id}</small>
                  </th>
                  <td>{source(r)}</td>
                  <td>{target(r)}</td>
                  <td>
                    <Badge tone={stateTone(r.state)}>{r.state}</Badge>
                    {r.error && <small class="error-inline">{r.error}</small>}
                  </td>
                  <td>{span(r.started_at ?? r.created_at, r.completed_at)}</td>
                  <td>{r.safety_backup_id ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager
        label="Restores"
        page={pager.page}
        next={list.data?.next_cursor}
        onNext={() => list.data?.next_cursor && pager.next(list.data.next_cursor)}
        onPrev={pager.prev}
      />
      <ErrorText error={list.error} />
    </Section>
  );
}

export function JobsPanel({ project }: { project: Project }) {
  const { api } = useSession();
  const pager = usePager();
  const list = useLoad(
    () =>
      ok(
        api.GET('/v1/projects/{project_id}/jobs', {
          params: { path: { project_id: project.id }, query: { limit: 10, cursor: pager.cursor } },
        }),
      ),
    [project.id, pager.cursor],
  );
  const jobs = list.data?.jobs ?? [];
  return (
    <Section id="jobs" title="Jobs">
      {jobs.length > 0 && (
        <TableWrap label="Jobs">
          <table data-testid="jobs-table">
            <TableHead
              caption="Jobs of this project, newest first"
              columns={['Created', 'Type', 'State', 'Attempts', 'Duration']}
            />
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id}>
                  <th scope="row">
                    <Time at={j.created_at} />
                    <small class="id">{j.id}</small>
                  </th>
                  <td>{JOB_TYPES[j.type]}</td>
                  <td>
                    <Badge tone={stateTone(j.state)}>{j.state}</Badge>
                    {(j.error ?? j.last_error) && <small class="error-inline">{j.error ?? j.last_error}</small>}
                  </td>
                  <td>
                    {j.attempts} of {j.max_attempts}
                  </td>
                  <td>{span(j.started_at ?? j.created_at, j.completed_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager
        label="Jobs"
        page={pager.page}
        next={list.data?.next_cursor}
        onNext={() => list.data?.next_cursor && pager.next(list.data.next_cursor)}
        onPrev={pager.prev}
      />
      <ErrorText error={list.error} />
    </Section>
  );
}
