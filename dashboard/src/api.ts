// The dashboard's only way to the server: the public API, typed from the OpenAPI document that
// the contract crate generates (src/generated/api.ts is made from ../api/openapi.json at build
// time, so a renamed field or path fails `npm run build`).
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/api';

export type Schemas = components['schemas'];
export type Backup = Schemas['Backup'];
export type Job = Schemas['Job'];
export type Me = Schemas['Me'];
export type Project = Schemas['Project'];
export type Region = Schemas['Region'];
export type RestorePoint = Schemas['RestorePoint'];
export type Restore = Schemas['Restore'];
export type RestoreCreated = Schemas['RestoreCreated'];
export type Preview = Schemas['PreviewDatabase'];
export type Connections = Schemas['Connections'];
export type ScheduledBackup = Schemas['ScheduledBackup'];
export type WebhookEndpoint = Schemas['WebhookEndpoint'];
export type Delivery = Schemas['Delivery'];
export type TargetKind = Schemas['TargetKind'];

export type Client = ReturnType<typeof connect>;

/** An answer that was not a success, in the API's own words (`{error, code, field}`). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly field?: string | null,
    readonly jobId?: string | null,
  ) {
    super(message);
  }
}

export function connect(token: string) {
  return createClient<paths>({
    baseUrl: window.location.origin,
    headers: { Authorization: `Bearer ${token}` },
  });
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** Unwraps an answer, or throws an `ApiError` that says in words what went wrong. */
export async function ok<T>(request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch {
    throw new ApiError('The API could not be reached. Check the connection and try again.', 0, 'network');
  }
  if (answer.response.ok && answer.data !== undefined) return answer.data;
  const body = answer.error as Partial<Schemas['ErrorBody']> | undefined;
  const message =
    typeof body?.error === 'string' ? body.error : `The API answered ${answer.response.status} ${answer.response.statusText}.`;
  throw new ApiError(message, answer.response.status, body?.code, body?.field, body?.job_id);
}

/** A fresh key per user action, so a retried or double-submitted create happens once. */
export function idempotency(): { 'Idempotency-Key': string } {
  return { 'Idempotency-Key': crypto.randomUUID() };
}

/** What the credential may do, from `GET /v1/me`. The server decides; this only explains. */
export function overwriteRefusal(me: Me): string | null {
  if (me.credential_type === 'session') {
    return me.role === 'admin' ? null : 'Replacing production needs the organization admin role; you are signed in as a member.';
  }
  return me.scopes.includes('backups:write') ? null : 'This API key lacks the backups:write scope.';
}

export function orgAdminRefusal(me: Me): string | null {
  if (me.credential_type === 'session') {
    return me.role === 'admin' ? null : 'Webhook endpoints are managed by organization admins; you are signed in as a member.';
  }
  if (me.project_id) return 'A project-scoped API key cannot manage the organization.';
  return me.scopes.includes('organizations:write') ? null : 'This API key lacks the organizations:write scope.';
}

export const TERMINAL_JOB = ['completed', 'failed', 'cancelled'] as const;
export function jobDone(job: Job): boolean {
  return (TERMINAL_JOB as readonly string[]).includes(job.state);
}
