import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, Observable, from, split, type FetchResult, type Operation } from "@apollo/client";
import { setContext } from "@apollo/client/link/context";
import { getMainDefinition } from "@apollo/client/utilities";
import { getApiKey } from "./apiKey";
import introspection from "../generated/possibleTypes";

/** The Apollo client for the API on this origin (`c360 serve`, or Vite's dev proxy). */
export function createClient(uri = "graphql"): ApolloClient<unknown> {
  const auth = setContext((_, { headers }) => {
    const key = getApiKey();
    return { headers: { ...(headers as Record<string, string>), ...(key ? { "X-API-Key": key } : {}) } };
  });
  // Subscriptions go over graphql-transport-ws (the same path, ws://); after a dropped socket comes back,
  // the active queries are fetched again since events may have been missed meanwhile.
  const ws = new LazyWsLink(() => import("./wsLink").then((m) => m.createWsLink({ uri, onReconnect: () => void client.refetchQueries({ include: "active" }) })));
  const client: ApolloClient<unknown> = new ApolloClient({
    link: split(isSubscription, ws, from([auth, new HttpLink({ uri })])),
    cache: createCache(),
    defaultOptions: { watchQuery: { fetchPolicy: "cache-and-network", nextFetchPolicy: "cache-first" } },
  });
  return client;
}

export function isSubscription({ query }: Operation): boolean {
  const def = getMainDefinition(query);
  return def.kind === "OperationDefinition" && def.operation === "subscription";
}

/**
 * A link that loads the real one (graphql-ws and its Apollo link) with the first operation it is given,
 * keeping the WebSocket client out of the first load.
 */
export class LazyWsLink extends ApolloLink {
  private link: Promise<ApolloLink> | null = null;
  constructor(private readonly load: () => Promise<ApolloLink>) {
    super();
  }

  override request(operation: Operation): Observable<FetchResult> {
    return new Observable<FetchResult>((observer) => {
      let closed = false;
      let sub: { unsubscribe(): void } | null = null;
      this.link ??= this.load().catch((e: unknown) => {
        this.link = null; // a failed chunk download is tried again next time
        throw e;
      });
      this.link.then(
        (link) => {
          if (closed) return;
          const next = link.request(operation);
          if (!next) return observer.complete();
          sub = next.subscribe(observer);
        },
        (e: unknown) => {
          if (!closed) observer.error(e);
        },
      );
      return () => {
        closed = true;
        sub?.unsubscribe();
      };
    });
  }
}

export function createCache(): InMemoryCache {
  return new InMemoryCache({
    possibleTypes: introspection.possibleTypes,
    typePolicies: {
      Customer: { keyFields: ["id"], fields: { timeline: { keyArgs: ["types", "since", "until"], merge: mergeTimelinePage } } },
      ScoreBreakdown: { keyFields: false },
      MetricPoint: { keyFields: false },
      TimelineEvent: { keyFields: ["id"] },
      Alert: { keyFields: ["id"] },
      Recommendation: { keyFields: ["id"] },
      MasterAccount: { keyFields: ["id"] },
      LinkDecision: { keyFields: ["id"] },
      Explanation: { keyFields: false },
      AccountLink: { keyFields: false },
    },
  });
}

interface TimelinePage {
  events: readonly unknown[];
  [k: string]: unknown;
}

/** "Load more" appends the next page; a first page (no `after`) replaces what was there. */
export function mergeTimelinePage(existing: TimelinePage | undefined, incoming: TimelinePage, { args }: { args: Record<string, unknown> | null }): TimelinePage {
  if (!existing || !args?.after) return incoming;
  return { ...incoming, events: [...existing.events, ...incoming.events] };
}
