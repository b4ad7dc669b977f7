// Mocked answers get their __typename from the real schema, as the server would send them,
// so the cache matches fragments exactly as in production.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  buildSchema,
  getNamedType,
  isAbstractType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type SelectionSetNode,
} from "graphql";

const schema = buildSchema(readFileSync(resolve(__dirname, "../../schema.graphql"), "utf8"));

export function withTypenames<T>(doc: DocumentNode, data: T): T {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of doc.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!op || op.kind !== Kind.OPERATION_DEFINITION) return data;
  const root = op.operation === "mutation" ? schema.getMutationType() : op.operation === "subscription" ? schema.getSubscriptionType() : schema.getQueryType();
  if (!root) return data;

  const walk = (value: unknown, type: GraphQLObjectType, set: SelectionSetNode): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v, type, set));
    if (value == null || typeof value !== "object") return value;
    const out: Record<string, unknown> = { __typename: type.name, ...(value as Record<string, unknown>) };
    const visit = (s: SelectionSetNode) => {
      for (const sel of s.selections) {
        if (sel.kind === Kind.FRAGMENT_SPREAD) visit(fragments.get(sel.name.value)!.selectionSet);
        else if (sel.kind === Kind.INLINE_FRAGMENT) visit(sel.selectionSet);
        else if (sel.selectionSet) {
          const key = sel.alias?.value ?? sel.name.value;
          const field = type.getFields()[sel.name.value];
          const named = field && getNamedType(field.type);
          if (named && isObjectType(named)) out[key] = walk(out[key], named, sel.selectionSet);
          else if (named && isAbstractType(named)) out[key] = walkAbstract(out[key], sel.selectionSet);
        }
      }
    };
    visit(set);
    return out;
  };
  // A union or interface member names its own type, as the server would.
  const walkAbstract = (value: unknown, set: SelectionSetNode): unknown => {
    if (Array.isArray(value)) return value.map((v) => walkAbstract(v, set));
    const name = (value as { __typename?: string } | null)?.__typename;
    const concrete = name ? schema.getType(name) : undefined;
    return concrete && isObjectType(concrete) ? walk(value, concrete, set) : value;
  };
  const data0 = walk(data, root, op.selectionSet) as Record<string, unknown>;
  delete data0.__typename;
  return data0 as T;
}
