// Turn an Apollo error into what a person can act on.
import type { ApolloError } from "@apollo/client";

export type ErrorKind = "unauthenticated" | "forbidden" | "network" | "notFound" | "invalid" | "server";

export interface Problem {
  kind: ErrorKind;
  title: string;
  detail: string;
}

const FORBIDDEN_CODES = new Set(["FORBIDDEN", "PERMISSION_DENIED", "INSUFFICIENT_ROLE"]);
const UNAUTH_CODES = new Set(["UNAUTHENTICATED", "UNAUTHORIZED", "INVALID_API_KEY"]);

function statusOf(error: ApolloError): number | undefined {
  const ne = error.networkError as { statusCode?: number; status?: number } | null;
  return ne?.statusCode ?? ne?.status;
}

export function describeError(error: ApolloError | Error | null | undefined): Problem | null {
  if (!error) return null;
  const apollo = error as ApolloError;
  const gqlErrors = apollo.graphQLErrors ?? [];
  const status = "networkError" in apollo ? statusOf(apollo) : undefined;
  const messages = gqlErrors.map((e) => e.message).filter(Boolean);
  const codes = gqlErrors.map((e) => String((e.extensions as { code?: unknown } | undefined)?.code ?? "").toUpperCase());
  const text = (messages.join("; ") || error.message || "").trim();

  if (status === 401 || codes.some((c) => UNAUTH_CODES.has(c)) || /\b(api key|unauthenticated|not authenticated)\b/i.test(text) && /missing|invalid|unknown|required/i.test(text)) {
    return {
      kind: "unauthenticated",
      title: "API key needed",
      detail: text && status !== 401 ? text : "The server did not accept the API key. Enter a valid key with “API key” at the top right.",
    };
  }
  if (status === 403 || codes.some((c) => FORBIDDEN_CODES.has(c)) || /\b(role|permission|forbidden|not allowed)\b/i.test(text)) {
    return {
      kind: "forbidden",
      title: "Your API key does not allow this",
      detail: `${text || "The key's role lacks permission for this action."} Ask an administrator for a key with the right role, or enter another key.`,
    };
  }
  if (apollo.networkError && !gqlErrors.length) {
    return {
      kind: "network",
      title: "Cannot reach the Customer 360 server",
      detail: status ? `The server answered HTTP ${status}.` : "Check that `c360 serve` is running, then retry.",
    };
  }
  if (/no published snapshot/i.test(text)) {
    return { kind: "server", title: "No data published yet", detail: text };
  }
  if (/not found|unknown/i.test(text)) {
    return { kind: "notFound", title: "Not found", detail: text };
  }
  if (gqlErrors.length) {
    return { kind: "invalid", title: "The server refused the request", detail: text };
  }
  return { kind: "server", title: "Something went wrong", detail: text || "Unexpected error." };
}
