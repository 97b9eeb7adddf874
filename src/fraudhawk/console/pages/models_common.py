"""What the models pages share: AFD's model types and their words, version addresses, and statuses."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from fraudhawk.console.web import call

OFI = "ONLINE_FRAUD_INSIGHTS"
TFI = "TRANSACTION_FRAUD_INSIGHTS"
ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
MODEL_TYPES = {
    OFI: "Online Fraud Insights",
    TFI: "Transaction Fraud Insights",
    ATI: "Account Takeover Insights",
}
#: what each model type is for, in the analyst's words (the model type's help on the create form)
PURPOSE = {
    OFI: "scores single events such as sign-ups or first orders, with little history per entity",
    TFI: "scores payments by an entity with a history (a card, an account): it learns from that history",
    ATI: "scores logins against each account's habits; it needs no fraud labels",
}
#: the key of each model type's metrics in trainingMetricsV2
METRIC_KEY = {OFI: "ofi", TFI: "tfi", ATI: "ati"}
#: statuses that change by themselves: a page showing one polls until it settles
MOVING = {
    "TRAINING_IN_PROGRESS",
    "ACTIVATE_REQUESTED",
    "ACTIVATE_IN_PROGRESS",
    "INACTIVATE_REQUESTED",
    "INACTIVATE_IN_PROGRESS",
}


def model_type_of(request: Request) -> str:
    """The model type in the page's address, or 404: only AFD's three types have pages."""
    model_type = str(request.path_params["type"])
    if model_type not in MODEL_TYPES:
        raise HTTPException(404)
    return model_type


def model_url(model_type: str, model_id: str) -> str:
    return f"/models/{model_type}/{model_id}"


def version_url(model_type: str, model_id: str, version: str) -> str:
    return f"/models/{model_type}/{model_id}/{version}"


async def version_detail(request: Request, model_type: str, model_id: str, version: str) -> dict[str, Any]:
    """DescribeModelVersions' detail of one version (ResourceNotFound becomes the 404 page)."""
    answer = await call(
        request,
        "DescribeModelVersions",
        {"modelId": model_id, "modelType": model_type, "modelVersionNumber": version},
    )
    details: list[dict[str, Any]] = answer["modelVersionDetails"]
    if not details:
        raise HTTPException(404)
    return details[0]


def headline(detail: dict[str, Any]) -> dict[str, Any] | None:
    """A finished version's headline figure: AUC with its range, or ATI's ASI (None before training ends)."""
    v2 = detail.get("trainingResultV2") or {}
    metrics = (v2.get("trainingMetricsV2") or {}).get(METRIC_KEY.get(detail["modelType"], ""), {})
    performance = metrics.get("modelPerformance") or {}
    if "asi" in performance:
        return {"name": "ASI", "value": performance["asi"]}
    if "auc" in performance:
        bounds = performance.get("uncertaintyRange") or {}
        return {
            "name": "AUC",
            "value": performance["auc"],
            "low": bounds.get("lowerBoundValue"),
            "high": bounds.get("upperBoundValue"),
        }
    return None
