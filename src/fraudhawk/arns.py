"""ARNs in AFD's format: arn:aws:frauddetector:<region>:<account>:<resource-type>/<path>."""

from __future__ import annotations

from dataclasses import dataclass

from fraudhawk.errors import ResourceNotFoundError


@dataclass(frozen=True)
class Arns:
    region: str
    account_id: str

    @property
    def prefix(self) -> str:
        return f"arn:aws:frauddetector:{self.region}:{self.account_id}:"

    def build(self, resource_type: str, *path: str) -> str:
        return self.prefix + "/".join((resource_type, *path))

    def parse(self, arn: str) -> tuple[str, tuple[str, ...]]:
        """Split an ARN of this server into (resource type, path); anything else names no resource here."""
        if not arn.startswith(self.prefix):
            raise ResourceNotFoundError(f"Resource {arn} does not exist: ARNs here start with {self.prefix}")
        resource_type, *path = arn[len(self.prefix) :].split("/")
        return resource_type, tuple(path)
