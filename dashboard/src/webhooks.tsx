import { useEffect, useState } from 'preact/hooks';
import { idempotency, ok, orgAdminRefusal, type Delivery, type WebhookEndpoint } from './api';
import {
  Badge,
  Copyable,
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
  usePoll,
  useSession,
  TableWrap,
  ActionForm,
  Submit,
  TableHead,
} from './ui';

const FIELDS = ['url', 'description', 'event_types'];

export function WebhooksPage() {
  const { me } = useSession();
  const refusal = orgAdminRefusal(me);
  return (
    <>
      <h1>Organization settings</h1>
      {refusal ? (
        <Section id="webhooks" title="Webhook endpoints">
          <p class="empty" data-testid="webhooks-refusal">
            {refusal}
          </p>
        </Section>
      ) : (
        <Endpoints orgId={me.organization_id} />
      )}
    </>
  );
}

/** Shown once: the API never returns a secret again. */
function Secret({ secret, onDismiss }: { secret: string; onDismiss: () => void }) {
  return (
    <div class="secret" role="alert" data-testid="webhook-secret">
      <p>
        <strong>Copy this signing secret now.</strong> It verifies the <code>X-CapyDB-Signature</code> header and is not shown
        again.
      </p>
      <Copyable text={secret} label="signing secret" />
      <button type="button" class="secondary small" onClick={onDismiss}>
        I have stored it
      </button>
    </div>
  );
}

function Endpoints({ orgId }: { orgId: string }) {
  const { api, announce, changed } = useSession();
  const list = useLoad(
    () =>
      ok(api.GET('/v1/organizations/{org_id}/webhook-endpoints', { params: { path: { org_id: orgId }, query: { limit: 100 } } })),
    [orgId],
  );
  // Health and last success move as deliveries happen.
  useEffect(() => {
    const t = window.setInterval(list.reload, 10000);
    return () => window.clearInterval(t);
  }, []);
  const [secret, setSecret] = useState<string | null>(null);
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [types, setTypes] = useState<string[]>([]);
  const create = useAction(async () => {
    const created = await ok(
      api.POST('/v1/organizations/{org_id}/webhook-endpoints', {
        params: { path: { org_id: orgId }, header: idempotency() },
        body: { url: url.trim(), description: description.trim() || null, event_types: types.length ? types : null },
      }),
    );
    setSecret(created.plaintext_secret);
    setUrl('');
    setDescription('');
    setTypes([]);
    announce(`Webhook endpoint ${created.webhook_endpoint.url} added.`);
    changed();
  });
  const err = (f: string) => fieldError(create.error, f);
  const endpoints = list.data?.webhook_endpoints ?? [];
  return (
    <Section id="webhooks" title="Webhook endpoints">
      {secret && <Secret secret={secret} onDismiss={() => setSecret(null)} />}
      {endpoints.length === 0 && list.data && (
        <p class="empty">No endpoints. Add one to hear about backups, restores and previews.</p>
      )}
      <ul class="cards wide">
        {endpoints.map((e) => (
          <EndpointCard key={e.id} orgId={orgId} endpoint={e} onSecret={setSecret} />
        ))}
      </ul>
      <ErrorText error={list.error} />
      <h3>Add an endpoint</h3>
      <ActionForm class="grid-form" onSubmit={() => create.run()}>
        <Field label="URL" id="webhook-url" error={err('url')} hint="https:// at a public address">
          <input
            {...describedBy('webhook-url', err('url'), true)}
            type="url"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </Field>
        <Field label="Description (optional)" id="webhook-description" error={err('description')}>
          <input
            {...describedBy('webhook-description', err('description'))}
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </Field>
        <fieldset class="choices columns">
          <legend>Events (none ticked: every event)</legend>
          {__EVENT_TYPES__.map((t) => (
            <label>
              <input
                type="checkbox"
                checked={types.includes(t)}
                onChange={(e) => setTypes(e.currentTarget.checked ? [...types, t] : types.filter((x) => x !== t))}
              />{' '}
              {t}
            </label>
          ))}
          {err('event_types') && <small class="field-error">{err('event_types')}</small>}
        </fieldset>
        <div class="form-actions">
          <Submit busy={create.busy} label="Add endpoint" busyLabel="Adding…" />
        </div>
      </ActionForm>
      <ErrorText error={formError(create.error, FIELDS)} />
    </Section>
  );
}

function EndpointCard({
  orgId,
  endpoint: e,
  onSecret,
}: {
  orgId: string;
  endpoint: WebhookEndpoint;
  onSecret: (s: string) => void;
}) {
  const { api, announce, changed } = useSession();
  const [open, setOpen] = useState(false);
  const path = { org_id: orgId, webhook_id: e.id };
  const test = useAction(async () => {
    await ok(
      api.POST('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/test', { params: { path, header: idempotency() } }),
    );
    announce('Test event sent; its delivery is listed below.');
    setOpen(true);
  });
  const rotate = useAction(async () => {
    const r = await ok(
      api.POST('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/rotate-secret', {
        params: { path, header: idempotency() },
      }),
    );
    onSecret(r.plaintext_secret);
    announce('Signing secret rotated.');
  });
  const toggle = useAction(async () => {
    await ok(
      api.PATCH('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}', {
        params: { path },
        body: { is_active: !e.is_active },
      }),
    );
    announce(`Endpoint ${e.is_active ? 'paused' : 'resumed'}.`);
    changed();
  });
  const remove = useAction(async () => {
    await ok(api.DELETE('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}', { params: { path } }));
    announce('Endpoint deleted.');
    changed();
  });
  const error = test.error ?? rotate.error ?? toggle.error ?? remove.error;
  return (
    <li class="card" data-webhook-id={e.id}>
      <div class="card-head">
        <code class="url">{e.url}</code> <Badge tone={stateTone(e.health)}>{e.health}</Badge>
        {!e.is_active && <Badge tone="info">paused</Badge>}
      </div>
      {e.description && <p>{e.description}</p>}
      <p class="muted">
        Events: {e.event_types.length ? e.event_types.join(', ') : 'all'}. Last success: <Time at={e.last_success_at} />
        {e.failing_since && (
          <>
            {' '}
            · failing since <Time at={e.failing_since} />
          </>
        )}
      </p>
      <div class="button-row">
        <button type="button" class="secondary small" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? 'Hide deliveries' : 'Deliveries'}
        </button>
        <button type="button" class="secondary small" disabled={test.busy} onClick={() => test.run()}>
          {test.busy ? 'Sending…' : 'Send test event'}
        </button>
        <button type="button" class="secondary small" disabled={rotate.busy} onClick={() => rotate.run()}>
          {rotate.busy ? 'Rotating…' : 'Rotate secret'}
        </button>
        <button type="button" class="secondary small" disabled={toggle.busy} onClick={() => toggle.run()}>
          {e.is_active ? 'Pause' : 'Resume'}
        </button>
        <button type="button" class="secondary small" disabled={remove.busy} onClick={() => remove.run()}>
          Delete
        </button>
      </div>
      <ErrorText error={error} />
      {open && <Deliveries orgId={orgId} endpointId={e.id} />}
    </li>
  );
}

function Deliveries({ orgId, endpointId }: { orgId: string; endpointId: string }) {
  const { api, announce } = useSession();
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const path = { org_id: orgId, webhook_id: endpointId };
  usePoll(
    async () => {
      const answer = await ok(
        api.GET('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries', {
          params: { path, query: { limit: 25 } },
        }),
      );
      setDeliveries(answer.deliveries);
      return false;
    },
    3000,
    true,
  );
  const redeliver = useAction(async (d: Delivery) => {
    await ok(
      api.POST('/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries/{delivery_id}/redeliver', {
        params: { path: { ...path, delivery_id: d.id }, header: idempotency() },
      }),
    );
    announce(`Delivery of ${d.event_type} queued again.`);
  });
  if (!deliveries) return <p>Loading deliveries…</p>;
  if (deliveries.length === 0) return <p class="empty">No deliveries yet.</p>;
  return (
    <TableWrap label="Deliveries">
      <ErrorText error={redeliver.error} />
      <table data-testid="deliveries-table">
        <TableHead
          caption="Deliveries to this endpoint, newest first"
          columns={['Event', 'State', 'Attempts (status, latency, error)', 'Created']}
          actions
        />
        <tbody>
          {deliveries.map((d) => (
            <tr key={d.id} data-event-type={d.event_type} data-state={d.state}>
              <th scope="row">{d.event_type}</th>
              <td>
                <Badge tone={stateTone(d.state)}>{d.state}</Badge>
              </td>
              <td>
                <ol class="attempts">
                  {d.attempt_details.map((a) => (
                    <li>
                      {a.status_code ?? 'no answer'} · {a.latency_ms} ms{a.error ? ` · ${a.error}` : ''}
                    </li>
                  ))}
                </ol>
              </td>
              <td>
                <Time at={d.created_at} />
              </td>
              <td>
                <button type="button" class="secondary small" disabled={redeliver.busy} onClick={() => redeliver.run(d)}>
                  Redeliver
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
