// The end-to-end scenarios. Each compares what the page shows with what the API answers.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's WCAG 2 A/AA checks on the page as it is; serious and critical findings fail. */
async function accessibility(page, what) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`);
  });
  if (result.length) throw new Error(`accessibility problems on ${what}:\n${result.join("\n")}`);
}

// The same formats as src/lib/format.ts (Node and Chromium share ICU data for en-US).
const usd0 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const usd2 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const one = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const DASH = "—";
const fmt = {
  usd: (v) => (v == null ? DASH : Math.abs(v) < 100 && v !== 0 ? usd2.format(v) : usd0.format(v)),
  score: (v) => (v == null ? DASH : one.format(v)),
  int: (v) => (v == null ? DASH : int.format(v)),
  pct: (v, digits = 1, signed = false) => {
    if (v == null) return DASH;
    const t = `${(v * 100).toFixed(digits)}%`;
    return signed && v > 0 ? `+${t}` : t.replace("-", "−");
  },
};
const HEALTH = { HEALTHY: "Healthy", AT_RISK: "At risk", CRITICAL: "Critical" };
const CHURN = { LOW: "Low churn risk", MEDIUM: "Medium churn risk", HIGH: "High churn risk" };

/** A fresh browser context (its own sessionStorage) on `path`, signed in with `role`'s key (null: no key). */
async function openPage(ctx, path, { viewport = { width: 1360, height: 900 }, role = "viewer" } = {}) {
  const context = await ctx.browser.newContext({ viewport, deviceScaleFactor: 1 });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const apiKey = role ? ctx.keys[role] : null;
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // graphql-transport-ws messages the page sends and receives, parsed (live update scenarios wait on them).
  const wsFrames = [];
  page.on("websocket", (ws) => {
    const keep = (dir) => (f) => {
      try {
        wsFrames.push({ dir, url: ws.url(), ...JSON.parse(String(f.payload)) });
      } catch {
        /* not JSON */
      }
    };
    ws.on("framesent", keep("sent"));
    ws.on("framereceived", keep("received"));
  });
  if (apiKey) await page.addInitScript((k) => window.sessionStorage.setItem("c360.apiKey", k), apiKey);
  await page.goto(`${ctx.appUrl}/#${path}`);
  return {
    page,
    errors,
    wsFrames,
    async close() {
      await context.close();
      if (errors.length) throw new Error(`uncaught errors in the page: ${errors.join("; ")}`);
    },
  };
}

const text = async (page, selector) => (await page.locator(selector).first().innerText()).replace(/\s+/g, " ").trim();

const PROFILE_QUERY = `query($id: ID!) { customer(id: $id) { id name region country owner asOf { date }
  mrrUsd arrUsd annualRevenueUsd yoyGrowth winRate clvUsd activeServices healthScore healthCategory churnRisk churnLevel
  healthBreakdown { score components { name facts { name } } } churnBreakdown { score components { name facts { name } } }
  metricHistory { asOf } timeline(first: 25) { totalCount } } }`;

async function dashboard(ctx) {
  return (await ctx.api(`{ dashboardSummary(top: 10) { customers totalMrrUsd totalArrUsd averageHealth arrAtRiskUsd
    byHealthCategory { label count } byChurnLevel { label count } topAtRisk { id name arrUsd } } }`)).dashboardSummary;
}

/** A typo of the customer's name: its first word with one inner letter dropped. */
function typo(name) {
  const word = name.split(/\s+/)[0];
  const i = Math.floor(word.length / 2);
  return word.slice(0, i) + word.slice(i + 1);
}

export const scenarios = [
  {
    name: "executive dashboard shows the API's summary, distributions and top accounts at risk",
    async run(ctx) {
      const s = await dashboard(ctx);
      const { page, close } = await openPage(ctx, "/");
      await page.getByRole("heading", { name: "Executive dashboard" }).waitFor();
      ctx.assertEqual(await text(page, '[data-testid="summary-customers-value"]'), fmt.int(s.customers), "customers tile");
      ctx.assertEqual(await text(page, '[data-testid="summary-health-value"]'), fmt.score(s.averageHealth), "average health tile");
      ctx.assert((await text(page, '[data-testid="summary-arr"]')).includes(fmt.usd(s.totalArrUsd)), "total ARR in full");
      ctx.assert((await text(page, '[data-testid="summary-mrr"]')).includes(fmt.usd(s.totalMrrUsd)), "total MRR in full");
      ctx.assert((await text(page, '[data-testid="summary-arr-at-risk"]')).includes(fmt.usd(s.arrAtRiskUsd)), "ARR at risk in full");
      for (const b of s.byHealthCategory.filter((b) => b.label !== "none")) {
        const label = { Healthy: "Healthy", "At-Risk": "At risk", Critical: "Critical" }[b.label] ?? b.label;
        const shown = await text(page, `[data-testid="health-distribution"] li[data-label="${label}"]`);
        ctx.assert(shown.includes(`${label}: ${fmt.int(b.count)}`), `health bucket ${label}: ${shown}`);
      }
      for (const b of s.byChurnLevel.filter((b) => b.label !== "none")) {
        const label = { HIGH: "High", MEDIUM: "Medium", LOW: "Low" }[b.label] ?? b.label;
        const shown = await text(page, `[data-testid="churn-distribution"] li[data-label="${label}"]`);
        ctx.assert(shown.includes(`${label}: ${fmt.int(b.count)}`), `churn bucket ${label}: ${shown}`);
      }
      const rows = page.locator('[data-testid="top-at-risk"] tbody tr');
      ctx.assertEqual(await rows.count(), s.topAtRisk.length, "top-at-risk rows");
      ctx.assertEqual((await rows.first().locator("th").innerText()).trim(), s.topAtRisk[0].name, "largest account at risk");
      await page.locator('[data-testid="health-distribution"] svg.recharts-surface').first().waitFor();
      await page.locator('[data-testid="churn-distribution"] svg.recharts-surface').first().waitFor();
      await page.screenshot({ path: join(ctx.out, "dashboard.png"), fullPage: true });
      await accessibility(page, "the dashboard");
      // A top-at-risk row links to its profile.
      await rows.first().locator("a").click();
      await page.getByRole("heading", { level: 1, name: s.topAtRisk[0].name }).waitFor();
      await close();
    },
  },
  {
    name: "search: two keystrokes give hits with region and health; a typo finds the customer; keyboard opens it",
    async run(ctx) {
      const s = await dashboard(ctx);
      const target = s.topAtRisk[0];
      const { page, close } = await openPage(ctx, "/");
      const box = page.getByRole("combobox", { name: "Search customers" });
      await page.getByRole("heading", { name: "Executive dashboard" }).waitFor();
      await page.keyboard.press("/");
      ctx.assert(await box.evaluate((el) => el === document.activeElement), "'/' focuses the search box");
      await page.keyboard.type(target.name.slice(0, 2));
      const options = page.getByRole("option");
      await options.first().waitFor();
      const twoKey = (await ctx.api(`query($q: String!) { searchCustomers(query: $q, limit: 8) { customer { id name region } } }`, { q: target.name.slice(0, 2) })).searchCustomers;
      await ctx.waitFor(async () => (await options.count()) === twoKey.length, { what: "two-keystroke hits" });
      ctx.assert((await options.first().innerText()).includes(twoKey[0].customer.name), "first two-keystroke hit as the API ranks it");
      await box.fill("");
      const q = typo(target.name);
      await box.pressSequentially(q, { delay: 30 });
      const hits = (await ctx.api(`query($q: String!) { searchCustomers(query: $q, limit: 8) { customer { id name region healthCategory } } }`, { q })).searchCustomers;
      const index = hits.findIndex((x) => x.customer.id === target.id);
      ctx.assert(index >= 0, `the API finds ${target.name} for the typo "${q}"`);
      await ctx.waitFor(async () => (await options.count()) === hits.length && (await options.first().innerText()).includes(hits[0].customer.name), { what: `hits for "${q}"` });
      const first = await options.first().innerText();
      ctx.assert(first.includes(hits[0].customer.region ?? "no region"), "hit shows the region");
      ctx.assert(first.includes(HEALTH[hits[0].customer.healthCategory] ?? "No health score"), "hit shows the health in words");
      ctx.assert((await options.first().locator("mark").count()) > 0, "the matched part is highlighted");
      await page.screenshot({ path: join(ctx.out, "search.png") });
      for (let i = 0; i < index; i++) await box.press("ArrowDown");
      ctx.assertEqual(await options.nth(index).getAttribute("aria-selected"), "true", "arrow keys move the selection");
      await box.press("Enter");
      await page.getByRole("heading", { level: 1, name: target.name }).waitFor();
      await close();
    },
  },
  {
    name: "profile: every metric card, breakdown and the trend match the API",
    async run(ctx) {
      const s = await dashboard(ctx);
      const id = s.topAtRisk[0].id;
      const c = (await ctx.api(PROFILE_QUERY, { id })).customer;
      const { page, close } = await openPage(ctx, `/customers/${id}`);
      await page.getByRole("heading", { level: 1, name: c.name }).waitFor();
      const expect = {
        health: fmt.score(c.healthScore),
        churn: fmt.score(c.churnRisk),
        clv: fmt.usd(c.clvUsd),
        mrr: fmt.usd(c.mrrUsd),
        arr: fmt.usd(c.arrUsd),
        "annual-revenue": fmt.usd(c.annualRevenueUsd),
        yoy: fmt.pct(c.yoyGrowth, 1, true),
        "win-rate": fmt.pct(c.winRate, 0),
        services: fmt.int(c.activeServices),
      };
      for (const [key, value] of Object.entries(expect)) {
        ctx.assertEqual(await text(page, `[data-testid="metric-${key}-value"]`), value, `metric card ${key}`);
        ctx.assert((await text(page, `[data-testid="metric-${key}"]`)).includes("as of"), `metric card ${key} says as of when`);
      }
      ctx.assert((await text(page, '[data-testid="metric-health"]')).includes(HEALTH[c.healthCategory]), "health category in words");
      ctx.assert((await text(page, '[data-testid="metric-churn"]')).includes(CHURN[c.churnLevel]), "churn level in words");
      ctx.assert((await text(page, ".profile-head")).includes(c.owner ?? "unassigned"), "owner in the header");
      for (const [key, b] of [["health-breakdown", c.healthBreakdown], ["churn-breakdown", c.churnBreakdown]]) {
        ctx.assert((await text(page, `[data-testid="${key}"] .breakdown-score`)) === fmt.score(b.score), `${key} total`);
        for (const comp of b.components) {
          const facts = page.locator(`[data-testid="${key}-${comp.name}"] .facts li`);
          ctx.assertEqual(await facts.count(), comp.facts.length, `${key} ${comp.name} facts`);
        }
      }
      await page.locator('[data-testid="trend-chart"] svg.recharts-surface').first().waitFor();
      await page.locator('[data-testid="trend-chart"] summary').click();
      ctx.assertEqual(await page.locator('[data-testid="trend-chart"] details tbody tr').count(), c.metricHistory.length, "trend points");
      await page.locator('[data-testid="trend-chart"] summary').click();
      await ctx.waitFor(async () => (await text(page, '[data-testid="timeline-count"]')).includes(`of ${c.timeline.totalCount} events`), { what: "timeline count" });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(ctx.out, "profile.png"), fullPage: true });
      await page.screenshot({ path: join(ctx.out, "profile-top.png") });
      await accessibility(page, "the profile");
      await close();
    },
  },
  {
    name: "timeline: type and date filters and paging agree with the API",
    async run(ctx) {
      const s = await dashboard(ctx);
      const id = s.topAtRisk[0].id;
      const q = `query($id: ID!, $types: [TimelineEventType!], $since: Date) { customer(id: $id) { timeline(types: $types, since: $since, first: 25) { totalCount events { id } } } }`;
      const billing = (await ctx.api(q, { id, types: ["BILLING"] })).customer.timeline;
      const { page, close } = await openPage(ctx, `/customers/${id}`);
      const count = page.locator('[data-testid="timeline-count"]');
      await count.waitFor();
      await page.getByRole("button", { name: "Billing", exact: true }).click();
      await ctx.waitFor(async () => (await count.innerText()).includes(`of ${billing.totalCount} events`), { what: "billing total" });
      const types = await page.locator('[data-testid="timeline"] li.event').evaluateAll((els) => els.map((e) => e.getAttribute("data-type")));
      ctx.assert(types.length > 0 && types.every((t) => t === "BILLING"), `only billing events (${types.join(",")})`);
      ctx.assert(/\$[\d,]+/.test(await text(page, '[data-testid="timeline"] .event-amount')), "amounts in USD");
      if (billing.totalCount > 25) {
        await page.getByRole("button", { name: /Load more/ }).click();
        await ctx.waitFor(async () => (await page.locator('[data-testid="timeline"] li.event').count()) > 25, { what: "second page" });
      }
      const since = "2026-09-01";
      const recent = (await ctx.api(q, { id, types: ["BILLING"], since })).customer.timeline;
      await page.getByLabel("From").fill(since);
      await ctx.waitFor(async () => (await count.innerText()).includes(`of ${recent.totalCount} events`), { what: "date-filtered total" });
      await page.locator('[data-testid="timeline"]').screenshot({ path: join(ctx.out, "timeline-filtered.png") });
      await close();
    },
  },
  {
    name: "customers list: filter and sort agree with the API",
    async run(ctx) {
      const critical = (await ctx.api(`{ customers(filter: { healthCategory: CRITICAL }, sort: { field: HEALTH, descending: false }, first: 25) { totalCount edges { node { name } } } }`)).customers;
      const { page, close } = await openPage(ctx, "/customers");
      await page.locator('[data-testid="customer-table"]').waitFor();
      await page.getByTestId("filter-health").selectOption("CRITICAL");
      await page.getByTestId("sort-field").selectOption("HEALTH");
      await page.getByRole("button", { name: /Descending order/ }).click();
      await ctx.waitFor(async () => (await text(page, ".page-head")).includes(`${fmt.int(critical.totalCount)} customers match`), { what: "critical count" });
      await ctx.waitFor(async () => (await text(page, '[data-testid="customer-table"] tbody tr th')) === critical.edges[0].node.name, { what: "lowest health first" });
      await page.screenshot({ path: join(ctx.out, "customers.png"), fullPage: false });
      await accessibility(page, "the customers list");
      await close();
    },
  },
  {
    name: "error, empty and not-found states",
    async run(ctx) {
      const missing = await openPage(ctx, "/customers/001NOSUCHACCOUNT");
      await missing.page.getByText("No such customer").waitFor();
      await missing.page.screenshot({ path: join(ctx.out, "not-found.png") });
      await missing.close();
      const down = await openPage(ctx, "/");
      await down.page.route("**/graphql", (route) => route.abort("connectionrefused"));
      await down.page.reload();
      await down.page.getByRole("alert").getByText("Cannot reach the Customer 360 server").waitFor();
      await down.page.screenshot({ path: join(ctx.out, "error-state.png") });
      await down.page.unroute("**/graphql");
      await down.page.getByRole("button", { name: "Retry" }).click();
      await down.page.locator('[data-testid="summary-customers-value"]').waitFor();
      await down.close();
    },
  },
  {
    name: "API key: asked for when the server wants one, kept for the session, sent as X-API-Key",
    async run(ctx) {
      const { page, close } = await openPage(ctx, "/", { role: null });
      const key = ctx.keys.viewer ?? "e2e-test-key-1234";
      if (ctx.capabilities.has("@apiKeys")) {
        const alert = page.getByRole("alert");
        await alert.getByText("API key needed").waitFor();
        await page.screenshot({ path: join(ctx.out, "api-key-needed.png") });
        await alert.getByRole("button", { name: "Enter API key" }).click();
      } else {
        await page.getByRole("heading", { name: "Executive dashboard" }).waitFor();
        await page.getByRole("button", { name: "Enter API key" }).click();
      }
      await page.getByRole("textbox", { name: "Key" }).fill(key);
      await page.screenshot({ path: join(ctx.out, "api-key.png") });
      const sent = page.waitForRequest((r) => r.url().endsWith("/graphql") && r.headers()["x-api-key"] === key);
      await page.getByRole("button", { name: "Save key" }).click();
      await sent;
      await page.locator('[data-testid="summary-customers-value"]').waitFor();
      await page.reload();
      await page.getByRole("button", { name: /API key set/ }).waitFor();
      await page.locator('[data-testid="summary-customers-value"]').waitFor();
      await close();
    },
  },
  {
    name: "dashboard: open alerts by severity and open recommendations by priority match the API",
    needs: ["acknowledgeAlert"],
    async run(ctx) {
      const s = (await ctx.api(`{ dashboardSummary { openAlertsBySeverity { label count } openRecommendationsByPriority { label count } } }`)).dashboardSummary;
      const { page, close } = await openPage(ctx, "/");
      for (const [testId, counts] of [["alerts-by-severity", s.openAlertsBySeverity], ["recs-by-priority", s.openRecommendationsByPriority]]) {
        for (const b of counts) {
          const label = { HIGH: "High", MEDIUM: "Medium", LOW: "Low" }[b.label] ?? b.label;
          ctx.assert((await text(page, `[data-testid="${testId}"] li[data-label="${label}"]`)).includes(`${label}: ${fmt.int(b.count)}`), `${testId} ${label}`);
        }
      }
      await page.locator('[data-testid="alerts-by-severity"] svg.recharts-surface').first().waitFor();
      await page.screenshot({ path: join(ctx.out, "dashboard.png"), fullPage: true });
      await close();
    },
  },
  {
    name: "recommendation: Execute with a note shows it executed at once, and it stays executed after a reload",
    needs: ["executeAction"],
    async run(ctx) {
      const target = await customerWithOpen(ctx, "recommendations", 2);
      const rec = target.recommendations.filter((r) => r.status === "OPEN")[0];
      const { page, close } = await openPage(ctx, `/customers/${target.id}`, { role: "operator" });
      const item = page.getByTestId(`rec-${rec.id}`);
      await item.waitFor();
      ctx.assertEqual(await item.getByTestId("rec-status").innerText(), "Open", "status before");
      await page.locator('[data-testid="recommendations"]').screenshot({ path: join(ctx.out, "recommendations.png") });
      await item.getByRole("button", { name: `Execute: ${rec.title}` }).click();
      const dialog = page.getByRole("dialog", { name: "Execute recommendation" });
      await dialog.getByRole("textbox", { name: /Note/ }).fill("Called the CFO, meeting booked (e2e)");
      await page.screenshot({ path: join(ctx.out, "execute-dialog.png") });
      let release;
      const held = new Promise((r) => (release = r));
      await page.route("**/graphql", async (route) => {
        if ((route.request().postData() ?? "").includes("ExecuteAction")) await held;
        await route.continue();
      });
      await dialog.getByRole("button", { name: "Execute" }).click();
      // Optimistic: marked executed while the server has not answered yet.
      await ctx.waitFor(async () => (await item.getAttribute("data-status")) === "EXECUTED", { timeout: 3000, what: "optimistic EXECUTED" });
      release();
      await page.getByText("Executed — recorded", { exact: false }).waitFor();
      await page.unroute("**/graphql");
      await page.reload();
      await page.getByTestId(`rec-${rec.id}`).waitFor({ state: "attached" });
      ctx.assertEqual(await page.getByTestId(`rec-${rec.id}`).getAttribute("data-status"), "EXECUTED", "status after reload");
      const after = (await ctx.api(`query($id: ID!) { recommendation(id: $id) { status executedAction { note } } }`, { id: rec.id })).recommendation;
      ctx.assertEqual(after.status, "EXECUTED", "API status");
      ctx.assertEqual(after.executedAction?.note, "Called the CFO, meeting booked (e2e)", "API note");
      await close();
    },
  },
  {
    name: "recommendation: Dismiss needs a reason",
    needs: ["dismissRecommendation"],
    async run(ctx) {
      const target = await customerWithOpen(ctx, "recommendations", 1);
      const rec = target.recommendations.filter((r) => r.status === "OPEN").at(-1);
      const { page, close } = await openPage(ctx, `/customers/${target.id}`, { role: "operator" });
      const item = page.getByTestId(`rec-${rec.id}`);
      await item.getByRole("button", { name: `Dismiss: ${rec.title}` }).click();
      const dialog = page.getByRole("dialog", { name: "Dismiss recommendation" });
      await dialog.getByRole("button", { name: "Dismiss" }).click();
      await dialog.getByText("Reason is required.").waitFor();
      await dialog.getByRole("textbox", { name: /Reason/ }).fill("Customer already in a renewal negotiation (e2e)");
      await dialog.getByRole("button", { name: "Dismiss" }).click();
      await page.getByText("Dismissed.").waitFor();
      ctx.assertEqual(await item.getAttribute("data-status"), "DISMISSED", "dismissed in the page");
      const after = (await ctx.api(`query($id: ID!) { recommendation(id: $id) { status statusReason } }`, { id: rec.id })).recommendation;
      ctx.assertEqual(after.status, "DISMISSED", "API status");
      await close();
    },
  },
  {
    name: "alert: Acknowledge with a note and Snooze until a date",
    needs: ["acknowledgeAlert", "snoozeAlert"],
    async run(ctx) {
      const target = await customerWithOpen(ctx, "alerts", 2);
      const [first, second] = target.alerts.filter((a) => a.status === "OPEN");
      const { page, close } = await openPage(ctx, `/customers/${target.id}`, { role: "operator" });
      const a1 = page.getByTestId(`alert-${first.id}`);
      await a1.getByRole("button", { name: `Acknowledge: ${first.name}` }).click();
      const ack = page.getByRole("dialog", { name: "Acknowledge alert" });
      await ack.getByRole("textbox", { name: /Note/ }).fill("Looking into it (e2e)");
      await ack.getByRole("button", { name: "Acknowledge" }).click();
      await a1.getByText("Acknowledged.").waitFor();
      ctx.assertEqual(await a1.getAttribute("data-status"), "ACKNOWLEDGED", "acknowledged in the page");
      const a2 = page.getByTestId(`alert-${second.id}`);
      await a2.getByRole("button", { name: `Snooze: ${second.name}` }).click();
      const snooze = page.getByRole("dialog", { name: "Snooze alert" });
      const until = await snooze.getByLabel(/Snooze until/).inputValue();
      ctx.assert(/^\d{4}-\d{2}-\d{2}$/.test(until), "a default snooze date");
      await snooze.getByRole("button", { name: "Snooze" }).click();
      await a2.getByText("Snoozed until", { exact: false }).first().waitFor();
      await page.locator('[data-testid="alerts"]').screenshot({ path: join(ctx.out, "alerts.png") });
      const q = `query($id: ID!) { alert(id: $id) { status snoozedUntil statusReason } }`;
      ctx.assertEqual((await ctx.api(q, { id: first.id })).alert.status, "ACKNOWLEDGED", "API: acknowledged");
      const s2 = (await ctx.api(q, { id: second.id })).alert;
      ctx.assertEqual(s2.status, "SNOOZED", "API: snoozed");
      ctx.assertEqual(s2.snoozedUntil, until, "API: snoozed until");
      await page.reload();
      await page.getByTestId(`alert-${first.id}`).waitFor({ state: "attached" });
      ctx.assertEqual(await page.getByTestId(`alert-${first.id}`).getAttribute("data-status"), "ACKNOWLEDGED", "after reload");
      await close();
    },
  },
  {
    name: "a viewer key: a clear message that the role is missing, and the change is rolled back",
    needs: ["executeAction", "@apiKeys"],
    async run(ctx) {
      const target = await customerWithOpen(ctx, "recommendations", 1);
      const rec = target.recommendations.filter((r) => r.status === "OPEN")[0];
      const { page, close } = await openPage(ctx, `/customers/${target.id}`, { role: "viewer" });
      const item = page.getByTestId(`rec-${rec.id}`);
      await item.getByRole("button", { name: `Execute: ${rec.title}` }).click();
      await page.getByRole("dialog", { name: "Execute recommendation" }).getByRole("button", { name: "Execute" }).click();
      const alert = item.getByRole("alert");
      await alert.getByText("Your API key does not allow this").waitFor();
      ctx.assert((await alert.innerText()).includes("operator"), "names the role needed");
      ctx.assertEqual(await item.getAttribute("data-status"), "OPEN", "rolled back to open");
      await item.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(ctx.out, "forbidden.png") });
      ctx.assertEqual((await ctx.api(`query($id: ID!) { recommendation(id: $id) { status } }`, { id: rec.id })).recommendation.status, "OPEN", "API unchanged");
      await close();
    },
  },
  {
    name: "a failed request rolls the optimistic change back and says nothing was changed",
    needs: ["acknowledgeAlert"],
    async run(ctx) {
      const target = await customerWithOpen(ctx, "alerts", 1);
      const alert = target.alerts.filter((a) => a.status === "OPEN")[0];
      const { page, close } = await openPage(ctx, `/customers/${target.id}`, { role: "operator" });
      const item = page.getByTestId(`alert-${alert.id}`);
      await item.waitFor();
      await page.route("**/graphql", (route) => ((route.request().postData() ?? "").includes("AcknowledgeAlert") ? route.abort("connectionreset") : route.continue()));
      await item.getByRole("button", { name: `Acknowledge: ${alert.name}` }).click();
      await page.getByRole("dialog", { name: "Acknowledge alert" }).getByRole("button", { name: "Acknowledge" }).click();
      await item.getByRole("alert").getByText("Nothing was changed", { exact: false }).waitFor();
      ctx.assertEqual(await item.getAttribute("data-status"), "OPEN", "rolled back");
      await close();
    },
  },
  {
    name: "master account: roll-ups, members and link evidence; reached from the profile",
    needs: ["masterAccount"],
    async run(ctx) {
      const s = await dashboard(ctx);
      const withLinks = [];
      for (const c of s.topAtRisk) {
        const d = (await ctx.api(`query($id: ID!) { customer(id: $id) { id masterAccount { id size members { id } links { evidence } rollup { totalArrUsd } } } }`, { id: c.id })).customer;
        if (d.masterAccount && d.masterAccount.size > 1) withLinks.push(d);
      }
      ctx.assert(withLinks.length > 0, "a top account at risk with linked accounts");
      const c = withLinks[0];
      const m = c.masterAccount;
      const { page, close } = await openPage(ctx, `/customers/${c.id}`);
      const linked = page.getByTestId("linked-accounts");
      await linked.waitFor();
      await linked.locator("summary").first().click();
      ctx.assert((await linked.innerText()).includes("Evidence"), "link evidence on expand");
      await linked.getByRole("link", { name: m.id }).click();
      await page.getByTestId("members").waitFor();
      ctx.assertEqual(await page.locator('[data-testid="members"] tbody tr').count(), m.members.length, "members");
      ctx.assert((await text(page, '[data-testid="rollup-arr"]')).includes(fmt.usd(m.rollup.totalArrUsd)), "total ARR roll-up");
      ctx.assertEqual(await page.locator(".link-list > li").count(), m.links.length, "links with evidence");
      await page.screenshot({ path: join(ctx.out, "master-account.png"), fullPage: true });
      await accessibility(page, "the company view");
      await close();
    },
  },
  {
    name: "link review queue: admins accept a link with a reason; other roles are told they need admin",
    needs: ["linkReviewQueue", "linkAccounts"],
    async run(ctx) {
      const q = (await ctx.api(`{ linkReviewQueue { totalCount items { accountIdA accountIdB accountNameA } } }`)).linkReviewQueue;
      if (ctx.capabilities.has("@apiKeys")) {
        const viewer = await openPage(ctx, "/review", { role: "viewer" });
        await viewer.page.getByRole("alert").getByText("Your API key does not allow this").waitFor();
        await viewer.close();
      }
      const { page, close } = await openPage(ctx, "/review", { role: "admin" });
      await page.getByRole("heading", { name: "Link review queue" }).waitFor();
      if (q.totalCount === 0) {
        await page.getByText("Nothing to review").waitFor();
      } else {
        const items = page.getByTestId("review-item");
        await items.first().waitFor();
        ctx.assertEqual(await items.count(), q.items.length, "queue items");
        await page.screenshot({ path: join(ctx.out, "review-queue.png"), fullPage: true });
        await accessibility(page, "the review queue");
        const pairItem = items.filter({ has: page.getByRole("button", { name: "Accept link" }) }).first();
        await pairItem.getByRole("button", { name: "Accept link" }).click();
        const dialog = page.getByRole("dialog", { name: /Accept link/ });
        await dialog.getByRole("textbox", { name: /Reason/ }).fill("Same VAT number (e2e)");
        await dialog.getByRole("button", { name: "Accept link" }).click();
        await page.getByTestId("review-decision").first().waitFor();
        const decisions = (await ctx.api(`{ linkDecisions { decision reason } }`)).linkDecisions;
        ctx.assert(decisions.some((d) => d.decision === "MUST_LINK" && d.reason === "Same VAT number (e2e)"), "decision recorded");
      }
      await close();
    },
  },
  {
    name: "live: a change by another client shows on the open profile without a reload",
    needs: ["acknowledgeAlert", "customerUpdated", "@apiKeys"],
    async run(ctx) {
      const target = await customerWithOpen(ctx, "alerts", 1);
      const alert = target.alerts.filter((a) => a.status === "OPEN")[0];
      const { page, wsFrames, close } = await openPage(ctx, `/customers/${target.id}`, { role: "viewer" });
      const item = page.getByTestId(`alert-${alert.id}`);
      await item.waitFor();
      ctx.assertEqual(await item.getAttribute("data-status"), "OPEN", "open before");
      // The page's socket: connection_init with the session's key, acknowledged, then the profile's subscription.
      await ctx.waitFor(() => wsFrames.some((f) => f.dir === "received" && f.type === "connection_ack"), { timeout: 10000, what: "connection_ack on the page's WebSocket" });
      const init = wsFrames.find((f) => f.dir === "sent" && f.type === "connection_init");
      ctx.assertEqual(init?.payload?.["X-API-Key"], ctx.keys.viewer, "connection_init carries the session's API key");
      ctx.assert(new URL(init.url).pathname === "/graphql", `the socket is on /graphql (${init.url})`);
      const sub = await ctx.waitFor(() => wsFrames.find((f) => f.dir === "sent" && f.type === "subscribe" && f.payload?.variables?.id === target.id), { timeout: 10000, what: "the customerUpdated subscription" });
      ctx.assert(sub.payload.query.includes("customerUpdated"), "subscribes to customerUpdated");
      await page.evaluate(() => (window.__e2eNoReload = true));
      await page.waitForTimeout(500); // the server registers the subscription after reading the frame
      // A second client (this script, with the operator's key) acknowledges the alert over plain HTTP.
      const r = await fetch(`${ctx.apiUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", "X-API-Key": ctx.keys.operator },
        body: JSON.stringify({
          query: `mutation($id: ID!, $note: String) { acknowledgeAlert(id: $id, note: $note) { __typename ... on AlertUpdated { alert { id status } } ... on MutationError { message } } }`,
          variables: { id: alert.id, note: "From another desk (e2e live)" },
        }),
      }).then((res) => res.json());
      ctx.assertEqual(r.data?.acknowledgeAlert?.__typename, "AlertUpdated", `the mutation went through (${JSON.stringify(r)})`);
      const started = Date.now();
      await ctx.waitFor(async () => (await item.getAttribute("data-status")) === "ACKNOWLEDGED", { timeout: 10000, what: "the open page showing the alert acknowledged" });
      ctx.log(`  live update shown ${Date.now() - started} ms after the mutation answered`);
      await item.getByText("Acknowledged", { exact: false }).first().waitFor();
      ctx.assert(wsFrames.some((f) => f.dir === "received" && f.type === "next" && f.id === sub.id), "the event came over the WebSocket");
      ctx.assert(await page.evaluate(() => window.__e2eNoReload === true), "no reload");
      await page.locator('[data-testid="alerts"]').screenshot({ path: join(ctx.out, "live-update.png") });
      await close();
    },
  },
  {
    name: "live: the dashboard's open alert count follows alert changes",
    needs: ["acknowledgeAlert", "alertsChanged", "@apiKeys"],
    async run(ctx) {
      const target = await customerWithOpen(ctx, "alerts", 1);
      const alert = target.alerts.filter((a) => a.status === "OPEN")[0];
      const { page, wsFrames, close } = await openPage(ctx, "/", { role: "viewer" });
      const count = page.locator('section[aria-labelledby="open-alerts"] .panel-head .muted');
      await count.waitFor();
      const before = Number((await count.innerText()).replace(/[^0-9]/g, ""));
      await ctx.waitFor(() => wsFrames.some((f) => f.dir === "sent" && f.type === "subscribe" && f.payload?.query?.includes("alertsChanged")), { timeout: 10000, what: "the alertsChanged subscription" });
      await ctx.waitFor(() => wsFrames.some((f) => f.dir === "received" && f.type === "connection_ack"), { timeout: 10000, what: "connection_ack" });
      await page.evaluate(() => (window.__e2eNoReload = true));
      await page.waitForTimeout(500);
      await gqlAs(ctx, "operator", `mutation($id: ID!) { acknowledgeAlert(id: $id) { __typename } }`, { id: alert.id });
      await ctx.waitFor(async () => Number((await count.innerText()).replace(/[^0-9]/g, "")) === before - 1, { timeout: 10000, what: `the open alert count going from ${before} to ${before - 1}` });
      const api = (await ctx.api(`{ dashboardSummary { openAlertsBySeverity { count } } }`)).dashboardSummary.openAlertsBySeverity.reduce((n, b) => n + b.count, 0);
      ctx.assertEqual(before - 1, api, "the count the API gives");
      ctx.assert(await page.evaluate(() => window.__e2eNoReload === true), "no reload");
      await close();
    },
  },
  {
    name: "live: no WebSocket without an API key",
    needs: ["customerUpdated"],
    async run(ctx) {
      const target = (await dashboard(ctx)).topAtRisk[0];
      const { page, wsFrames, close } = await openPage(ctx, `/customers/${target.id}`, { role: null });
      await page.getByRole("main").waitFor();
      await page.waitForTimeout(1500);
      ctx.assertEqual(wsFrames.length, 0, "WebSocket frames without a key");
      await close();
    },
  },
];

/** GraphQL over HTTP as another client with `role`'s key. */
async function gqlAs(ctx, role, query, variables) {
  const res = await fetch(`${ctx.apiUrl}/graphql`, { method: "POST", headers: { "content-type": "application/json", "X-API-Key": ctx.keys[role] }, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A top account at risk with at least `n` OPEN alerts or recommendations, not yet touched by another scenario. */
const used = new Set();
async function customerWithOpen(ctx, kind, n) {
  const s = await dashboard(ctx);
  const fields = kind === "alerts" ? "alerts { id name status }" : "recommendations { id title status }";
  for (const c of s.topAtRisk) {
    if (used.has(`${kind}:${c.id}`)) continue;
    const d = (await ctx.api(`query($id: ID!) { customer(id: $id) { id ${fields} } }`, { id: c.id })).customer;
    if (d[kind].filter((x) => x.status === "OPEN").length >= n) {
      used.add(`${kind}:${c.id}`);
      return d;
    }
  }
  throw new Error(`no top account at risk with ${n} open ${kind}`);
}
