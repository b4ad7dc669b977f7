import { describe, expect, it, vi } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import type { MockedResponse } from "@apollo/client/testing";
import { ApolloLink, Observable, execute, type FetchResult } from "@apollo/client";
import {
  AlertsChangedDocument,
  CustomerActionsDocument,
  CustomerLinksDocument,
  CustomerProfileDocument,
  CustomerTimelineDocument,
  CustomerUpdatedDocument,
  DashboardSummaryDocument,
  type AlertFieldsFragment,
} from "../src/generated/graphql";
import { CustomerPage } from "../src/pages/CustomerPage";
import { DashboardPage } from "../src/pages/DashboardPage";
import { LazyWsLink } from "../src/lib/apollo";
import { setApiKey } from "../src/lib/apiKey";
import { applyCustomerEvent } from "../src/lib/live";
import { retryDelayMs, wsUrl } from "../src/lib/wsLink";
import { profile, summary } from "./fixtures";
import { renderWith } from "./render";

const alert = (status: AlertFieldsFragment["status"], statusChangedBy: string | null = null): AlertFieldsFragment => ({
  id: "CHURN_RISK:001A",
  customerId: "001A",
  type: "CHURN_RISK",
  name: "Churn risk",
  category: "Retention",
  severity: "HIGH",
  status,
  firstSeen: "2026-10-31",
  lastSeen: "2026-10-31",
  resolvedOn: null,
  snoozedUntil: null,
  message: "Churn risk 70/100",
  impactUsd: 320516,
  statusChangedAt: statusChangedBy ? "2026-11-27T06:00:00Z" : null,
  statusChangedBy,
  statusReason: null,
  explanation: { text: "CHURN_RISK HIGH", conditions: [{ field: "churn_risk", op: ">=", threshold: "70", actual: "70", met: true }] },
});

const id = "001A";
const profileMock = (name = profile.name): MockedResponse => ({ request: { query: CustomerProfileDocument, variables: { id } }, result: { data: { customer: { ...profile, name } } } });
const actionsMock = (status: AlertFieldsFragment["status"] = "OPEN"): MockedResponse => ({
  request: { query: CustomerActionsDocument, variables: { id } },
  result: { data: { customer: { id, alerts: [alert(status)], recommendations: [] } } },
});
const linksMock: MockedResponse = { request: { query: CustomerLinksDocument, variables: { id } }, result: { data: { customer: { id, masterAccount: null, linkedAccounts: [] } } } };
const timelineMock: MockedResponse = {
  request: { query: CustomerTimelineDocument, variables: { id, types: null, since: null, until: null, first: 25, after: null } },
  result: { data: { customer: { id, timeline: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, events: [] } } } },
};
const event = (reason: "MUTATION" | "SNAPSHOT", operation: string | null, status: AlertFieldsFragment["status"] = "ACKNOWLEDGED") => ({
  customerUpdated: { reason, operation, runId: "run-1", at: "2026-11-27T06:00:00Z", customer: { id, alerts: [alert(status, "someone-else")], recommendations: [] } },
});
const renderProfile = (mocks: MockedResponse[]) => renderWith(<CustomerPage />, { mocks, path: `/customers/${id}`, pattern: "/customers/:id" });
const alertStatus = () => screen.getByTestId("alert-CHURN_RISK:001A").getAttribute("data-status");

describe("live updates on the profile", () => {
  it("applies a customerUpdated event for an alert to the open page, without another request", async () => {
    setApiKey("op-key");
    const sub: MockedResponse = { request: { query: CustomerUpdatedDocument, variables: { id } }, delay: 300, result: { data: event("MUTATION", "acknowledgeAlert") } };
    renderProfile([profileMock(), actionsMock("OPEN"), linksMock, timelineMock, sub]);
    await screen.findByTestId("alert-CHURN_RISK:001A");
    expect(alertStatus()).toBe("OPEN");
    await waitFor(() => expect(alertStatus()).toBe("ACKNOWLEDGED"));
    expect(screen.getByTestId("alert-CHURN_RISK:001A")).toHaveTextContent("Acknowledged");
  });

  it("fetches what is on screen again on a new snapshot", async () => {
    setApiKey("op-key");
    const sub: MockedResponse = { request: { query: CustomerUpdatedDocument, variables: { id } }, delay: 300, result: { data: event("SNAPSHOT", null, "OPEN") } };
    renderProfile([profileMock(), actionsMock(), linksMock, timelineMock, sub, profileMock("Yoverix Renamed AB"), actionsMock("RESOLVED"), linksMock, timelineMock]);
    expect(await screen.findByRole("heading", { level: 1, name: profile.name! })).toBeInTheDocument();
    expect(await screen.findByRole("heading", { level: 1, name: "Yoverix Renamed AB" }, { timeout: 3000 })).toBeInTheDocument();
    await waitFor(() => expect(alertStatus()).toBe("RESOLVED"));
  });

  it("does not subscribe without an API key", async () => {
    const subscribed = vi.fn(() => ({ data: event("MUTATION", "acknowledgeAlert") }));
    renderProfile([profileMock(), actionsMock("OPEN"), linksMock, timelineMock, { request: { query: CustomerUpdatedDocument, variables: { id } }, result: subscribed }]);
    await screen.findByTestId("alert-CHURN_RISK:001A");
    await new Promise((r) => setTimeout(r, 400));
    expect(subscribed).not.toHaveBeenCalled();
    expect(alertStatus()).toBe("OPEN");
  });
});

describe("applyCustomerEvent", () => {
  const client = () => ({ refetchQueries: vi.fn(() => Promise.resolve([])) }) as unknown as Parameters<typeof applyCustomerEvent>[0] & { refetchQueries: ReturnType<typeof vi.fn> };

  it("relies on the event's payload for alert and recommendation changes", async () => {
    for (const op of ["acknowledgeAlert", "snoozeAlert", "executeAction", "dismissRecommendation", "writeBack"]) {
      const c = client();
      expect(await applyCustomerEvent(c, event("MUTATION", op).customerUpdated)).toBe("cache");
      expect(c.refetchQueries).not.toHaveBeenCalled();
    }
  });

  it("refetches the active queries for a snapshot, a link change or an unknown operation", async () => {
    for (const [reason, op] of [["SNAPSHOT", null], ["MUTATION", "linkAccounts"], ["MUTATION", "somethingNew"]] as const) {
      const c = client();
      expect(await applyCustomerEvent(c, event(reason, op).customerUpdated)).toBe("refetch");
      expect(c.refetchQueries).toHaveBeenCalledWith({ include: "active" });
    }
    expect(await applyCustomerEvent(client(), undefined)).toBe("none");
  });
});

describe("dashboard", () => {
  it("refreshes the open alert counts when alerts change", async () => {
    setApiKey("viewer-key");
    const fewer = { ...summary, openAlertsBySeverity: [{ label: "HIGH", count: 146 }, ...summary.openAlertsBySeverity.slice(1)] };
    const mocks: MockedResponse[] = [
      { request: { query: DashboardSummaryDocument, variables: { top: 10 } }, result: { data: { dashboardSummary: summary } } },
      { request: { query: AlertsChangedDocument }, delay: 200, result: { data: { alertsChanged: { reason: "MUTATION", operation: "acknowledgeAlert", runId: "run-1", at: "2026-11-27T06:00:00Z" } } } },
      { request: { query: DashboardSummaryDocument, variables: { top: 10 } }, result: { data: { dashboardSummary: fewer } } },
    ];
    renderWith(<DashboardPage />, { mocks });
    expect(await screen.findByText("292 open")).toBeInTheDocument();
    expect(await screen.findByText("291 open", undefined, { timeout: 3000 })).toBeInTheDocument();
  });
});

describe("the WebSocket link", () => {
  const op = { query: CustomerUpdatedDocument, variables: { id } };
  const fake = (results: FetchResult[]) => new ApolloLink(() => new Observable<FetchResult>((o) => { results.forEach((r) => o.next(r)); o.complete(); }));

  it("loads graphql-ws once, on the first subscription, and forwards its results", async () => {
    const load = vi.fn(() => Promise.resolve(fake([{ data: { n: 1 } }, { data: { n: 2 } }])));
    const link = new LazyWsLink(load);
    expect(load).not.toHaveBeenCalled();
    for (let i = 0; i < 2; i++) {
      const seen: unknown[] = [];
      await new Promise<void>((done) => execute(link, op).subscribe({ next: (r) => seen.push(r.data), complete: done }));
      expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    }
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("reports a failed download and tries again next time", async () => {
    const load = vi.fn().mockRejectedValueOnce(new Error("chunk failed")).mockResolvedValueOnce(fake([{ data: { ok: true } }]));
    const link = new LazyWsLink(load);
    await expect(new Promise((_, reject) => execute(link, op).subscribe({ error: reject }))).rejects.toThrow("chunk failed");
    const r = await new Promise((resolve) => execute(link, op).subscribe({ next: resolve }));
    expect(r).toEqual({ data: { ok: true } });
  });

  it("does not subscribe when unsubscribed before the link is loaded", async () => {
    const inner = vi.fn(() => Observable.of<FetchResult>({ data: {} }));
    const link = new LazyWsLink(() => Promise.resolve(new ApolloLink(inner)));
    execute(link, op).subscribe({}).unsubscribe();
    await new Promise((r) => setTimeout(r, 10));
    expect(inner).not.toHaveBeenCalled();
  });

  it("builds ws:// and wss:// URLs from the page and backs off up to 30 s", () => {
    expect(wsUrl("graphql", "http://127.0.0.1:8360/#/customers/001A")).toBe("ws://127.0.0.1:8360/graphql");
    expect(wsUrl("graphql", "https://c360.example/app/index.html")).toBe("wss://c360.example/app/graphql");
    expect([0, 1, 2, 10].map((n) => retryDelayMs(n, () => 0))).toEqual([1000, 2000, 4000, 30000]);
  });
});

/** Just enough of a WebSocket for graphql-ws: acknowledges connection_init, records what is sent. */
class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static all: FakeSocket[] = [];
  readyState = FakeSocket.CONNECTING;
  sent: { type: string; id?: string; payload?: Record<string, unknown> }[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocol: string,
  ) {
    FakeSocket.all.push(this);
    setTimeout(() => {
      this.readyState = FakeSocket.OPEN;
      this.onopen?.();
    });
  }
  send(data: string) {
    const m = JSON.parse(data) as FakeSocket["sent"][number];
    this.sent.push(m);
    if (m.type === "connection_init") this.reply({ type: "connection_ack" });
  }
  reply(m: unknown) {
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(m) }));
  }
  close(code = 1000, reason = "") {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    setTimeout(() => this.onclose?.({ code, reason, wasClean: code === 1000 }));
  }
}

describe("the graphql-ws client", () => {
  it("sends the key in connection_init, reconnects after a drop, resubscribes and reports the reconnect", async () => {
    const { createWsClient } = await import("../src/lib/wsLink");
    FakeSocket.all = [];
    setApiKey("key-1");
    const onReconnect = vi.fn();
    const client = createWsClient({ uri: "http://127.0.0.1:8360/graphql", onReconnect, webSocketImpl: FakeSocket, retryDelay: () => 5 });
    const received: unknown[] = [];
    const stop = client.subscribe({ query: 'subscription { customerUpdated(id: "001A") { reason } }' }, { next: (r) => received.push(r.data), error: () => undefined, complete: () => undefined });
    const subscribed = (s: FakeSocket | undefined) => s?.sent.find((m) => m.type === "subscribe");

    await waitFor(() => expect(subscribed(FakeSocket.all[0])).toBeTruthy());
    const first = FakeSocket.all[0]!;
    expect(first.url).toBe("ws://127.0.0.1:8360/graphql");
    expect(first.sent[0]).toEqual({ type: "connection_init", payload: { "X-API-Key": "key-1" } });
    first.reply({ type: "next", id: subscribed(first)!.id, payload: { data: { customerUpdated: { reason: "MUTATION" } } } });
    await waitFor(() => expect(received).toHaveLength(1));

    first.close(1006, "dropped"); // the network went away
    await waitFor(() => expect(subscribed(FakeSocket.all[1])).toBeTruthy());
    expect(onReconnect).toHaveBeenCalledTimes(1);
    const second = FakeSocket.all[1]!;
    second.reply({ type: "next", id: subscribed(second)!.id, payload: { data: { customerUpdated: { reason: "SNAPSHOT" } } } });
    await waitFor(() => expect(received).toHaveLength(2));

    setApiKey("key-2"); // a new key: a new connection that introduces itself with it
    await waitFor(() => expect(subscribed(FakeSocket.all[2])).toBeTruthy());
    expect(FakeSocket.all[2]!.sent[0]).toEqual({ type: "connection_init", payload: { "X-API-Key": "key-2" } });
    expect(onReconnect).toHaveBeenCalledTimes(1); // the key change resets the cache itself

    stop();
    await client.dispose();
  });
});
