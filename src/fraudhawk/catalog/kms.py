"""The account's KMS key setting. fraudhawk keeps data on the operator's own disks; the setting is
recorded and reported as AFD does so that tooling which sets and reads it keeps working."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select

from fraudhawk.context import Context
from fraudhawk.storage import schema

_KEY = "kms_encryption_key_arn"


def put_kms_encryption_key(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    table = schema.service_settings
    with ctx.db.write() as conn:
        conn.execute(delete(table).where(table.c.key == _KEY))
        conn.execute(insert(table).values(key=_KEY, value=req["kmsEncryptionKeyArn"]))
    return {}


def get_kms_encryption_key(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    table = schema.service_settings
    with ctx.db.read() as conn:
        value = conn.execute(select(table.c.value).where(table.c.key == _KEY)).scalar()
    return {"kmsKey": {"kmsEncryptionKeyArn": value or "DEFAULT"}}
