import { useEffect, useRef, useState, type FormEvent } from "react";
import { KeyRound, X } from "lucide-react";
import { useApolloClient } from "@apollo/client";
import { getApiKey, setApiKey, subscribeApiKey } from "../lib/apiKey";

const OPEN_EVENT = "c360:open-api-key";

/** Ask the dialog (wherever it is mounted) to open. */
export function openApiKeyDialog(): void {
  window.dispatchEvent(new Event(OPEN_EVENT));
}

export function useApiKey(): string | null {
  const [key, setKey] = useState(getApiKey);
  useEffect(() => subscribeApiKey(setKey), []);
  return key;
}

/** The header button and its modal dialog: the key is kept for this browser session only. */
export function ApiKeyControl() {
  const key = useApiKey();
  const client = useApolloClient();
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [draft, setDraft] = useState("");

  useEffect(() => {
    const open = () => {
      setDraft("");
      const d = dialog.current;
      if (d && !d.open) {
        if (typeof d.showModal === "function") d.showModal();
        else d.setAttribute("open", "");
      }
      setTimeout(() => input.current?.focus(), 0);
    };
    window.addEventListener(OPEN_EVENT, open);
    return () => window.removeEventListener(OPEN_EVENT, open);
  }, []);

  const close = () => {
    const d = dialog.current;
    if (d?.open) (typeof d.close === "function" ? d.close() : d.removeAttribute("open"));
  };

  const save = (e: FormEvent) => {
    e.preventDefault();
    setApiKey(draft);
    close();
    void client.resetStore();
  };

  const forget = () => {
    setApiKey(null);
    close();
    void client.resetStore();
  };

  return (
    <>
      <button type="button" className={`btn btn-ghost key-button${key ? " has-key" : ""}`} onClick={openApiKeyDialog}>
        <KeyRound size={16} aria-hidden="true" />
        {key ? (
          <span>
            Key …{key.slice(-4)}
            <span className="sr-only"> (API key set — change it)</span>
          </span>
        ) : (
          <span>
            <span className="sr-only">Enter </span>API key
          </span>
        )}
      </button>
      <dialog ref={dialog} className="dialog" aria-labelledby="api-key-title">
        <form onSubmit={save}>
          <header className="dialog-head">
            <h2 id="api-key-title">API key</h2>
            <button type="button" className="icon-button" onClick={close} aria-label="Close">
              <X size={18} aria-hidden="true" />
            </button>
          </header>
          <p className="muted">The key is sent with every request as <code>X-API-Key</code> and kept only for this browser session. Its role decides which actions you may take.</p>
          <label className="field">
            <span>Key</span>
            <input ref={input} type="password" autoComplete="off" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder={key ? "Enter a new key" : "Paste your key"} />
          </label>
          <div className="dialog-actions">
            {key ? (
              <button type="button" className="btn btn-ghost" onClick={forget}>
                Forget key
              </button>
            ) : null}
            <button type="button" className="btn btn-ghost" onClick={close}>
              Cancel
            </button>
            <button type="submit" className="btn btn-primary" disabled={!draft.trim()}>
              Save key
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
