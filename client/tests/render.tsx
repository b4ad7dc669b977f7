import type { ReactElement } from "react";
import { render } from "@testing-library/react";
import { MockedProvider, type MockedResponse } from "@apollo/client/testing";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { createCache } from "../src/lib/apollo";
import { withTypenames } from "./typenames";

export function LocationProbe() {
  const loc = useLocation();
  return <div data-testid="location">{loc.pathname}</div>;
}

/** Render under a mocked Apollo client and a memory router at `path` (matched by `pattern`). */
export function renderWith(ui: ReactElement, { mocks = [], path = "/", pattern = "*" }: { mocks?: MockedResponse[]; path?: string; pattern?: string } = {}) {
  const typed = mocks.map((m) => {
    const result = m.result as { data?: unknown } | undefined;
    return result && typeof result === "object" && result.data ? { ...m, result: { ...result, data: withTypenames(m.request.query, result.data) } } : m;
  });
  return render(
    <MockedProvider mocks={typed} cache={createCache()}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path={pattern} element={ui} />
          {pattern === "/customers/:id" ? null : <Route path="/customers/:id" element={<LocationProbe />} />}
        </Routes>
      </MemoryRouter>
    </MockedProvider>,
  );
}
