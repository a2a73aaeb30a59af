"""A cap on request bodies: one over the limit is refused (413) before the app reads it."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1 << 20
"""Default cap of a request body (1 MiB): every JSON body of the annotator API is tiny."""
MAX_BATCH_BYTES = 32 << 20
"""Default cap of a batch import through the admin API (32 MiB, about 100k pairs)."""


class BodyTooLarge(HTTPException):
    """A body passed its limit while it was read (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware that caps request bodies at ``max_bytes`` (``per_path``: exact paths
    with their own cap).

    A Content-Length over the cap is answered with 413 before the app runs, so nothing is
    read, authenticated or parsed. A body without one (chunked) is counted while the app
    reads it and refused with 413 as soon as it passes the cap.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None
    ) -> None:
        self.app, self.max_bytes, self.per_path = app, max_bytes, dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.max_bytes)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            err = BodyTooLarge(limit)
            await JSONResponse({"detail": err.detail}, err.status_code)(scope, receive, send)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, capped, send)
