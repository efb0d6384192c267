import { useEffect, useState } from 'preact/hooks';
import { ApiError, connect, ok, type Me, type Project } from './api';
import { BackupsPanel } from './backups';
import { JobsPanel, RestoresPanel } from './history';
import { PitrPanel } from './pitr';
import { PreviewsPanel } from './previews';
import { RestoreDialog, type SourceChoice } from './restore';
import { RestorePointsPanel } from './restore-points';
import { SchedulePanel } from './schedule';
import { adoptFragmentToken, forgetCredential, storeCredential, storedCredential } from './session';
import { asApiError, Badge, ErrorText, SessionContext, stateTone, useLoad, useSession, type Session } from './ui';
import { WebhooksPage } from './webhooks';

type Route = { page: 'home' } | { page: 'project'; id: string } | { page: 'settings' };

function parseRoute(path: string): Route {
  const project = /^\/projects\/([^/]+)\/?/.exec(path);
  if (project?.[1]) return { page: 'project', id: decodeURIComponent(project[1]) };
  if (path.startsWith('/settings')) return { page: 'settings' };
  return { page: 'home' };
}

function useRoute(): [Route, (path: string) => void] {
  const [route, setRoute] = useState(parseRoute(window.location.pathname));
  useEffect(() => {
    const back = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener('popstate', back);
    return () => window.removeEventListener('popstate', back);
  }, []);
  const go = (path: string) => {
    history.pushState(null, '', path);
    setRoute(parseRoute(path));
    window.scrollTo(0, 0);
  };
  return [route, go];
}

export function App() {
  adoptFragmentToken();
  const [token, setToken] = useState(storedCredential());
  const [me, setMe] = useState<Me | null>(null);
  const [signInError, setSignInError] = useState<ApiError | null>(null);
  const [status, setStatus] = useState('');
  const [version, setVersion] = useState(0);

  const signIn = async (candidate: string) => {
    setSignInError(null);
    try {
      const who = await ok(connect(candidate).GET('/v1/me'));
      storeCredential(candidate);
      setToken(candidate);
      setMe(who);
    } catch (e) {
      forgetCredential();
      setToken(null);
      setMe(null);
      const err = asApiError(e);
      setSignInError(err.status === 401 ? new ApiError(`Sign-in refused: ${err.message}`, 401) : err);
    }
  };
  useEffect(() => {
    if (token && !me) void signIn(token);
  }, []);
  const signOut = () => {
    forgetCredential();
    setToken(null);
    setMe(null);
    setStatus('Signed out.');
  };

  if (!token || !me) {
    return <SignIn pending={!!token && !signInError} error={signInError} onSubmit={signIn} status={status} />;
  }
  const session: Session = {
    api: connect(token),
    me,
    announce: setStatus,
    version,
    changed: () => setVersion((v) => v + 1),
  };
  return (
    <SessionContext.Provider value={session}>
      <Shell status={status} onSignOut={signOut} />
    </SessionContext.Provider>
  );
}

function SignIn(props: { pending: boolean; error: ApiError | null; status: string; onSubmit: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="sign-in">
      <h1>CapyDB Backups</h1>
      {props.pending ? (
        <p>Signing in…</p>
      ) : (
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (value.trim()) props.onSubmit(value.trim());
          }}
        >
          <label for="credential">Session token or API key</label>
          <input
            id="credential"
            type="password"
            autoComplete="off"
            value={value}
            aria-describedby="credential-hint"
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          <small id="credential-hint" class="hint">
            Paste a session token from your identity provider or an API key (<code>capy_live_…</code>). It is kept in this tab
            only and forgotten when you sign out or close it.
          </small>
          <button type="submit">Sign in</button>
        </form>
      )}
      <ErrorText error={props.error} />
      <p role="status" class="status">
        {props.status}
      </p>
    </main>
  );
}

function who(me: Me): string {
  if (me.credential_type === 'session') return `${me.user_id ?? 'user'} (${me.role ?? 'member'})`;
  return `API key ${me.api_key_id ?? ''}${me.project_id ? ' (one project)' : ''}`;
}

function Shell({ status, onSignOut }: { status: string; onSignOut: () => void }) {
  const { api, me } = useSession();
  const [route, go] = useRoute();
  const projects = useLoad(() => ok(api.GET('/v1/projects', { params: { query: { limit: 100 } } })), []);
  const list = projects.data?.projects ?? [];
  useEffect(() => {
    if (route.page === 'home' && list[0]) go(`/projects/${list[0].id}`);
  }, [route.page, list[0]?.id]);
  const link = (path: string) => (e: MouseEvent) => {
    e.preventDefault();
    go(path);
  };
  const current = route.page === 'project' ? route.id : undefined;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/" onClick={link('/')}>
          CapyDB Backups
        </a>
        <nav aria-label="Main">
          {list.length > 1 && (
            <label class="compact">
              <span class="sr-only">Project</span>
              <select value={current} onChange={(e) => go(`/projects/${e.currentTarget.value}`)}>
                {list.map((p) => (
                  <option value={p.id}>{p.name}</option>
                ))}
              </select>
            </label>
          )}
          {list.length === 1 && list[0] && (
            <a
              href={`/projects/${list[0].id}`}
              aria-current={route.page === 'project' ? 'page' : undefined}
              onClick={link(`/projects/${list[0].id}`)}
            >
              {list[0].name}
            </a>
          )}
          <a href="/settings" aria-current={route.page === 'settings' ? 'page' : undefined} onClick={link('/settings')}>
            Organization settings
          </a>
        </nav>
        <div class="identity">
          <span data-testid="identity">{who(me)}</span>
          <button type="button" class="secondary small" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <p role="status" class="status" data-testid="status">
        {status}
      </p>
      <main id="main" tabIndex={-1}>
        {route.page === 'settings' && <WebhooksPage />}
        {route.page === 'project' && <ProjectPage key={route.id} projectId={route.id} />}
        {route.page === 'home' &&
          (projects.data && list.length === 0 ? <p>No projects in this organization yet.</p> : <p>Loading projects…</p>)}
        <ErrorText error={projects.error} />
      </main>
    </>
  );
}

function ProjectPage({ projectId }: { projectId: string }) {
  const { api } = useSession();
  const detail = useLoad(
    () => ok(api.GET('/v1/projects/{project_id}', { params: { path: { project_id: projectId } } })),
    [projectId],
  );
  const [restoring, setRestoring] = useState<SourceChoice | null>(null);
  // The point-in-time window moves as WAL is archived.
  useEffect(() => {
    const t = window.setInterval(detail.reload, 15000);
    return () => window.clearInterval(t);
  }, []);
  if (!detail.data) return detail.error ? <ErrorText error={detail.error} /> : <p>Loading project…</p>;
  const { project, region } = detail.data;
  return (
    <>
      <div class="page-head">
        <div>
          <h1>
            {project.name} <span class="muted">· Backups</span>
          </h1>
          <p class="muted">
            {project.id} · region {region.display_name} ({region.id}) · database {project.database_name} ·{' '}
            <Badge tone={stateTone(project.state)}>{project.state}</Badge>
          </p>
        </div>
        <button type="button" onClick={() => setRestoring({ kind: 'none' })}>
          Restore…
        </button>
      </div>
      <nav class="section-nav" aria-label="Sections">
        <a href="#backups">Backups</a>
        <a href="#schedule">Schedule</a>
        <a href="#pitr">Point in time</a>
        <a href="#restore-points">Restore points</a>
        <a href="#previews">Previews</a>
        <a href="#restores">Restores</a>
        <a href="#jobs">Jobs</a>
      </nav>
      <BackupsPanel project={project} onRestore={setRestoring} />
      <div class="two-columns">
        <SchedulePanel project={project} />
        <PitrPanel region={region} onRestore={setRestoring} />
      </div>
      <RestorePointsPanel project={project} region={region} onRestore={setRestoring} />
      <PreviewsPanel project={project} />
      <RestoresPanel project={project} />
      <JobsPanel project={project} />
      {restoring && <RestoreDialog project={project} region={region} initial={restoring} onClose={() => setRestoring(null)} />}
    </>
  );
}

export type { Project };
