// Live updates: the open profile follows `customerUpdated(id)`, the dashboard follows `alertsChanged`.
// Subscriptions run only while an API key is set (the server refuses sockets without one).
import { useEffect, useRef, useSyncExternalStore } from "react";
import { useApolloClient, useSubscription, type ApolloClient } from "@apollo/client";
import { AlertsChangedDocument, CustomerUpdatedDocument, type CustomerUpdatedSubscription } from "../generated/graphql";
import { getApiKey, subscribeApiKey } from "./apiKey";

/** The session's API key, re-rendering when it is saved or forgotten. */
export function useApiKey(): string | null {
  return useSyncExternalStore(
    (onChange) => subscribeApiKey(() => onChange()),
    getApiKey,
    () => null,
  );
}

/** Mutations whose whole effect (the customer's alerts and recommendations) comes with the event. */
const CARRIED_BY_EVENT = new Set(["acknowledgeAlert", "snoozeAlert", "executeAction", "dismissRecommendation", "writeBack"]);

type CustomerEvent = CustomerUpdatedSubscription["customerUpdated"];

/**
 * What a `customerUpdated` event needs beyond the cache write Apollo already did with its payload:
 * nothing for alert and recommendation changes; a fresh fetch of what is on screen for a new snapshot,
 * a link change or anything else (the profile, the company, the timeline may all have moved).
 */
export async function applyCustomerEvent(client: Pick<ApolloClient<unknown>, "refetchQueries">, event: CustomerEvent | undefined): Promise<"cache" | "refetch" | "none"> {
  if (!event) return "none";
  if (event.reason === "MUTATION" && event.customer && event.operation && CARRIED_BY_EVENT.has(event.operation)) return "cache";
  await client.refetchQueries({ include: "active" });
  return "refetch";
}

/** Keeps the open profile current: subscribes to `customerUpdated(id)` while a key is set. */
export function useCustomerLive(id: string): void {
  const key = useApiKey();
  const client = useApolloClient();
  useSubscription(CustomerUpdatedDocument, {
    variables: { id },
    skip: !key || !id,
    onData: ({ data }) => void applyCustomerEvent(client, data.data?.customerUpdated).catch(() => undefined),
    onError: () => undefined, // the page keeps what it shows; the socket reconnects by itself
  });
}

/** Calls `refresh` (at most once per `waitMs`, trailing) whenever alerts change, while a key is set. */
export function useAlertsLive(refresh: () => void, waitMs = 1000): void {
  const key = useApiKey();
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => () => clearTimeout(timer.current ?? undefined), []);
  useSubscription(AlertsChangedDocument, {
    skip: !key,
    onData: () => {
      if (timer.current) return; // a burst (a new snapshot, a bulk change) becomes one refresh
      timer.current = setTimeout(() => {
        timer.current = null;
        latest.current();
      }, waitMs);
    },
    onError: () => undefined,
  });
}
