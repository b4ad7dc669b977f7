import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { GraphQLError } from "graphql";
import type { MockedResponse } from "@apollo/client/testing";
import { CustomerActionsDocument, CustomerLinksDocument, CustomerProfileDocument, CustomerTimelineDocument, DashboardSummaryDocument, SearchCustomersDocument, type CustomerTimelineQuery } from "../src/generated/graphql";
import { CustomerPage } from "../src/pages/CustomerPage";
import { DashboardPage } from "../src/pages/DashboardPage";
import { Timeline } from "../src/components/Timeline";
import { SearchBox } from "../src/components/SearchBox";
import { profile, summary } from "./fixtures";
import { renderWith } from "./render";

type Events = NonNullable<CustomerTimelineQuery["customer"]>["timeline"]["events"];
const ev = (id: string, type: Events[number]["type"], title: string, amountUsd: number | null = null, status: string | null = null): Events[number] => ({
  id,
  date: "2026-10-23",
  type,
  title,
  status,
  amountUsd,
  sourceTable: type === "BILLING" ? "invoices" : "cases",
  sourceId: id,
});
const tlVars = (over: Record<string, unknown> = {}) => ({ id: "001A", types: null, since: null, until: null, first: 25, after: null, ...over });
const tlResult = (events: Events, totalCount = events.length, hasNextPage = false) => ({
  data: { customer: { id: "001A", timeline: { totalCount, pageInfo: { hasNextPage, endCursor: hasNextPage ? "c1" : null }, events } } },
});

describe("Timeline", () => {
  const all = [ev("e1", "BILLING", "Invoice INV-1 paid 17 days late", 37843.85, "PAID_LATE"), ev("e2", "SUPPORT", "Case 2611 opened (HIGH), escalated", null, "ESCALATED")];

  it("lists events with USD amounts and filters by type", async () => {
    const mocks: MockedResponse[] = [
      { request: { query: CustomerTimelineDocument, variables: tlVars() }, result: tlResult(all, 61, true) },
      { request: { query: CustomerTimelineDocument, variables: tlVars({ types: ["BILLING"] }) }, result: tlResult([all[0]!], 20) },
    ];
    renderWith(<Timeline customerId="001A" />, { mocks });
    expect(await screen.findByText("Invoice INV-1 paid 17 days late")).toBeInTheDocument();
    expect(screen.getByTestId("timeline-count")).toHaveTextContent("2 of 61 events");
    expect(screen.getByText("$37,844")).toBeInTheDocument();
    expect(screen.getByText("Paid late")).toHaveClass("tone-bad");
    expect(screen.getByRole("button", { name: /Load more \(59 left\)/ })).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Billing" }));
    expect(screen.getByRole("button", { name: "Billing" })).toHaveAttribute("aria-pressed", "true");
    await waitFor(() => expect(screen.getByTestId("timeline-count")).toHaveTextContent("1 of 20 events"));
    expect(screen.queryByText("Case 2611 opened (HIGH), escalated")).not.toBeInTheDocument();
  });

  it("filters by date and shows an empty state", async () => {
    const mocks: MockedResponse[] = [
      { request: { query: CustomerTimelineDocument, variables: tlVars() }, result: tlResult(all) },
      { request: { query: CustomerTimelineDocument, variables: tlVars({ since: "2026-11-01" }) }, result: tlResult([]) },
    ];
    renderWith(<Timeline customerId="001A" />, { mocks });
    await screen.findByText("Invoice INV-1 paid 17 days late");
    await userEvent.type(screen.getByLabelText("From"), "2026-11-01");
    expect(await screen.findByText("No events match")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    expect(await screen.findByText("Invoice INV-1 paid 17 days late")).toBeInTheDocument();
  });

  it("shows an error with a retry", async () => {
    const mocks: MockedResponse[] = [
      { request: { query: CustomerTimelineDocument, variables: tlVars() }, error: new Error("Failed to fetch") },
      { request: { query: CustomerTimelineDocument, variables: tlVars() }, result: tlResult(all) },
    ];
    renderWith(<Timeline customerId="001A" />, { mocks });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Cannot reach the Customer 360 server");
    await userEvent.click(within(alert).getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Invoice INV-1 paid 17 days late")).toBeInTheDocument();
  });
});

describe("SearchBox", () => {
  const hits = (q: string) => ({
    request: { query: SearchCustomersDocument, variables: { query: q, limit: 8 } },
    result: {
      data: {
        searchCustomers: [
          { score: 77.7, customer: { id: "001A", name: "Yoverix Transport Global AB", region: "EMEA", country: "SE", healthScore: 20, healthCategory: "CRITICAL" } },
          { score: 76.9, customer: { id: "001B", name: "Yoverix Transportation Worldwide N.V.", region: "EMEA", country: "NL", healthScore: 57.8, healthCategory: "AT_RISK" } },
        ],
      },
    },
  });

  it("autocompletes a typo with region and health, highlights, and opens a hit with the keyboard", async () => {
    renderWith(<SearchBox />, { mocks: [hits("yovrix")] });
    const box = screen.getByRole("combobox", { name: "Search customers" });
    await userEvent.type(box, "yovrix");
    const options = await screen.findAllByRole("option");
    expect(options).toHaveLength(2);
    expect(options[0]).toHaveTextContent("EMEA · SE");
    expect(options[0]).toHaveTextContent("Critical 20.0");
    expect(options[1]).toHaveTextContent("At risk 57.8");
    expect(options[0]!.querySelector("mark")).toHaveTextContent("Yov");
    expect(options[0]).toHaveAttribute("aria-selected", "true");
    await userEvent.keyboard("{ArrowDown}");
    expect(options[1]).toHaveAttribute("aria-selected", "true");
    expect(box).toHaveAttribute("aria-activedescendant", options[1]!.id);
    await userEvent.keyboard("{Enter}");
    expect(await screen.findByTestId("location")).toHaveTextContent("/customers/001B");
  });

  it("waits for two characters and debounces", async () => {
    renderWith(<SearchBox />, { mocks: [hits("yo")] });
    const box = screen.getByRole("combobox", { name: "Search customers" });
    await userEvent.type(box, "y");
    expect(screen.queryByRole("listbox")).not.toBeInTheDocument();
    await userEvent.type(box, "o{Enter}");
    // Enter before the answer arrives opens the top hit once it does.
    expect(await screen.findByTestId("location")).toHaveTextContent("/customers/001A");
  });

  it("says when nothing matches", async () => {
    renderWith(<SearchBox />, { mocks: [{ request: { query: SearchCustomersDocument, variables: { query: "zzz", limit: 8 } }, result: { data: { searchCustomers: [] } } }] });
    await userEvent.type(screen.getByRole("combobox"), "zzz");
    expect(await screen.findByText("No customer matches")).toBeInTheDocument();
  });
});

describe("CustomerPage", () => {
  const timeline = { request: { query: CustomerTimelineDocument, variables: tlVars() }, result: tlResult([]) };

  it("renders the 360 view from the API answer", async () => {
    const mocks: MockedResponse[] = [
      { request: { query: CustomerProfileDocument, variables: { id: "001A" } }, result: { data: { customer: profile } } },
      timeline,
      { request: { query: CustomerActionsDocument, variables: { id: "001A" } }, result: { data: { customer: { id: "001A", alerts: [], recommendations: [] } } } },
      {
        request: { query: CustomerLinksDocument, variables: { id: "001A" } },
        result: {
          data: {
            customer: {
              id: "001A",
              masterAccount: { id: "M1-001B", size: 2, needsReview: false },
              linkedAccounts: [
                {
                  customer: { id: "001B", name: "Yoverix Transportation Worldwide N.V.", region: "EMEA", country: "NL", healthCategory: "AT_RISK" },
                  link: { accountIdA: "001A", accountIdB: "001B", accountNameA: null, accountNameB: null, method: "exact", methods: ["exact", "contact"], confidence: 100, nameSimilarity: 100, nameScorer: "exact", sameParent: null, sharedContact: "46406628485", sharedContactCount: 2, evidence: "identical normalised name 'yoverix transport'" },
                },
              ],
            },
          },
        },
      },
    ];
    renderWith(<CustomerPage />, { mocks, path: "/customers/001A", pattern: "/customers/:id" });
    expect(await screen.findByRole("heading", { level: 1, name: "Yoverix Transport Global AB" })).toBeInTheDocument();
    expect(screen.getByTestId("metric-arr-value")).toHaveTextContent("$457,880");
    expect(screen.getByTestId("metric-yoy-value")).toHaveTextContent("−12.5%");
    expect(screen.getByText("Owner: Femke Peters", { exact: false })).toBeInTheDocument();
    expect(screen.getByTestId("health-breakdown")).toHaveTextContent("Why this health score");
    expect(screen.getByTestId("churn-breakdown")).toHaveTextContent("Usage decline");
    expect(screen.getByText("Show the numbers (2 month-ends)")).toBeInTheDocument();
    const linked = await screen.findByTestId("linked-accounts");
    expect(within(linked).getByRole("link", { name: "M1-001B" })).toHaveAttribute("href", "/masters/M1-001B");
    expect(linked).toHaveTextContent("Exact link, 100.0% — evidence");
    await userEvent.click(within(linked).getByText("Exact link, 100.0% — evidence"));
    expect(linked).toHaveTextContent("identical normalised name 'yoverix transport'");
    expect(linked).toHaveTextContent("46406628485 (+1 more)");
    expect(await screen.findByText("No open alerts")).toBeInTheDocument();
  });

  it("says when the customer does not exist", async () => {
    const mocks: MockedResponse[] = [{ request: { query: CustomerProfileDocument, variables: { id: "nope" } }, result: { data: { customer: null } } }];
    renderWith(<CustomerPage />, { mocks, path: "/customers/nope", pattern: "/customers/:id" });
    expect(await screen.findByText("No such customer")).toBeInTheDocument();
  });

  it("shows a loading state, then a server error", async () => {
    const mocks: MockedResponse[] = [
      { request: { query: CustomerProfileDocument, variables: { id: "001A" } }, result: { errors: [new GraphQLError("no published snapshot yet: run `c360 pipeline run` first")] } },
    ];
    renderWith(<CustomerPage />, { mocks, path: "/customers/001A", pattern: "/customers/:id" });
    expect(screen.getByRole("status")).toHaveTextContent("Loading the customer…");
    expect(await screen.findByRole("alert")).toHaveTextContent("No data published yet");
  });
});

describe("DashboardPage", () => {
  it("shows the summary, the distributions in words and the accounts at risk", async () => {
    const mocks: MockedResponse[] = [{ request: { query: DashboardSummaryDocument, variables: { top: 10 } }, result: { data: { dashboardSummary: summary } } }];
    renderWith(<DashboardPage />, { mocks });
    expect(await screen.findByTestId("summary-customers-value")).toHaveTextContent("298");
    expect(screen.getByTestId("summary-arr-value")).toHaveTextContent("$43.4M");
    expect(screen.getByTestId("summary-arr-at-risk")).toHaveTextContent("$3,349,610 — 7.7% of ARR, 40 customers");
    expect(screen.getByTestId("health-distribution")).toHaveTextContent("At risk: 101");
    expect(screen.getByTestId("churn-distribution")).toHaveTextContent("High: 40");
    const rows = within(screen.getByTestId("top-at-risk")).getAllByRole("row");
    expect(rows).toHaveLength(3);
    expect(within(rows[1]!).getByRole("link", { name: "Yoverix Transport Global AB" })).toHaveAttribute("href", "/customers/001A");
  });

  it("shows a network error", async () => {
    const mocks: MockedResponse[] = [{ request: { query: DashboardSummaryDocument, variables: { top: 10 } }, error: new Error("Failed to fetch") }];
    renderWith(<DashboardPage />, { mocks });
    expect(await screen.findByRole("alert")).toHaveTextContent("Cannot reach the Customer 360 server");
  });
});
