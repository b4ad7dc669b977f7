import { AlertOctagon, AlertTriangle, CheckCircle2, MinusCircle } from "lucide-react";
import type { Tone } from "../lib/format";

const ICONS = { good: CheckCircle2, warn: AlertTriangle, bad: AlertOctagon, neutral: MinusCircle } as const;

/** A coloured label that also says its meaning in words and with an icon (colour is never the only signal). */
export function ToneBadge({ tone, label, title }: { tone: Tone; label: string; title?: string }) {
  const Icon = ICONS[tone];
  return (
    <span className={`badge tone-${tone}`} title={title} data-tone={tone}>
      <Icon size={13} aria-hidden="true" />
      {label}
    </span>
  );
}
