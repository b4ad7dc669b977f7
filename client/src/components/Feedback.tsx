import { useCallback, useState } from "react";
import { CheckCircle2, KeyRound, ShieldAlert, XCircle } from "lucide-react";
import type { ApolloError } from "@apollo/client";
import { describeError } from "../lib/errors";
import { openApiKeyDialog } from "./ApiKeyDialog";

/** The outcome of one action on one item: done, refused by the server (a union error member), or failed. */
export type Outcome = { kind: "ok"; message: string } | { kind: "refused"; typename: string; message: string } | { kind: "failed"; error: ApolloError | Error };

export function useOutcomes() {
  const [outcomes, setOutcomes] = useState<Record<string, Outcome | undefined>>({});
  const set = useCallback((id: string, o: Outcome | undefined) => setOutcomes((cur) => ({ ...cur, [id]: o })), []);
  return [outcomes, set] as const;
}

/** Refused for the role, or the key is not accepted: say so plainly and offer another key. */
export function OutcomeMessage({ outcome, onDismiss }: { outcome: Outcome | undefined; onDismiss: () => void }) {
  if (!outcome) return null;
  if (outcome.kind === "ok") {
    return (
      <p className="outcome ok" role="status">
        <CheckCircle2 size={15} aria-hidden="true" /> {outcome.message}
      </p>
    );
  }
  const problem =
    outcome.kind === "refused"
      ? outcome.typename === "NotAllowed" && /role|api key/i.test(outcome.message)
        ? { kind: "forbidden", title: "Your API key does not allow this", detail: `${outcome.message}. Ask an administrator for a key with that role, or enter another key.` }
        : { kind: "refused", title: outcome.typename === "NotAllowed" ? "Not allowed now" : "The server refused", detail: outcome.message }
      : describeError(outcome.error);
  if (!problem) return null;
  const keyProblem = problem.kind === "forbidden" || problem.kind === "unauthenticated";
  return (
    <div className="outcome error" role="alert">
      {keyProblem ? <ShieldAlert size={16} aria-hidden="true" /> : <XCircle size={16} aria-hidden="true" />}
      <div>
        <strong>{problem.title}</strong> — {problem.detail} {outcome.kind === "failed" ? "Nothing was changed." : ""}
        <div className="state-actions">
          {keyProblem ? (
            <button type="button" className="btn btn-small" onClick={() => openApiKeyDialog()}>
              <KeyRound size={14} aria-hidden="true" /> Enter API key
            </button>
          ) : null}
          <button type="button" className="btn btn-small btn-ghost" onClick={onDismiss}>
            Dismiss message
          </button>
        </div>
      </div>
    </div>
  );
}
