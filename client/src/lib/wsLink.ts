// The graphql-ws side of the Apollo link: loaded on demand by `LazyWsLink` (src/lib/apollo.ts), so pages
// without live updates (or sessions without an API key) never download it.
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { createClient, type Client } from "graphql-ws";
import { getApiKey, subscribeApiKey } from "./apiKey";

export interface WsOptions {
  /** The GraphQL endpoint, absolute or relative to the page ("graphql"). */
  uri: string;
  /** Called after the socket came back from a drop: events may have been missed. */
  onReconnect?: () => void;
  /** Tests: a fake WebSocket and a shorter backoff. */
  webSocketImpl?: unknown;
  retryDelay?: (retries: number) => number;
}

/** ws(s):// for the GraphQL endpoint as the page sees it (relative URIs resolve against the page). */
export function wsUrl(uri: string, base: string = window.location.href): string {
  const url = new URL(uri, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  return url.toString();
}

/** Backoff between reconnection attempts: 1 s, 2 s, 4 s … capped at 30 s, plus up to 1 s of jitter. */
export function retryDelayMs(retries: number, random: () => number = Math.random): number {
  return Math.min(30000, 1000 * 2 ** retries) + Math.floor(random() * 1000);
}

export function createWsClient({ uri, onReconnect, webSocketImpl, retryDelay = retryDelayMs }: WsOptions): Client {
  let connected = false;
  let rekeyed = false; // the reconnect was ours (a new key): the dialog already reset the cache
  const client = createClient({
    url: () => wsUrl(uri),
    // connection_init carries the session's key, read at every (re)connect.
    connectionParams: () => {
      const key = getApiKey();
      return key ? { "X-API-Key": key } : {};
    },
    lazy: true, // a socket only while something is subscribed
    lazyCloseTimeout: 3000, // moving from one profile to another keeps the socket
    keepAlive: 20000,
    retryAttempts: Infinity, // reconnect on every drop (a restarted server, a network change)
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, retryDelay(retries))),
    webSocketImpl,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        connected = true;
        if (wasRetry && !rekeyed) onReconnect?.();
        rekeyed = false;
      },
      closed: () => {
        connected = false;
      },
    },
  });
  // A new key: reconnect so connection_init carries it (subscriptions resume on the new socket).
  // No key: the pages drop their subscriptions and the lazy socket closes by itself.
  subscribeApiKey((key) => {
    if (!key || !connected) return; // the next connection reads the key anyway
    rekeyed = true;
    client.terminate();
  });
  return client;
}

export function createWsLink(options: WsOptions): GraphQLWsLink {
  return new GraphQLWsLink(createWsClient(options));
}
