import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { MockedResponse } from "@apollo/client/testing";
import {
  AcknowledgeAlertDocument,
  CustomerActionsDocument,
  DismissRecommendationDocument,
  ExecuteActionDocument,
  LinkReviewQueueDocument,
  SnoozeAlertDocument,
  type AlertFieldsFragment,
  type RecommendationFieldsFragment,
} from "../src/generated/graphql";
import { useQuery } from "@apollo/client";
import { AlertsList, sortAlerts } from "../src/components/AlertsList";
import { RecommendationsList, sortRecommendations } from "../src/components/RecommendationsList";
import { ReviewQueuePage } from "../src/pages/ReviewQueuePage";
import { renderWith } from "./render";
import { GraphQLError } from "graphql";

const explanation = { text: "CHURN_RISK HIGH: churn_risk is 70 (>= 70: met)", conditions: [{ field: "churn_risk", op: ">=", threshold: "70", actual: "70", met: true }] };
const alert = (id: string, severity: AlertFieldsFragment["severity"], impactUsd: number | null, status: AlertFieldsFragment["status"] = "OPEN"): AlertFieldsFragment => ({
  id,
  customerId: "001A",
  type: id.split(":")[0]!,
  name: `${id.split(":")[0]} alert`,
  category: "Retention",
  severity,
  status,
  firstSeen: "2026-10-31",
  lastSeen: "2026-10-31",
  resolvedOn: status === "RESOLVED" ? "2026-10-31" : null,
  snoozedUntil: null,
  message: `Message of ${id}`,
  impactUsd,
  statusChangedAt: null,
  statusChangedBy: null,
  statusReason: null,
  explanation,
});
const rec = (id: string, priority: RecommendationFieldsFragment["priority"], impactUsd: number | null, status: RecommendationFieldsFragment["status"] = "OPEN"): RecommendationFieldsFragment => ({
  id,
  customerId: "001A",
  ruleId: id.split(":")[0]!,
  title: `Title ${id.split(":")[0]}`,
  category: "Retention",
  priority,
  status,
  action: `Do ${id.split(":")[0]}`,
  expectedOutcome: "Churn risk below 70 within 90 days",
  message: "Churn risk 70/100 on 457,880 USD ARR",
  impactUsd,
  firstSeen: "2026-10-31",
  lastSeen: "2026-10-31",
  executedOn: null,
  statusChangedAt: null,
  statusChangedBy: null,
  statusReason: null,
  explanation,
  executedAction: null,
});

/** The lists as the profile shows them: fed by the CustomerActions query, so mutations update them through the cache. */
function Harness() {
  const { data } = useQuery(CustomerActionsDocument, { variables: { id: "001A" } });
  if (!data?.customer) return <p>loading</p>;
  return (
    <>
      <RecommendationsList recommendations={data.customer.recommendations} />
      <AlertsList alerts={data.customer.alerts} />
    </>
  );
}

const A1 = alert("CHURN_RISK:001A", "HIGH", 320516);
const A2 = alert("PAYMENT_OVERDUE:001A", "MEDIUM", 48953);
const R1 = rec("R001:001A:20261031", "HIGH", 457880);
const R2 = rec("R006:001A:20261031", "MEDIUM", 457880);
const actionsMock = (alerts = [A1, A2], recs = [R1, R2]): MockedResponse => ({
  request: { query: CustomerActionsDocument, variables: { id: "001A" } },
  result: { data: { customer: { id: "001A", alerts, recommendations: recs } } },
});
const anyVars = () => true;

describe("ordering", () => {
  it("puts the most severe and largest impact first", () => {
    expect(sortAlerts([alert("a:1", "LOW", 10), alert("b:1", "HIGH", 5), alert("c:1", "HIGH", 50)]).map((a) => a.id)).toEqual(["c:1", "b:1", "a:1"]);
    expect(sortRecommendations([rec("a:1:1", "MEDIUM", 1000), rec("b:1:1", "HIGH", null), rec("c:1:1", "LOW", 99999)]).map((r) => r.id)).toEqual(["b:1:1", "a:1:1", "c:1:1"]);
  });
});

describe("RecommendationsList", () => {
  it("shows priority, action, expected outcome and impact; Execute confirms with a note and marks it executed", async () => {
    const executed = { ...R1, status: "EXECUTED" as const, executedOn: "2026-11-27", statusChangedBy: "operator-key", statusChangedAt: "2026-11-27T06:00:00Z", executedAction: { id: "x1", note: "Booked", executedAt: "2026-11-27T06:00:00Z", executedBy: "operator-key", writeBack: { status: "NOT_CONFIGURED" as const, salesforceTaskId: null } } };
    const mocks: MockedResponse[] = [
      actionsMock(),
      { request: { query: ExecuteActionDocument }, variableMatcher: anyVars, delay: 400, result: { data: { executeAction: { __typename: "ActionExecuted", recommendation: executed } } } },
    ];
    renderWith(<Harness />, { mocks });
    const item = await screen.findByTestId(`rec-${R1.id}`);
    expect(item).toHaveTextContent("High priority");
    expect(item).toHaveTextContent("Do R001");
    expect(item).toHaveTextContent("Churn risk below 70 within 90 days");
    expect(item).toHaveTextContent("$457,880 at stake");
    const items = screen.getAllByTestId(/^rec-R/);
    expect(items[0]).toBe(item);

    await userEvent.click(within(item).getByRole("button", { name: "Execute: Title R001" }));
    const dialog = screen.getByRole("dialog", { name: "Execute recommendation" });
    await userEvent.type(within(dialog).getByRole("textbox", { name: /Note/ }), "Booked");
    await userEvent.click(within(dialog).getByRole("button", { name: "Execute" }));
    // Optimistic: executed before the server answers.
    await waitFor(() => expect(screen.getByTestId(`rec-${R1.id}`)).toHaveAttribute("data-status", "EXECUTED"));
    expect(await screen.findByText(/Executed — recorded/)).toBeInTheDocument();
    expect(screen.getByTestId(`rec-${R1.id}`)).toHaveTextContent("Salesforce task: Not configured");
  });

  it("rolls back and names the role when the key may not execute", async () => {
    const mocks: MockedResponse[] = [
      actionsMock(),
      { request: { query: ExecuteActionDocument }, variableMatcher: anyVars, result: { data: { executeAction: { __typename: "NotAllowed", message: "executeAction needs the operator role; this API key is viewer" } } } },
    ];
    renderWith(<Harness />, { mocks });
    const item = await screen.findByTestId(`rec-${R1.id}`);
    await userEvent.click(within(item).getByRole("button", { name: "Execute: Title R001" }));
    await userEvent.click(within(screen.getByRole("dialog", { name: "Execute recommendation" })).getByRole("button", { name: "Execute" }));
    const msg = await within(screen.getByTestId(`rec-${R1.id}`)).findByRole("alert");
    expect(msg).toHaveTextContent("Your API key does not allow this");
    expect(msg).toHaveTextContent("needs the operator role");
    expect(within(msg).getByRole("button", { name: "Enter API key" })).toBeInTheDocument();
    expect(screen.getByTestId(`rec-${R1.id}`)).toHaveAttribute("data-status", "OPEN");
  });

  it("rolls back on a network error", async () => {
    const mocks: MockedResponse[] = [actionsMock(), { request: { query: ExecuteActionDocument }, variableMatcher: anyVars, delay: 400, error: new Error("Failed to fetch") }];
    renderWith(<Harness />, { mocks });
    const item = await screen.findByTestId(`rec-${R1.id}`);
    await userEvent.click(within(item).getByRole("button", { name: "Execute: Title R001" }));
    await userEvent.click(within(screen.getByRole("dialog", { name: "Execute recommendation" })).getByRole("button", { name: "Execute" }));
    await waitFor(() => expect(screen.getByTestId(`rec-${R1.id}`)).toHaveAttribute("data-status", "EXECUTED"));
    expect(await screen.findByText(/Nothing was changed/)).toBeInTheDocument();
    expect(screen.getByTestId(`rec-${R1.id}`)).toHaveAttribute("data-status", "OPEN");
  });

  it("Dismiss requires a reason", async () => {
    const dismissed = { ...R2, status: "DISMISSED" as const, statusReason: "Not now", statusChangedAt: "2026-11-27T06:00:00Z", statusChangedBy: "op" };
    const mocks: MockedResponse[] = [
      actionsMock(),
      { request: { query: DismissRecommendationDocument }, variableMatcher: (v) => v.reason === "Not now", result: { data: { dismissRecommendation: { __typename: "RecommendationUpdated", recommendation: dismissed } } } },
    ];
    renderWith(<Harness />, { mocks });
    const item = await screen.findByTestId(`rec-${R2.id}`);
    await userEvent.click(within(item).getByRole("button", { name: "Dismiss: Title R006" }));
    const dialog = screen.getByRole("dialog", { name: "Dismiss recommendation" });
    await userEvent.click(within(dialog).getByRole("button", { name: "Dismiss" }));
    expect(within(dialog).getByRole("alert")).toHaveTextContent("Reason is required.");
    await userEvent.type(within(dialog).getByRole("textbox", { name: /Reason/ }), "Not now");
    await userEvent.click(within(dialog).getByRole("button", { name: "Dismiss" }));
    expect(await screen.findByText("Dismissed.")).toBeInTheDocument();
    expect(screen.getByTestId(`rec-${R2.id}`)).toHaveAttribute("data-status", "DISMISSED");
    expect(screen.getByText("Executed, dismissed and expired (1)")).toBeInTheDocument();
  });

  it("has an empty state", async () => {
    renderWith(<Harness />, { mocks: [actionsMock([], [])] });
    expect(await screen.findByText("No open recommendations")).toBeInTheDocument();
    expect(screen.getByText("No open alerts")).toBeInTheDocument();
  });
});

describe("AlertsList", () => {
  it("colour-codes severity in words, acknowledges and snoozes", async () => {
    const acked = { ...A1, status: "ACKNOWLEDGED" as const, statusReason: "On it", statusChangedBy: "op", statusChangedAt: "2026-11-27T06:00:00Z" };
    const snoozed = { ...A2, status: "SNOOZED" as const, snoozedUntil: "2027-01-15", statusChangedBy: "op", statusChangedAt: "2026-11-27T06:00:00Z" };
    const mocks: MockedResponse[] = [
      actionsMock(),
      { request: { query: AcknowledgeAlertDocument }, variableMatcher: (v) => v.id === A1.id && v.note === "On it" && typeof v.idempotencyKey === "string", result: { data: { acknowledgeAlert: { __typename: "AlertUpdated", alert: acked } } } },
      { request: { query: SnoozeAlertDocument }, variableMatcher: (v) => v.id === A2.id && v.until === "2027-01-15", result: { data: { snoozeAlert: { __typename: "AlertUpdated", alert: snoozed } } } },
    ];
    renderWith(<Harness />, { mocks });
    const a1 = await screen.findByTestId(`alert-${A1.id}`);
    expect(within(a1).getByText("High severity")).toHaveAttribute("data-tone", "bad");
    expect(within(screen.getByTestId(`alert-${A2.id}`)).getByText("Medium severity")).toHaveAttribute("data-tone", "warn");
    expect(a1).toHaveTextContent("impact $320,516");
    await userEvent.click(within(a1).getByText(/Why \(1 of 1 tests met\)/));
    expect(within(a1).getByRole("table")).toHaveTextContent("churn_risk>= 7070 yes");

    await userEvent.click(within(a1).getByRole("button", { name: `Acknowledge: ${A1.name}` }));
    const ack = screen.getByRole("dialog", { name: "Acknowledge alert" });
    await userEvent.type(within(ack).getByRole("textbox", { name: /Note/ }), "On it");
    await userEvent.click(within(ack).getByRole("button", { name: "Acknowledge" }));
    expect(await screen.findByText("Acknowledged.")).toBeInTheDocument();
    expect(screen.getByTestId(`alert-${A1.id}`)).toHaveAttribute("data-status", "ACKNOWLEDGED");
    expect(screen.getByTestId(`alert-${A1.id}`)).toHaveTextContent("“On it”");

    await userEvent.click(within(screen.getByTestId(`alert-${A2.id}`)).getByRole("button", { name: `Snooze: ${A2.name}` }));
    const sn = screen.getByRole("dialog", { name: "Snooze alert" });
    const until = within(sn).getByLabelText(/Snooze until/);
    await userEvent.clear(until);
    await userEvent.type(until, "2027-01-15");
    await userEvent.click(within(sn).getByRole("button", { name: "Snooze" }));
    expect(await screen.findByText("Snoozed until 15 Jan 2027.")).toBeInTheDocument();
    expect(within(screen.getByTestId(`alert-${A2.id}`)).getByTestId("alert-status")).toHaveTextContent("Snoozed until 15 Jan 2027");
  });

  it("keeps resolved alerts apart", async () => {
    renderWith(<Harness />, { mocks: [actionsMock([A1, alert("SLA_BREACH:001A", "LOW", null, "RESOLVED")], [])] });
    expect(await screen.findByText("Resolved (1)")).toBeInTheDocument();
  });
});

describe("ReviewQueuePage", () => {
  const queue = (items: unknown[]) => ({
    request: { query: LinkReviewQueueDocument, variables: { first: 50 } },
    result: { data: { linkReviewQueue: { available: true, asOf: { date: "2026-10-31", runId: "r" }, totalCount: items.length, pageInfo: { hasNextPage: false, endCursor: null }, items }, linkDecisions: [] } },
  });

  it("lists items with their evidence and offers Accept and Reject", async () => {
    const item = { reviewType: "grey_band_pair", accountIdA: "001A", accountIdB: "001B", accountNameA: "Lakewood Research K.K.", accountNameB: "Lakewood Research Solutions, K.K.", memberAccountIds: ["001A", "001B"], confidence: 90, method: "parent", evidence: "name similarity 78 (compact)", reason: "below the acceptance threshold" };
    renderWith(<ReviewQueuePage />, { mocks: [queue([item])] });
    const li = await screen.findByTestId("review-item");
    expect(li).toHaveTextContent("Possible match (grey band)");
    expect(li).toHaveTextContent("name similarity 78 (compact)");
    expect(within(li).getByRole("button", { name: "Accept link" })).toBeInTheDocument();
    expect(within(li).getByRole("button", { name: "Reject" })).toBeInTheDocument();
  });

  it("has an empty state", async () => {
    renderWith(<ReviewQueuePage />, { mocks: [queue([])] });
    expect(await screen.findByText("Nothing to review")).toBeInTheDocument();
  });

  it("tells a non-admin they need the admin role", async () => {
    renderWith(<ReviewQueuePage />, {
      mocks: [{ request: { query: LinkReviewQueueDocument, variables: { first: 50 } }, result: { errors: [new GraphQLError("this needs the admin role; the API key is viewer", { extensions: { code: "FORBIDDEN" } })] } }],
    });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Your API key does not allow this");
    expect(alert).toHaveTextContent("this needs the admin role");
  });
});
