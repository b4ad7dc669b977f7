import { ApolloClient, HttpLink, InMemoryCache, from } from "@apollo/client";
import { setContext } from "@apollo/client/link/context";
import { getApiKey } from "./apiKey";
import introspection from "../generated/possibleTypes";

/** The Apollo client for the API on this origin (`c360 serve`, or Vite's dev proxy). */
export function createClient(uri = "graphql"): ApolloClient<unknown> {
  const auth = setContext((_, { headers }) => {
    const key = getApiKey();
    return { headers: { ...(headers as Record<string, string>), ...(key ? { "X-API-Key": key } : {}) } };
  });
  return new ApolloClient({
    link: from([auth, new HttpLink({ uri })]),
    cache: createCache(),
    defaultOptions: { watchQuery: { fetchPolicy: "cache-and-network", nextFetchPolicy: "cache-first" } },
  });
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
