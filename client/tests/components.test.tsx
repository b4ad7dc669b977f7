import { describe, expect, it } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { ApolloError } from "@apollo/client";
import { GraphQLError } from "graphql";
import { MetricCard } from "../src/components/MetricCard";
import { ScoreBreakdown } from "../src/components/ScoreBreakdown";
import { ErrorState } from "../src/components/States";
import { describeError } from "../src/lib/errors";
import { profile } from "./fixtures";

describe("MetricCard", () => {
  it("shows the value, the tone in words and as of when", () => {
    render(<MetricCard id="health" label="Health" value="20.0" tone="bad" status="Critical" asOf="2026-10-31" hint="0–100" />);
    const card = screen.getByRole("region", { name: "Health" });
    expect(within(card).getByTestId("metric-health-value")).toHaveTextContent("20.0");
    expect(within(card).getByText("Critical")).toHaveAttribute("data-tone", "bad");
    expect(card).toHaveTextContent("as of 31 Oct 2026");
    expect(card.querySelector("time")).toHaveAttribute("dateTime", "2026-10-31");
  });
});

describe("ScoreBreakdown", () => {
  it("lists every component with its score, weight and facts", () => {
    render(<ScoreBreakdown id="hb" title="Why this health score" breakdown={profile.healthBreakdown} polarity="health" level={{ label: "Critical", tone: "bad" }} />);
    const section = screen.getByRole("region", { name: "Why this health score" });
    expect(within(section).getByText("20.0")).toBeInTheDocument();
    const payment = screen.getByTestId("hb-payment");
    expect(payment).toHaveTextContent("55.6 / 100");
    expect(payment).toHaveTextContent("weight 30%");
    expect(payment).toHaveTextContent("3 invoices more than 15 days overdue");
    expect(payment).toHaveTextContent("$1,251 unpaid amount");
    expect(within(payment).getByRole("meter")).toHaveAttribute("aria-valuenow", "55.6");
    expect(within(payment).getByText("at risk")).toBeInTheDocument();
    expect(screen.getByTestId("hb-usage")).toHaveTextContent("−36.6% usage growth (averaged over services)");
  });

  it("explains a component without data", () => {
    render(<ScoreBreakdown id="hb" title="Why" breakdown={profile.healthBreakdown} polarity="health" level={null} />);
    const engagement = screen.getByTestId("hb-engagement");
    expect(engagement).toHaveTextContent("no data");
    expect(engagement).toHaveTextContent("not counted: no data, the other weights are rescaled");
    expect(engagement).toHaveTextContent("— last QBR");
  });

  it("reads churn components the other way round (high is bad)", () => {
    render(<ScoreBreakdown id="cb" title="Why this churn risk" breakdown={profile.churnBreakdown} polarity="churn" level={{ label: "High churn risk", tone: "bad" }} />);
    expect(within(screen.getByTestId("cb-usage_decline")).getByText("high risk")).toHaveAttribute("data-tone", "bad");
    expect(screen.getByTestId("cb-usage_decline")).toHaveTextContent("36.6% usage drop, last 3 months vs the 3 before");
    expect(screen.getByTestId("cb-engagement")).toHaveTextContent("8 Mar 2026 last contact activity");
  });

  it("has an empty state", () => {
    render(<ScoreBreakdown id="x" title="Empty" breakdown={{ score: null, components: [] }} polarity="health" level={null} />);
    expect(screen.getByText("No components")).toBeInTheDocument();
  });
});

describe("errors", () => {
  it("classifies what went wrong", () => {
    const net = new ApolloError({ networkError: Object.assign(new Error("Failed to fetch"), { statusCode: undefined }) });
    expect(describeError(net)?.kind).toBe("network");
    const forbidden = new ApolloError({ graphQLErrors: [new GraphQLError("role viewer may not executeAction", { extensions: { code: "FORBIDDEN" } })] });
    expect(describeError(forbidden)).toMatchObject({ kind: "forbidden", title: "Your API key does not allow this" });
    const unauth = new ApolloError({ networkError: Object.assign(new Error("401"), { statusCode: 401 }) });
    expect(describeError(unauth)?.kind).toBe("unauthenticated");
    const missing = new ApolloError({ graphQLErrors: [new GraphQLError("no published snapshot yet: run `c360 pipeline run` first")] });
    expect(describeError(missing)?.title).toBe("No data published yet");
  });

  it("offers to enter a key when the role is missing", () => {
    const forbidden = new ApolloError({ graphQLErrors: [new GraphQLError("forbidden: this needs the analyst role", { extensions: { code: "FORBIDDEN" } })] });
    render(<ErrorState error={forbidden} />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("Your API key does not allow this");
    expect(alert).toHaveTextContent("this needs the analyst role");
    expect(within(alert).getByRole("button", { name: "Enter API key" })).toBeInTheDocument();
  });
});
