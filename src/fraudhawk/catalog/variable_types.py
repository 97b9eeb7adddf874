"""AFD's variable types and the data types each accepts.

Enrichment and feature engineering are chosen by variable type, so a variable type with the wrong data
type would silently train badly; we refuse it up front. The list is the service model's, plus the two
types the Account Takeover Insights walk-through uses (SESSION_ID, ARE_CREDENTIALS_VALID).
"""

from __future__ import annotations

_STRING = frozenset({"STRING"})
_NUMBER = frozenset({"FLOAT", "INTEGER"})

VARIABLE_TYPES: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (
            "AUTH_CODE",
            "AVS",
            "BILLING_ADDRESS_L1",
            "BILLING_ADDRESS_L2",
            "BILLING_CITY",
            "BILLING_COUNTRY",
            "BILLING_NAME",
            "BILLING_PHONE",
            "BILLING_STATE",
            "BILLING_ZIP",
            "CATEGORICAL",
            "CURRENCY_CODE",
            "EMAIL_ADDRESS",
            "FINGERPRINT",
            "FRAUD_LABEL",
            "FREE_FORM_TEXT",
            "IP_ADDRESS",
            "ORDER_ID",
            "PAYMENT_TYPE",
            "PHONE_NUMBER",
            "PRODUCT_CATEGORY",
            "SESSION_ID",
            "SHIPPING_ADDRESS_L1",
            "SHIPPING_ADDRESS_L2",
            "SHIPPING_CITY",
            "SHIPPING_COUNTRY",
            "SHIPPING_NAME",
            "SHIPPING_PHONE",
            "SHIPPING_STATE",
            "SHIPPING_ZIP",
            "USERAGENT",
        ),
        _STRING,
    ),
    "CARD_BIN": frozenset({"INTEGER", "STRING"}),
    "NUMERIC": _NUMBER,
    "PRICE": _NUMBER,
    "ARE_CREDENTIALS_VALID": frozenset({"BOOLEAN", "STRING"}),
}


def variable_type_problem(variable_type: str, data_type: str) -> str | None:
    """Why `variable_type` cannot go with `data_type`, or None when it can."""
    allowed = VARIABLE_TYPES.get(variable_type)
    if allowed is None:
        return f"variableType {variable_type} is not one of: {', '.join(sorted(VARIABLE_TYPES))}"
    if data_type not in allowed:
        return f"variableType {variable_type} needs dataType {' or '.join(sorted(allowed))}, not {data_type}"
    return None


def list_variable_types() -> list[str]:
    """Variable types a list may have: those whose data type is STRING."""
    return sorted(name for name, allowed in VARIABLE_TYPES.items() if "STRING" in allowed)
