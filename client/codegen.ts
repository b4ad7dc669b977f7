// TypeScript types for every operation in src/**/*.graphql, from the server's exported schema.
// `npm run codegen` regenerates; `npm run codegen:check` fails when src/generated is stale.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  // C360_SCHEMA points at another SDL file (e.g. a server branch's export) while developing against it.
  schema: process.env.C360_SCHEMA ?? "../schema.graphql",
  documents: ["src/**/*.graphql"],
  generates: {
    "src/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { Date: "string", DateTime: "string" },
        avoidOptionals: { field: true, inputValue: false, object: true },
        nonOptionalTypename: false,
        skipTypename: false,
        useTypeImports: true,
        dedupeFragments: true,
      },
    },
    // Which concrete types each union and interface can be, so the cache matches `... on` fragments.
    "src/generated/possibleTypes.ts": {
      plugins: ["fragment-matcher"],
      config: { useExplicitTyping: true },
    },
  },
};

export default config;
