import { useState } from 'preact/hooks';
import { idempotency, jobDone, ok, type Job } from './api';
import { Badge, bytes, ErrorText, span, stateTone, useAction, useNow, usePoll, useSession } from './ui';

const PHASES: Record<string, string> = {
  queued: 'Waiting for a worker',
  starting: 'Starting',
  dumping: 'Dumping and uploading the database',
  verifying: 'Verifying: restoring the archive into a sandbox',
  restoring: 'Restoring into a staging database',
  recovering: 'Replaying archived WAL up to the moment',
  swapping: 'Swapping the restored database in',
  'saving safety copy': 'Recording the safety copy of production',
};

/** A job's live progress, polled every second until it ends. */
export function JobProgress({ jobId, title, onDone }: { jobId: string; title: string; onDone?: (job: Job) => void }) {
  const { api, changed } = useSession();
  const [job, setJob] = useState<Job | null>(null);
  const now = useNow(500);
  usePoll(
    async () => {
      const answer = await ok(api.GET('/v1/jobs/{job_id}', { params: { path: { job_id: jobId } } }));
      setJob(answer.job);
      if (jobDone(answer.job)) {
        changed();
        onDone?.(answer.job);
        return true;
      }
      return false;
    },
    1000,
    true,
  );
  const cancel = useAction(async () => {
    await ok(api.POST('/v1/jobs/{job_id}/cancel', { params: { path: { job_id: jobId }, header: idempotency() } }));
  });
  const phase = job?.progress?.phase ?? (job?.state === 'pending' ? 'queued' : undefined);
  return (
    <div class="progress" aria-live="polite" data-testid="job-progress" data-job-state={job?.state ?? 'loading'}>
      <div class="progress-head">
        <strong>{title}</strong>
        {job && <Badge tone={stateTone(job.state)}>{job.state}</Badge>}
      </div>
      {!job && <p>Starting…</p>}
      {job && (
        <dl class="facts">
          <div>
            <dt>Phase</dt>
            <dd data-testid="job-phase">{jobDone(job) ? '—' : phase ? (PHASES[phase] ?? phase) : '—'}</dd>
          </div>
          <div>
            <dt>Data moved</dt>
            <dd>{job.progress && job.progress.bytes_done > 0 ? bytes(job.progress.bytes_done) : '—'}</dd>
          </div>
          <div>
            <dt>Elapsed</dt>
            <dd>{span(job.started_at ?? job.created_at, job.completed_at, now)}</dd>
          </div>
          <div>
            <dt>Attempt</dt>
            <dd>
              {job.attempts} of {job.max_attempts}
            </dd>
          </div>
        </dl>
      )}
      {job?.state === 'pending' && job.last_error && (
        <p class="hint">
          The last attempt met a {job.retry_classification ?? 'transient'} error and is retried
          {job.next_attempt_at ? ` after ${new Date(job.next_attempt_at).toLocaleTimeString()}` : ''}: {job.last_error}
        </p>
      )}
      {job?.error && <p class="error">{job.error}</p>}
      {job && !jobDone(job) && (
        <button type="button" class="secondary small" disabled={cancel.busy} onClick={() => cancel.run()}>
          {cancel.busy ? 'Cancelling…' : 'Cancel job'}
        </button>
      )}
      <ErrorText error={cancel.error} />
    </div>
  );
}
