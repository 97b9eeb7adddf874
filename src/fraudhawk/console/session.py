"""Who is signed in, and the token every form must carry (CSRF).

The session lives in one signed cookie (HttpOnly, SameSite=Strict): the server keeps no session table,
so every server process and a restart accept it. The signing secret is a random file in the data
directory, written once (exclusively) by whichever process starts first.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "fraudhawk_console"
SECRET_FILE = "console-secret"
MAX_AGE_S = 12 * 3600  # a sign-in lasts a working day
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    csrf: str
    key_id: str | None = None  # the access key signed in with; None without access keys

    @staticmethod
    def new(key_id: str | None = None) -> Session:
        return Session(csrf=secrets.token_urlsafe(32), key_id=key_id)

    def accepts(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


def secret_of(data_dir: Path) -> bytes:
    """The data directory's signing secret, made on first use; concurrent starts agree on one file."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".console-secret.")
        try:
            os.write(fd, secrets.token_bytes(32))
            os.fsync(fd)
            os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process won: its secret is the one
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    secret = path.read_bytes()
    if len(secret) < 32:
        raise RuntimeError(f"{path} is shorter than 32 bytes: delete it to make a new one")
    return secret


class Sessions:
    """Reads and writes the session cookie."""

    def __init__(self, secret: bytes) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="fraudhawk-console-session")

    def load(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        key_id = data.get("key")
        return Session(csrf=data["csrf"], key_id=key_id if isinstance(key_id, str) else None)

    def dump(self, session: Session) -> str:
        return self.serializer.dumps({"csrf": session.csrf, "key": session.key_id})
