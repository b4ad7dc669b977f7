import { describe, expect, it } from "vitest";
import { change, churnLabelTone, formatFact, formatPercent, formatScore, formatUsd, formatUsdCompact, healthLabelTone } from "../src/lib/format";
import { highlightRanges } from "../src/components/SearchBox";
import { metricCards } from "../src/lib/metrics";
import { profile } from "./fixtures";

describe("formatting", () => {
  it("formats dollars, percentages and scores, with a dash for unknown", () => {
    expect(formatUsd(457880.4)).toBe("$457,880");
    expect(formatUsd(12.5)).toBe("$12.50");
    expect(formatUsd(null)).toBe("—");
    expect(formatUsdCompact(43352113.55)).toBe("$43.4M");
    expect(formatPercent(-0.125, { signed: true })).toBe("−12.5%");
    expect(formatPercent(0.2, { signed: true })).toBe("+20.0%");
    expect(formatPercent(0.5, { digits: 0 })).toBe("50%");
    expect(formatScore(20)).toBe("20.0");
    expect(change(100, 150)).toBe(0.5);
    expect(change(0, 10)).toBeNull();
  });

  it("turns facts into readable values", () => {
    expect(formatFact("usage growth (fraction, averaged over services)", "-0.366")).toEqual({ value: "−36.6%", label: "usage growth (averaged over services)" });
    expect(formatFact("usage drop, last 3 months vs the 3 before (fraction)", "0.366")).toEqual({ value: "36.6%", label: "usage drop, last 3 months vs the 3 before" });
    expect(formatFact("unpaid amount (USD)", "1,250")).toEqual({ value: "$1,250", label: "unpaid amount" });
    expect(formatFact("last QBR", null)).toEqual({ value: "—", label: "last QBR" });
    expect(formatFact("last contact activity", "2026-03-08")).toEqual({ value: "8 Mar 2026", label: "last contact activity" });
    expect(formatFact("last renewal won on time", "True")).toEqual({ value: "Yes", label: "last renewal won on time" });
    expect(formatFact("invoices issued in the last 12 months", "9")).toEqual({ value: "9", label: "invoices issued in the last 12 months" });
  });

  it("maps the dashboard's labels to words and tones", () => {
    expect(healthLabelTone("At-Risk")).toEqual({ label: "At risk", tone: "warn" });
    expect(healthLabelTone("none")).toEqual({ label: "No score", tone: "neutral" });
    expect(churnLabelTone("HIGH")).toEqual({ label: "High", tone: "bad" });
  });
});

describe("search highlighting", () => {
  it("marks exact substrings", () => {
    expect(highlightRanges("Yoverix Transport Global AB", "trans")).toEqual([[8, 13]]);
  });
  it("marks the longest matching word prefix for a typo", () => {
    expect(highlightRanges("Yoverix Transport Global AB", "yovrix")).toEqual([[0, 3]]);
  });
  it("merges overlapping words", () => {
    expect(highlightRanges("Natania Assurance", "nat ata")).toEqual([[0, 4]]);
  });
});

describe("metric cards", () => {
  const cards = Object.fromEntries(metricCards(profile).map((c) => [c.id, c]));
  it("has all nine figures with words for their colours", () => {
    expect(Object.keys(cards)).toEqual(["health", "churn", "clv", "mrr", "arr", "annual-revenue", "yoy", "win-rate", "services"]);
    expect(cards.health).toMatchObject({ value: "20.0", tone: "bad", status: "Critical" });
    expect(cards.churn).toMatchObject({ value: "70.0", tone: "bad", status: "High churn risk" });
    expect(cards.yoy).toMatchObject({ value: "−12.5%", tone: "bad", status: "Shrinking" });
    expect(cards["win-rate"]).toMatchObject({ value: "50%" });
  });
  it("compares money with the oldest month-end", () => {
    expect(cards.mrr).toMatchObject({ value: "$38,157", tone: "good", status: "Up 27.2% since 30 Apr 2026" });
    expect(cards.clv).toMatchObject({ tone: "bad", status: "Down 21.5% since 30 Apr 2026" });
    expect(cards.services).toMatchObject({ tone: "neutral", status: "Unchanged since 30 Apr 2026" });
  });
  it("says so when there is no history or no value", () => {
    const bare = metricCards({ ...profile, metricHistory: [], yoyGrowth: null, winRate: null, healthScore: null, healthCategory: null });
    const byId = Object.fromEntries(bare.map((c) => [c.id, c]));
    expect(byId.mrr!.status).toBe("No earlier month-end");
    expect(byId.yoy).toMatchObject({ value: "—", status: "No revenue in the year before", tone: "neutral" });
    expect(byId["win-rate"]!.status).toBe("No deals closed");
    expect(byId.health).toMatchObject({ value: "—", status: "No score", tone: "neutral" });
  });
});
