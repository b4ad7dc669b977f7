// The API key, entered once and kept for the browser session (sessionStorage), sent as X-API-Key.
const STORAGE_KEY = "c360.apiKey";
type Listener = (key: string | null) => void;
const listeners = new Set<Listener>();

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function getApiKey(): string | null {
  return storage()?.getItem(STORAGE_KEY) || null;
}

export function setApiKey(key: string | null): void {
  const s = storage();
  const clean = key?.trim() || null;
  if (s) {
    if (clean) s.setItem(STORAGE_KEY, clean);
    else s.removeItem(STORAGE_KEY);
  }
  listeners.forEach((l) => l(clean));
}

export function subscribeApiKey(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
