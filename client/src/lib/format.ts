// Display formatting: every function takes a value from the API and returns text; null means "not known".
import type { ChurnLevel, HealthCategory, Severity } from "../generated/graphql";

export const DASH = "—";

const usd0 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const usd2 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usdCompact = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const one = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** Whole US dollars ("$457,880"); cents below $100. */
export function formatUsd(v: number | null | undefined): string {
  if (v == null || Number.isNaN(v)) return DASH;
  return Math.abs(v) < 100 && v !== 0 ? usd2.format(v) : usd0.format(v);
}

/** Compact dollars for axes and summary tiles ("$3.6M"). */
export function formatUsdCompact(v: number | null | undefined): string {
  if (v == null || Number.isNaN(v)) return DASH;
  return usdCompact.format(v);
}

/** A fraction as a percentage ("0.366" -> "36.6%"); `signed` adds "+" to gains. */
export function formatPercent(v: number | null | undefined, { signed = false, digits = 1 } = {}): string {
  if (v == null || Number.isNaN(v)) return DASH;
  const text = `${(v * 100).toFixed(digits)}%`;
  return signed && v > 0 ? `+${text}` : text.replace("-", "−");
}

/** A 0-100 score with one decimal. */
export function formatScore(v: number | null | undefined): string {
  if (v == null || Number.isNaN(v)) return DASH;
  return one.format(v);
}

export function formatInt(v: number | null | undefined): string {
  if (v == null || Number.isNaN(v)) return DASH;
  return int.format(v);
}

const dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const monthFmt = new Intl.DateTimeFormat("en-GB", { month: "short", year: "2-digit", timeZone: "UTC" });

function parseDate(iso: string): Date | null {
  const d = new Date(`${iso.slice(0, 10)}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "2026-10-31" -> "31 Oct 2026". */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const d = parseDate(iso);
  return d ? dateFmt.format(d) : iso;
}

/** "2026-10-31" -> "Oct 26" (chart axes). */
export function formatMonth(iso: string): string {
  const d = parseDate(iso);
  return d ? monthFmt.format(d) : iso;
}

export type Tone = "good" | "warn" | "bad" | "neutral";

export const HEALTH_CATEGORY: Record<HealthCategory, { label: string; tone: Tone }> = {
  HEALTHY: { label: "Healthy", tone: "good" },
  AT_RISK: { label: "At risk", tone: "warn" },
  CRITICAL: { label: "Critical", tone: "bad" },
};

export const CHURN_LEVEL: Record<ChurnLevel, { label: string; tone: Tone }> = {
  LOW: { label: "Low churn risk", tone: "good" },
  MEDIUM: { label: "Medium churn risk", tone: "warn" },
  HIGH: { label: "High churn risk", tone: "bad" },
};

/** Dashboard counts are labelled as the pipeline writes them ("At-Risk", "HIGH", "none"). */
export function healthLabelTone(label: string): { label: string; tone: Tone } {
  const key = label.toUpperCase().replace(/[^A-Z]+/g, "_") as HealthCategory;
  return HEALTH_CATEGORY[key] ?? { label: label === "none" ? "No score" : label, tone: "neutral" };
}

export function churnLabelTone(label: string): { label: string; tone: Tone } {
  const key = label.toUpperCase() as ChurnLevel;
  const known = CHURN_LEVEL[key];
  return known ? { label: known.label.replace(" churn risk", ""), tone: known.tone } : { label: label === "none" ? "No score" : label, tone: "neutral" };
}

/** "usage_decline" -> "Usage decline". */
export function humanize(name: string): string {
  const s = name.replace(/_/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * One fact as a sentence fragment: the value in front of its label, numbers as
 * the server wrote them, fractions as percentages, USD amounts as dollars,
 * dates as dates, booleans as yes/no.
 */
export function formatFact(label: string, value: string | null): { value: string; label: string } {
  if (value == null || value === "") return { value: DASH, label: label.replace(/\s*\((fraction|USD)[^)]*\)/, "") };
  const fraction = /\(fraction[^)]*\)/.exec(label);
  if (fraction) {
    const n = Number(value);
    const note = fraction[0].replace(/^\(fraction,?\s*/, "(").replace(/^\(\)$/, "");
    const clean = label.replace(fraction[0], note === "(" + ")" ? "" : note).replace(/\s+/g, " ").trim();
    return { value: Number.isFinite(n) ? formatPercent(n) : value, label: clean };
  }
  if (/\(USD\)/.test(label)) {
    const n = Number(value.replace(/,/g, ""));
    return { value: Number.isFinite(n) ? formatUsd(n) : value, label: label.replace(/\s*\(USD\)/, "") };
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) return { value: formatDate(value), label };
  if (/^(true|false)$/i.test(value)) return { value: /^true$/i.test(value) ? "Yes" : "No", label };
  return { value, label };
}

/** Relative change between two values as a fraction; null when not computable. */
export function change(from: number | null | undefined, to: number | null | undefined): number | null {
  if (from == null || to == null || from === 0) return null;
  return (to - from) / Math.abs(from);
}

/** Alert severity and recommendation priority. */
export const SEVERITY: Record<Severity, { label: string; tone: Tone; rank: number }> = {
  HIGH: { label: "High", tone: "bad", rank: 3 },
  MEDIUM: { label: "Medium", tone: "warn", rank: 2 },
  LOW: { label: "Low", tone: "neutral", rank: 1 },
};

const dateTimeFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });

/** An ISO date-time in the browser's time zone ("27 Nov 2026, 06:12"). */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTimeFmt.format(d);
}

/** Today as YYYY-MM-DD in the browser's time zone, shifted by `days`. */
export function isoDay(days = 0, from = new Date()): string {
  const d = new Date(from.getFullYear(), from.getMonth(), from.getDate() + days);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
