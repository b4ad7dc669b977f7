// Answers shaped exactly like the API's (see schema.graphql), for the component tests.
import type { CustomerProfileQuery, DashboardSummaryQuery } from "../src/generated/graphql";

export const profile: NonNullable<CustomerProfileQuery["customer"]> = {
  id: "001A",
  name: "Yoverix Transport Global AB",
  region: "EMEA",
  country: "SE",
  industry: "Logistics",
  owner: "Femke Peters",
  ownerId: "005A",
  parentId: null,
  asOf: { date: "2026-10-31", runId: "run-1" },
  mrrUsd: 38156.7,
  arrUsd: 457880.4,
  annualRevenueUsd: 400000,
  yoyGrowth: -0.125,
  winRate: 0.5,
  clvUsd: 392468.9,
  activeServices: 2,
  healthScore: 20,
  healthCategory: "CRITICAL",
  churnRisk: 70,
  churnLevel: "HIGH",
  healthBreakdown: {
    score: 20,
    components: [
      {
        name: "payment",
        score: 55.6,
        weight: 0.3,
        effectiveWeight: 0.3,
        facts: [
          { name: "invoices_12m", label: "invoices issued in the last 12 months", value: "9" },
          { name: "invoices_overdue_15d", label: "invoices more than 15 days overdue", value: "3" },
          { name: "unpaid_amount_usd", label: "unpaid amount (USD)", value: "1250.5" },
        ],
      },
      {
        name: "usage",
        score: 13.4,
        weight: 0.25,
        effectiveWeight: 0.25,
        facts: [{ name: "usage_growth", label: "usage growth (fraction, averaged over services)", value: "-0.366" }],
      },
      {
        name: "engagement",
        score: null,
        weight: 0.2,
        effectiveWeight: null,
        facts: [{ name: "last_qbr_date", label: "last QBR", value: null }],
      },
    ],
  },
  churnBreakdown: {
    score: 70,
    components: [
      {
        name: "usage_decline",
        score: 100,
        weight: 0.3,
        effectiveWeight: 0.3,
        facts: [{ name: "usage_drop", label: "usage drop, last 3 months vs the 3 before (fraction)", value: "0.366" }],
      },
      {
        name: "engagement",
        score: 100,
        weight: 0.15,
        effectiveWeight: 0.15,
        facts: [{ name: "last_contact_activity_date", label: "last contact activity", value: "2026-03-08" }],
      },
    ],
  },
  metricHistory: [
    { asOf: "2026-04-30", runId: "run-0", mrrUsd: 30000, arrUsd: 360000, healthScore: 66.6, healthCategory: "AT_RISK", churnRisk: 36.8, churnLevel: "LOW", clvUsd: 500000, activeServices: 2 },
    { asOf: "2026-10-31", runId: "run-1", mrrUsd: 38156.7, arrUsd: 457880.4, healthScore: 20, healthCategory: "CRITICAL", churnRisk: 70, churnLevel: "HIGH", clvUsd: 392468.9, activeServices: 2 },
  ],
};

export const summary: DashboardSummaryQuery["dashboardSummary"] = {
  asOf: { date: "2026-10-31", runId: "run-1" },
  customers: 298,
  totalMrrUsd: 3612676.13,
  totalArrUsd: 43352113.55,
  averageHealth: 68.2,
  byHealthCategory: [
    { label: "Healthy", count: 138 },
    { label: "At-Risk", count: 101 },
    { label: "Critical", count: 59 },
    { label: "none", count: 0 },
  ],
  byChurnLevel: [
    { label: "HIGH", count: 40 },
    { label: "MEDIUM", count: 32 },
    { label: "LOW", count: 226 },
    { label: "none", count: 0 },
  ],
  arrAtRiskUsd: 3349610.29,
  alertsAvailable: true,
  openAlertsBySeverity: [
    { label: "HIGH", count: 147 },
    { label: "MEDIUM", count: 55 },
    { label: "LOW", count: 90 },
  ],
  recommendationsAvailable: true,
  openRecommendationsByPriority: [
    { label: "HIGH", count: 126 },
    { label: "MEDIUM", count: 131 },
    { label: "LOW", count: 34 },
  ],
  topAtRisk: [
    { id: "001A", name: "Yoverix Transport Global AB", region: "EMEA", country: "SE", industry: "Logistics", owner: "Femke Peters", arrUsd: 457880.4, mrrUsd: 38156.7, healthScore: 20, healthCategory: "CRITICAL", churnRisk: 70, churnLevel: "HIGH" },
    { id: "001B", name: "Natania Assurance Corp.", region: "AMER", country: "US", industry: "Insurance", owner: "Andrew Davis", arrUsd: 391391.24, mrrUsd: 32615.94, healthScore: 8.9, healthCategory: "CRITICAL", churnRisk: 70, churnLevel: "HIGH" },
  ],
};
