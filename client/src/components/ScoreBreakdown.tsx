import type { BreakdownFragment } from "../generated/graphql";
import { formatFact, formatPercent, formatScore, humanize, type Tone } from "../lib/format";
import { ToneBadge } from "./ToneBadge";
import { Empty } from "./States";

interface Props {
  id: string;
  title: string;
  breakdown: BreakdownFragment;
  /** "health": high is good; "churn": high is bad. */
  polarity: "health" | "churn";
  level: { label: string; tone: Tone } | null;
}

/**
 * A component's tone uses the same bands as the whole score (config/silver_to_gold_metrics.json:
 * health Healthy 80+, At-Risk 50+, else Critical; churn HIGH 70+, MEDIUM 40+, else LOW).
 */
export function componentTone(score: number | null, polarity: "health" | "churn"): { tone: Tone; words: string } {
  if (score == null) return { tone: "neutral", words: "no data" };
  if (polarity === "health") {
    if (score >= 80) return { tone: "good", words: "healthy" };
    if (score >= 50) return { tone: "warn", words: "at risk" };
    return { tone: "bad", words: "critical" };
  }
  if (score >= 70) return { tone: "bad", words: "high risk" };
  if (score >= 40) return { tone: "warn", words: "medium risk" };
  return { tone: "good", words: "low risk" };
}

/** Score = sum of component score x effective weight; every component with the facts it was computed from. */
export function ScoreBreakdown({ id, title, breakdown, polarity, level }: Props) {
  const headingId = `${id}-title`;
  return (
    <section className="panel breakdown" aria-labelledby={headingId} data-testid={id}>
      <header className="panel-head">
        <h2 id={headingId}>{title}</h2>
        <div className="breakdown-total">
          <span className="breakdown-score">{formatScore(breakdown.score)}</span>
          <span className="muted">/ 100</span>
          {level ? <ToneBadge tone={level.tone} label={level.label} /> : null}
        </div>
      </header>
      {breakdown.components.length === 0 ? (
        <Empty title="No components">The server returned no components for this score.</Empty>
      ) : (
        <ul className="components">
          {breakdown.components.map((c) => {
            const t = componentTone(c.score, polarity);
            const contribution = c.score != null && c.effectiveWeight != null ? c.score * c.effectiveWeight : null;
            return (
              <li key={c.name} className="component" data-testid={`${id}-${c.name}`}>
                <div className="component-head">
                  <h3>{humanize(c.name)}</h3>
                  <span className="component-score">{c.score == null ? "no data" : `${formatScore(c.score)} / 100`}</span>
                  <ToneBadge tone={t.tone} label={t.words} />
                </div>
                <div
                  className={`meter tone-fill-${t.tone}`}
                  role="meter"
                  aria-label={`${humanize(c.name)} score`}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={c.score ?? undefined}
                  aria-valuetext={c.score == null ? "no data" : `${formatScore(c.score)} out of 100, ${t.words}`}
                >
                  <span style={{ width: `${Math.max(0, Math.min(100, c.score ?? 0))}%` }} />
                </div>
                <p className="component-weight muted">
                  weight {formatPercent(c.weight, { digits: 0 })}
                  {c.effectiveWeight == null
                    ? " — not counted: no data, the other weights are rescaled"
                    : c.effectiveWeight !== c.weight
                      ? `, rescaled to ${formatPercent(c.effectiveWeight, { digits: 0 })}`
                      : ""}
                  {contribution != null ? ` · contributes ${formatScore(contribution)} points` : ""}
                </p>
                {c.facts.length ? (
                  <ul className="facts">
                    {c.facts.map((f) => {
                      const shown = formatFact(f.label, f.value);
                      return (
                        <li key={f.name} data-fact={f.name}>
                          <strong>{shown.value}</strong> {shown.label}
                        </li>
                      );
                    })}
                  </ul>
                ) : (
                  <p className="muted">No facts recorded.</p>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
