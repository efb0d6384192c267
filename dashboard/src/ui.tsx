import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Client, type Me } from './api';

export interface Session {
  api: Client;
  me: Me;
  /** Says something in the page's status line (read out by screen readers). */
  announce: (message: string) => void;
  /** Bumped after every change, so every list reloads. */
  version: number;
  changed: () => void;
}
export const SessionContext = createContext<Session | null>(null);
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError('Something went wrong in the page. Reload and try again.', 0);
}

/** Loads once per dependency change (and per `version`), keeping the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const { version } = useSession();
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (e) => live && setState((s) => ({ data: s.data, error: asApiError(e), loading: false })),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, version, tick]);
  return { ...state, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** Calls `poll` every `ms` while `active`; stops when it returns true. */
export function usePoll(poll: () => Promise<boolean>, ms: number, active: boolean) {
  const saved = useRef(poll);
  saved.current = poll;
  useEffect(() => {
    if (!active) return;
    let stopped = false;
    let timer: number | undefined;
    const run = async () => {
      let done = false;
      try {
        done = await saved.current();
      } catch {
        // a failed poll is tried again on the next tick
      }
      if (!stopped && !done) timer = window.setTimeout(run, ms);
    };
    void run();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [active, ms]);
}

/** Re-renders every `ms` (countdowns, elapsed time). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

/** A button's action: disabled and labelled busy at once, errors kept for display. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      await action(...args);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

export function ErrorText({ error, id }: { error?: ApiError | null; id?: string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" id={id}>
      {error.message}
    </p>
  );
}

/** The API's error for one field, shown beside it; other errors go to the form's own line. */
export function fieldError(error: ApiError | null | undefined, field: string): string | null {
  return error && error.field === field ? error.message : null;
}
export function formError(error: ApiError | null | undefined, fields: string[]): ApiError | null {
  return error && !(error.field && fields.includes(error.field)) ? error : null;
}

export function Field(props: {
  label: string;
  id: string;
  error?: string | null;
  hint?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {props.error && (
        <small id={`${props.id}-error`} class="field-error" role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}
export function describedBy(id: string, error?: string | null, hint?: boolean): Record<string, string | boolean> {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return { id, 'aria-invalid': !!error, ...(ids ? { 'aria-describedby': ids } : {}) };
}

export function Section(props: { id: string; title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="panel" id={props.id} aria-labelledby={`${props.id}-title`}>
      <header class="panel-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.actions && <div class="panel-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

export function Badge({
  tone,
  children,
  title,
}: {
  tone: 'ok' | 'bad' | 'wait' | 'info';
  children: ComponentChildren;
  title?: string;
}) {
  return (
    <span class={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

export function stateTone(state: string): 'ok' | 'bad' | 'wait' | 'info' {
  if (['completed', 'verified', 'ready', 'delivered', 'healthy', 'active'].includes(state)) return 'ok';
  if (['failed', 'cancelled', 'unhealthy', 'missed'].includes(state)) return 'bad';
  if (['pending', 'running', 'creating', 'restoring', 'failing'].includes(state)) return 'wait';
  return 'info';
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('yes');
    } catch {
      setCopied('no');
    }
    window.setTimeout(() => setCopied(null), 2000);
  };
  return (
    <button type="button" class="secondary small" onClick={copy} aria-label={label}>
      {copied === 'yes' ? 'Copied' : copied === 'no' ? 'Select and copy' : 'Copy'}
    </button>
  );
}

export function Copyable({ text, label }: { text: string; label: string }) {
  return (
    <div class="copyable">
      <code aria-label={label}>{text}</code>
      <CopyButton text={text} label={`Copy ${label}`} />
    </div>
  );
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function bytes(n?: number | null): string {
  if (n === undefined || n === null) return '—';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${UNITS[u]}`;
}

/** UTC, as the API and CLI show it, with the reader's local time in the tooltip. */
export function Time({ at }: { at?: string | null }) {
  if (!at) return <>—</>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={`${d.toLocaleString()} (your time)`}>
      {utc(d)}
    </time>
  );
}
export function utc(d: Date): string {
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function span(from?: string | null, to?: string | null, now = Date.now()): string {
  if (!from) return '—';
  return duration((to ? Date.parse(to) : now) - Date.parse(from));
}

/** Paging by the API's cursors: the stack of cursors seen is the way back. */
export function usePager() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  return {
    cursor,
    page: cursors.length,
    next: (c: string) => setCursors((cs) => [...cs, c]),
    prev: () => setCursors((cs) => (cs.length > 1 ? cs.slice(0, -1) : cs)),
    reset: () => setCursors([undefined]),
  };
}

export function Pager(props: { label: string; page: number; next?: string | null; onNext: () => void; onPrev: () => void }) {
  if (props.page === 1 && !props.next) return null;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" class="secondary small" disabled={props.page === 1} onClick={props.onPrev}>
        Previous page
      </button>
      <span>Page {props.page}</span>
      <button type="button" class="secondary small" disabled={!props.next} onClick={props.onNext}>
        Next page
      </button>
    </nav>
  );
}

/** A table that may scroll sideways on a narrow screen: focusable, so the keyboard can scroll it. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

/** A form that lets the API judge its fields (no browser validation) and runs one action. */
export function ActionForm(props: { class: string; onSubmit: () => void; children: ComponentChildren }) {
  return (
    <form
      class={props.class}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
    >
      {props.children}
    </form>
  );
}

/** The submit button, labelled busy and disabled from the click until the answer. */
export function Submit(props: { busy: boolean; label: string; busyLabel: string; class?: string; disabled?: boolean }) {
  return (
    <button type="submit" class={props.class} disabled={props.busy || props.disabled}>
      {props.busy ? props.busyLabel : props.label}
    </button>
  );
}

/** A table's caption and header row; a trailing unnamed column holds the row's actions. */
export function TableHead({ caption, columns, actions }: { caption: string; columns: string[]; actions?: boolean }) {
  return (
    <>
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col">{c}</th>
          ))}
          {actions && (
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          )}
        </tr>
      </thead>
    </>
  );
}
