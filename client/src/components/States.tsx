import type { ReactNode } from "react";
import { AlertTriangle, Inbox, KeyRound, Loader2, RotateCw, ShieldAlert, WifiOff } from "lucide-react";
import type { ApolloError } from "@apollo/client";
import { describeError } from "../lib/errors";
import { openApiKeyDialog } from "./ApiKeyDialog";

export function Loading({ label = "Loading…", rows = 3 }: { label?: string; rows?: number }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite" aria-busy="true">
      <span className="state-line">
        <Loader2 className="spin" size={18} aria-hidden="true" /> {label}
      </span>
      <div className="skeleton-group" aria-hidden="true">
        {Array.from({ length: rows }, (_, i) => (
          <div className="skeleton" key={i} style={{ width: `${90 - i * 15}%` }} />
        ))}
      </div>
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty" role="status">
      <Inbox size={22} aria-hidden="true" />
      <div>
        <strong>{title}</strong>
        {children ? <div className="muted">{children}</div> : null}
      </div>
    </div>
  );
}

export function ErrorState({ error, onRetry, compact = false }: { error: ApolloError | Error; onRetry?: () => void; compact?: boolean }) {
  const problem = describeError(error);
  if (!problem) return null;
  const Icon = problem.kind === "network" ? WifiOff : problem.kind === "forbidden" || problem.kind === "unauthenticated" ? ShieldAlert : AlertTriangle;
  return (
    <div className={`state state-error${compact ? " compact" : ""}`} role="alert">
      <Icon size={20} aria-hidden="true" />
      <div className="state-body">
        <strong>{problem.title}</strong>
        <div>{problem.detail}</div>
        <div className="state-actions">
          {onRetry ? (
            <button type="button" className="btn btn-small" onClick={() => onRetry()}>
              <RotateCw size={14} aria-hidden="true" /> Retry
            </button>
          ) : null}
          {problem.kind === "unauthenticated" || problem.kind === "forbidden" ? (
            <button type="button" className="btn btn-small" onClick={() => openApiKeyDialog()}>
              <KeyRound size={14} aria-hidden="true" /> Enter API key
            </button>
          ) : null}
        </div>
      </div>
    </div>
  );
}
