// The credential lives in session storage only: it is gone when the tab closes or on sign-out,
// and a sign-in link's token is moved out of the address bar (and so out of history) at once.
const KEY = 'capydb.credential';

export function adoptFragmentToken(): void {
  const match = /(?:^#|&)session=([^&]+)/.exec(window.location.hash);
  if (!match?.[1]) return;
  sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
  history.replaceState(null, '', window.location.pathname + window.location.search);
}

export const storedCredential = (): string | null => sessionStorage.getItem(KEY);
export const storeCredential = (token: string): void => sessionStorage.setItem(KEY, token.trim());
export const forgetCredential = (): void => sessionStorage.removeItem(KEY);
