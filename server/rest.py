"""REST compatibility routes: each one runs a fixed GraphQL document on the same schema.

So REST and GraphQL cannot disagree: the same resolvers, overlays, roles
and audit trail serve both, and the JSON a route returns is the ``data`` of
its document (documented in docs/api.md).  GET routes go through the same
response cache as /graphql.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth import Authenticator, Unauthenticated
from server.cache import ResponseCache, cache_key
from server.context import Services
from server.limits import TooLarge
from server.observability import request_id_var
from server.view import new_context, timed_out, unauthorized

CUSTOMER_SUMMARY = """
fragment CustomerSummary on Customer {
  id name region country industry owner ownerId parentId
  asOf { date runId }
  mrrUsd arrUsd annualRevenueUsd yoyGrowth winRate clvUsd activeServices
  healthScore healthCategory churnRisk churnLevel
}
"""
EXPLANATION = "explanation { text conditions { field op threshold actual met } }"
ALERT_FIELDS = f"""
fragment AlertFields on Alert {{
  id type name category severity status firstSeen lastSeen resolvedOn snoozedUntil message
  {EXPLANATION} impactUsd ruleVersion statusChangedAt statusChangedBy statusReason customerId
  asOf {{ date runId }}
}}
"""
RECOMMENDATION_FIELDS = f"""
fragment RecommendationFields on Recommendation {{
  id ruleId title category priority status action expectedOutcome message
  {EXPLANATION} impactUsd ruleVersion firstSeen lastSeen executedOn statusChangedAt statusChangedBy statusReason customerId
  statusHistory {{ status at by reason until source }}
  executedAction {{ id executedAt executedBy note writeBack {{ status attempts lastError salesforceTaskId sentAt }} }}
  outcome {{ healthScoreAtLastSeen churnRiskAtLastSeen healthScoreChange30d churnRiskChange30d healthScoreChange90d churnRiskChange90d }}
  asOf {{ date runId }}
}}
"""

DOCUMENTS = {
    "search": CUSTOMER_SUMMARY + """
query RestSearch($q: String!, $limit: Int!) { searchCustomers(query: $q, limit: $limit) { score customer { ...CustomerSummary } } }""",
    "customers": CUSTOMER_SUMMARY + """
query RestCustomers($first: Int!, $after: String) {
  customers(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ...CustomerSummary } } }
}""",
    "customer": CUSTOMER_SUMMARY + """
query RestCustomer($id: ID!) {
  customer(id: $id) {
    ...CustomerSummary
    healthBreakdown { score components { name score weight effectiveWeight facts { name label value } } }
    churnBreakdown { score components { name score weight effectiveWeight facts { name label value } } }
    metricHistory { asOf runId mrrUsd arrUsd healthScore healthCategory churnRisk churnLevel clvUsd activeServices }
    masterAccount { id size needsReview }
  }
}""",
    "alerts": ALERT_FIELDS + """
query RestCustomerAlerts($id: ID!) { customer(id: $id) { id alerts { ...AlertFields } } }""",
    "recommendations": RECOMMENDATION_FIELDS + """
query RestCustomerRecommendations($id: ID!) { customer(id: $id) { id recommendations { ...RecommendationFields } } }""",
    "timeline": """
query RestCustomerTimeline($id: ID!, $first: Int!, $after: String) {
  customer(id: $id) { id timeline(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } events { id date type title status amountUsd sourceTable sourceId } } }
}""",
    "dashboard": """
query RestDashboard($top: Int!) {
  dashboardSummary(top: $top) {
    asOf { date runId } customers totalMrrUsd totalArrUsd averageHealth arrAtRiskUsd
    byHealthCategory { label count } byChurnLevel { label count }
    topAtRisk { id name arrUsd churnRisk churnLevel }
    alertsAvailable openAlertsBySeverity { label count }
    recommendationsAvailable openRecommendationsByPriority { label count }
  }
}""",
    "execute": RECOMMENDATION_FIELDS + """
mutation RestExecuteAction($id: ID!, $key: String!, $note: String) {
  executeAction(recommendationId: $id, idempotencyKey: $key, note: $note) {
    __typename
    ... on ActionExecuted { action { id recommendationId customerId note executedAt executedBy
                                     writeBack { status attempts lastError salesforceTaskId sentAt } }
                            recommendation { ...RecommendationFields } }
    ... on AlreadyExecuted { message recommendationId action { id executedAt executedBy } }
    ... on MutationError { message }
    ... on NotFound { what id }
    ... on NotAllowed { currentStatus }
    ... on InvalidInput { field }
    ... on IdempotencyKeyReused { key }
  }
}""",
}

EXECUTE_STATUS = {"ActionExecuted": 200, "AlreadyExecuted": 409, "NotFound": 404, "NotAllowed": 403, "InvalidInput": 400, "IdempotencyKeyReused": 422}


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"query parameter {name} must be an integer") from None


class RestApi:
    def __init__(self, services: Services, schema, auth: Authenticator, cache: ResponseCache):
        self.services = services
        self.schema = schema
        self.auth = auth
        self.cache = cache

    async def _run(self, request: Request, doc: str, variables: dict[str, Any], *, cacheable: bool = True):
        """(data, errors, response or None): a ready response for 401 / cache hits."""
        try:
            principal = self.auth.from_headers(request.headers)
        except Unauthenticated as exc:
            return None, None, unauthorized(exc.message)
        snap = self.services.holder.get()
        key = None
        generation = self.cache.generation
        if cacheable and self.cache.enabled and snap is not None:
            key = cache_key("rest", doc, variables, principal.role, snap.run_id)
            if self.services.store.refresh():
                await self.cache.clear()
                generation = self.cache.generation
            hit = await self.cache.get(key)
            if hit is not None:
                return None, None, Response(hit, media_type="application/json", headers={"X-Cache": "HIT"})
        ctx = new_context(self.services, principal, request, request_id_var.get())
        limit = self.services.config.limits.query_timeout_seconds
        try:
            async with asyncio.timeout(limit if cacheable else None):  # GET routes run queries; a mutation runs to the end
                result = await self.schema.execute(DOCUMENTS[doc], variable_values=variables, context_value=ctx)
        except TimeoutError:
            return None, None, timed_out(limit)
        errors = [e.formatted for e in result.errors] if result.errors else None
        return (result.data, errors, None) if key is None or errors else (result.data, None, _Cacheable(self.cache, key, ctx, generation))

    async def _get(self, request: Request, doc: str, variables: dict[str, Any], pick) -> Response:
        data, errors, ready = await self._run(request, doc, variables)
        if isinstance(ready, Response):
            return ready
        if errors:
            return JSONResponse({"errors": errors}, status_code=400)
        body, status = pick(data)
        response = JSONResponse(body, status_code=status)
        if isinstance(ready, _Cacheable) and status == 200:
            await ready.store(response.body)
            response.headers["X-Cache"] = "MISS"
        return response

    async def customers(self, request: Request) -> Response:
        try:
            q = request.query_params.get("q")
            if q is not None:
                return await self._get(request, "search", {"q": q, "limit": _int(request, "limit", 10)},
                                       lambda d: ({"items": d["searchCustomers"]}, 200))
            variables = {"first": _int(request, "first", 25), "after": request.query_params.get("after")}
        except ValueError as exc:
            return JSONResponse({"errors": [{"message": str(exc)}]}, status_code=400)
        return await self._get(request, "customers", variables, lambda d: (d["customers"], 200))

    async def customer(self, request: Request) -> Response:
        cid = request.path_params["id"]
        return await self._get(request, "customer", {"id": cid}, lambda d: _found(d["customer"], cid))

    async def customer_alerts(self, request: Request) -> Response:
        cid = request.path_params["id"]
        return await self._get(request, "alerts", {"id": cid}, lambda d: _found(d["customer"] and {"items": d["customer"]["alerts"]}, cid))

    async def customer_recommendations(self, request: Request) -> Response:
        cid = request.path_params["id"]
        return await self._get(request, "recommendations", {"id": cid},
                               lambda d: _found(d["customer"] and {"items": d["customer"]["recommendations"]}, cid))

    async def customer_timeline(self, request: Request) -> Response:
        cid = request.path_params["id"]
        try:
            variables = {"id": cid, "first": _int(request, "first", 50), "after": request.query_params.get("after")}
        except ValueError as exc:
            return JSONResponse({"errors": [{"message": str(exc)}]}, status_code=400)
        return await self._get(request, "timeline", variables, lambda d: _found(d["customer"] and d["customer"]["timeline"], cid))

    async def dashboard(self, request: Request) -> Response:
        try:
            top = _int(request, "top", 10)
        except ValueError as exc:
            return JSONResponse({"errors": [{"message": str(exc)}]}, status_code=400)
        return await self._get(request, "dashboard", {"top": top}, lambda d: (d["dashboardSummary"], 200))

    async def execute_action(self, request: Request) -> Response:
        try:
            raw = await request.body()
        except TooLarge:
            return JSONResponse({"errors": [{"message": "request body too large"}]}, status_code=413)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return JSONResponse({"errors": [{"message": "the body must be JSON: {\"idempotencyKey\": ..., \"note\": ...}"}]}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"errors": [{"message": "the body must be a JSON object"}]}, status_code=400)
        key = request.headers.get("idempotency-key") or body.get("idempotencyKey") or ""
        variables = {"id": request.path_params["id"], "key": str(key), "note": body.get("note")}
        data, errors, ready = await self._run(request, "execute", variables, cacheable=False)
        if isinstance(ready, Response):
            return ready
        if errors:
            return JSONResponse({"errors": errors}, status_code=500 if any(e["message"] == "Unexpected error." for e in errors) else 400)
        result = data["executeAction"]
        return JSONResponse(result, status_code=EXECUTE_STATUS.get(result["__typename"], 200))

    def routes(self) -> list[Route]:
        return [
            Route("/api/customers", self.customers, methods=["GET"]),
            Route("/api/customer/{id}", self.customer, methods=["GET"]),
            Route("/api/customer/{id}/alerts", self.customer_alerts, methods=["GET"]),
            Route("/api/customer/{id}/recommendations", self.customer_recommendations, methods=["GET"]),
            Route("/api/customer/{id}/timeline", self.customer_timeline, methods=["GET"]),
            Route("/api/actions/{id}/execute", self.execute_action, methods=["POST"]),
            Route("/api/dashboard/summary", self.dashboard, methods=["GET"]),
        ]


class _Cacheable:
    def __init__(self, cache: ResponseCache, key: str, ctx, generation: int):
        self.cache, self.key, self.ctx, self.generation = cache, key, ctx, generation

    async def store(self, body: bytes) -> None:
        await self.cache.put(self.key, body, None if self.ctx.touched_all else set(self.ctx.touched_accounts), self.generation)


def _found(value, cid: str):
    if value is None:
        return {"errors": [{"message": f"no customer {cid!r}", "extensions": {"code": "NOT_FOUND"}}]}, 404
    return value, 200
