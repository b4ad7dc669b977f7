
      export type PossibleTypesResultData = {
  "possibleTypes": {
    "AlertResult": [
      "AlertUpdated",
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound"
    ],
    "ExecuteActionResult": [
      "ActionExecuted",
      "AlreadyExecuted",
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound"
    ],
    "LinkDecisionResult": [
      "IdempotencyKeyReused",
      "InvalidInput",
      "LinkDecisionRecorded",
      "NotAllowed",
      "NotFound"
    ],
    "MutationError": [
      "AlreadyExecuted",
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound"
    ],
    "RecommendationResult": [
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound",
      "RecommendationUpdated"
    ]
  }
};
      const result: PossibleTypesResultData = {
  "possibleTypes": {
    "AlertResult": [
      "AlertUpdated",
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound"
    ],
    "ExecuteActionResult": [
      "ActionExecuted",
      "AlreadyExecuted",
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound"
    ],
    "LinkDecisionResult": [
      "IdempotencyKeyReused",
      "InvalidInput",
      "LinkDecisionRecorded",
      "NotAllowed",
      "NotFound"
    ],
    "MutationError": [
      "AlreadyExecuted",
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound"
    ],
    "RecommendationResult": [
      "IdempotencyKeyReused",
      "InvalidInput",
      "NotAllowed",
      "NotFound",
      "RecommendationUpdated"
    ]
  }
};
      export default result;
    