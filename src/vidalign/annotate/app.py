"""The annotation web app (FastAPI): annotator page and API, admin API, video serving.

Auth: annotators send their token as ``Authorization: Bearer <token>`` or as the
``vidalign_token`` cookie that ``POST /login`` sets (HttpOnly, SameSite=Strict). Admin
endpoints (``/api/admin/...``) accept only the bearer admin token: ``VIDALIGN_ADMIN_TOKEN``
when set, else the token generated when the database was created.

Status codes: 401 no or unknown token, 403 wrong role or a path outside the videos root,
404 unknown (or someone else's) assignment, 409 already answered / nothing to undo,
413 a body over ``max_body_bytes`` (``max_batch_bytes`` for a batch import), refused
before it is read, 422 bad labels, skip reason or body. A body is read and parsed only
after its token is accepted.
"""

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from vidalign.annotate.annotators import KnownTokens, add_annotator, find_annotator
from vidalign.annotate.batches import BatchSettings, import_batch, pairs_table, pairs_to_annotate
from vidalign.annotate.db import Database
from vidalign.annotate.errors import AnnotateError
from vidalign.annotate.export import collect_majority
from vidalign.annotate.headers import SecurityHeaders
from vidalign.annotate.limits import MAX_BATCH_BYTES, MAX_BODY_BYTES, BodyLimit
from vidalign.annotate.media import Forbidden, Missing, resolve_video
from vidalign.annotate.page import annotate_page, login_page
from vidalign.annotate.queue import (
    MAX_TIME_SPENT_MS,
    BadAnswer,
    Conflict,
    NotFound,
    label_to_choice,
    next_assignment,
    previous_choices,
    progress,
    skip_assignment,
    submit_judgment,
    undo_last,
)
from vidalign.annotate.schema import INT_LIMIT, Annotator, Assignment, Batch, Judgment, Pair
from vidalign.annotate.stats import compute_stats
from vidalign.annotate.writer import GroupWriter
from vidalign.errors import VidalignError

log = logging.getLogger("vidalign.annotate")
COOKIE = "vidalign_token"
STATIC_DIR = Path(__file__).parent / "static"
LABEL_NAMES = {1: "A", -1: "B", 0: "same"}


class HTTPError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status, self.detail = status, detail


Id = Annotated[int, Field(gt=0, lt=INT_LIMIT)]


class JudgmentIn(BaseModel):
    assignment_id: Id
    labels: dict[str, str]
    time_spent_ms: int = Field(ge=0, le=MAX_TIME_SPENT_MS)


class SkipIn(BaseModel):
    assignment_id: Id
    reason: str
    time_spent_ms: int = Field(ge=0, le=MAX_TIME_SPENT_MS)


class AnnotatorIn(BaseModel):
    name: str


class PairIn(BaseModel):
    prompt: str
    path_a: str
    path_b: str
    fps_a: float | None = None
    fps_b: float | None = None
    num_frames_a: int | None = Field(None, lt=INT_LIMIT)
    num_frames_b: int | None = Field(None, lt=INT_LIMIT)
    meta: dict[str, str] = Field(default_factory=dict)


class BatchIn(BaseModel):
    name: str
    pairs: list[PairIn]
    dims: list[str] = Field(default_factory=lambda: list(BatchSettings().dims))
    k: int = BatchSettings.k
    repeat_rate: float = 0.0
    swap_rate: float = 0.0
    control_gap: int = BatchSettings.control_gap
    seed: int = 0


Model = TypeVar("Model", bound=BaseModel)
_SHOWN = (
    select(Pair.prompt, Pair.native_fps_a, Pair.native_fps_b, Batch.dims)
    .join(Batch, Batch.id == Pair.batch_id)
    .where(Pair.id == bindparam("pair_id"))
)
"""What the page shows of an assignment's pair."""


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _body(model: type[Model], auth: Callable[[Request], Any]) -> Any:
    """A dependency that runs ``auth`` and only then reads the JSON body into ``model``.

    FastAPI reads and parses a declared body before any dependency runs, so a request
    without a token would be parsed in full before its 401.
    """

    async def read(request: Request, _: Annotated[Any, Depends(auth)]) -> Model:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as err:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    return Depends(read)


def create_app(
    db: Database,
    videos_root: str | Path,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> FastAPI:
    """Build the app for one database and one videos root (see the module docstring).

    Args:
        db: the annotation database.
        videos_root: the folder videos are served from.
        max_body_bytes: the largest request body accepted (413 above it).
        max_batch_bytes: the largest body of ``POST /api/admin/batches``.
    """
    root = Path(videos_root)
    if not root.is_dir():
        raise AnnotateError(f"--videos-root {root}: not a folder")
    for name, limit in (("max_body_bytes", max_body_bytes), ("max_batch_bytes", max_batch_bytes)):
        if limit < 1:
            raise AnnotateError(f"{name}={limit}: must be at least 1 byte")
    app = FastAPI(title="vidalign annotate", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    limits = {"/api/admin/batches": max_batch_bytes}
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, per_path=limits)
    app.add_middleware(SecurityHeaders)  # outermost: a 413 gets the headers too

    @app.exception_handler(HTTPError)
    async def _http_error(_request: Request, err: HTTPError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse({"detail": err.detail}, status_code=err.status, headers=headers)

    status_of = {NotFound: 404, Conflict: 409, BadAnswer: 422}

    @app.exception_handler(VidalignError)  # AnnotateError, and PairDataError from an import
    async def _annotate_error(_request: Request, err: VidalignError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=status_of.get(type(err), 400))

    known = KnownTokens(db)
    writer = GroupWriter(db)

    async def annotator(request: Request) -> Annotator:
        token = _bearer(request) or request.cookies.get(COOKIE)
        found = known.remembered(token) or await run_in_threadpool(known.find, token)
        if found is None:
            if token and await run_in_threadpool(db.admin_token_ok, token):
                raise HTTPError(403, "the admin token cannot annotate; use an annotator token")
            raise HTTPError(401, "missing or unknown annotator token")
        return found

    def admin(request: Request) -> None:
        token = _bearer(request)
        if db.admin_token_ok(token):
            return
        if find_annotator(db, token) is not None:
            raise HTTPError(403, "admin token required")
        raise HTTPError(401, "missing or unknown admin token (Authorization: Bearer ...)")

    Who = Annotated[Annotator, Depends(annotator)]
    Admin = Annotated[None, Depends(admin)]
    JudgmentBody = Annotated[JudgmentIn, _body(JudgmentIn, annotator)]
    SkipBody = Annotated[SkipIn, _body(SkipIn, annotator)]
    AnnotatorBody = Annotated[AnnotatorIn, _body(AnnotatorIn, admin)]
    BatchBody = Annotated[BatchIn, _body(BatchIn, admin)]

    def progress_of(annotator_id: int) -> dict:
        with db.read() as s:
            prog = progress(s, annotator_id)
        return {"done": prog.done, "remaining": prog.remaining, "more": prog.more}

    async def with_progress(out: dict, annotator_id: int) -> dict:
        """``out`` with the annotator's progress, counted after its write committed.

        The count reads up to ``PROGRESS_CAP`` index entries of pairs still below their
        ``k``, so it runs on a worker thread (WAL readers run beside the writer), not in the
        serial write path.
        """
        return out | {"progress": await run_in_threadpool(progress_of, annotator_id)}

    def item_payload(s: Session, a: Assignment | None) -> dict:
        if a is None:
            return {"item": None}
        shown = s.execute(_SHOWN, {"pair_id": a.pair_id}).one()
        fps = {"left": shown.native_fps_a, "right": shown.native_fps_b}
        if a.order == "BA":
            fps = {"left": fps["right"], "right": fps["left"]}
        item = {
            "assignment_id": a.id,
            "prompt": shown.prompt,
            "dims": shown.dims.split(","),
            "videos": {
                "left": f"/api/assignments/{a.id}/video/left",
                "right": f"/api/assignments/{a.id}/video/right",
            },
            "fps": fps,
            "previous": previous_choices(s, a),
        }
        return {"item": item}

    # ---- pages ---------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/annotate", status_code=303)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/login", response_class=HTMLResponse)
    def login_form() -> str:
        return login_page()

    @app.post("/login")
    async def login(request: Request) -> Any:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        if find_annotator(db, token) is None:
            return HTMLResponse(login_page("Unknown token."), status_code=401)
        response = RedirectResponse("/annotate", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=30 * 86400)
        return response

    @app.post("/logout")
    def logout() -> RedirectResponse:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/annotate", response_class=HTMLResponse)
    def annotate(request: Request) -> Any:
        found = find_annotator(db, request.cookies.get(COOKIE))
        if found is None:
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(annotate_page(found.name))

    # ---- annotator API -------------------------------------------------------------------
    @app.get("/api/me")
    def me(who: Who) -> dict:
        return {"name": who.name, "progress": progress_of(who.id)}

    # Writes go through the group writer: the answer is sent once its commit is on disk.
    @app.get("/api/next")
    async def next_item(who: Who) -> dict:
        out = await writer.run(lambda s: item_payload(s, next_assignment(s, who.id)))
        return await with_progress(out, who.id)

    @app.post("/api/judgments", status_code=201)
    async def post_judgment(body: JudgmentBody, who: Who) -> dict:
        def job(s: Session) -> dict:
            answer = submit_judgment(s, who.id, body.assignment_id, body.labels, body.time_spent_ms)
            return {"judgment_id": answer.judgment_id, "assignment_id": answer.assignment_id}

        return await writer.run(job)

    @app.post("/api/skips", status_code=201)
    async def post_skip(body: SkipBody, who: Who) -> dict:
        def job(s: Session) -> dict:
            answer = skip_assignment(s, who.id, body.assignment_id, body.reason, body.time_spent_ms)
            return {"judgment_id": answer.judgment_id, "assignment_id": answer.assignment_id}

        return await writer.run(job)

    @app.post("/api/undo")
    async def post_undo(who: Who) -> dict:
        def job(s: Session) -> dict:
            j = undo_last(s, who.id)
            s.flush()
            return item_payload(s, j.assignment) | {"undone": j.id}

        return await with_progress(await writer.run(job), who.id)

    @app.get("/api/judgments")
    def my_judgments(who: Who) -> dict:
        with db.read() as s:
            rows = s.scalars(
                select(Judgment)
                .where(Judgment.annotator_id == who.id, Judgment.retracted_at.is_(None))
                .order_by(Judgment.id)
            ).all()
            return {
                "judgments": [
                    {
                        "judgment_id": j.id,
                        "assignment_id": j.assignment_id,
                        "skip_reason": j.skip_reason,
                        "labels": {
                            lab.dim: label_to_choice(lab.value, j.order_shown) for lab in j.labels
                        },
                    }
                    for j in rows
                ]
            }

    @app.get("/api/assignments/{assignment_id}/video/{side}")
    def video(
        assignment_id: Annotated[int, PathParam(gt=0, lt=INT_LIMIT)], side: str, who: Who
    ) -> FileResponse:
        if side not in ("left", "right"):
            raise HTTPError(404, f"no video side {side!r}; use left or right")
        with db.read() as s:
            a = s.get(Assignment, assignment_id)
            if a is None or a.annotator_id != who.id:
                raise HTTPError(404, f"assignment {assignment_id} not found")
            shows_a = (side == "left") == (a.order == "AB")
            rel = a.pair.path_a if shows_a else a.pair.path_b
        try:
            path = resolve_video(root, rel)
        except (Forbidden, Missing) as err:  # the path stays in the server log only
            log.warning("assignment %d, %s video: %s", assignment_id, side, err)
            status = 403 if isinstance(err, Forbidden) else 404
            raise HTTPError(status, "video not available") from None
        return FileResponse(
            path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"}
        )

    # ---- admin API -----------------------------------------------------------------------
    @app.post("/api/admin/annotators", status_code=201)
    def admin_add_annotator(body: AnnotatorBody) -> dict:
        annotator_id, token = add_annotator(db, body.name)
        return {"id": annotator_id, "name": body.name.strip(), "token": token}

    @app.get("/api/admin/annotators")
    def admin_annotators(_: Admin) -> dict:
        with db.read() as s:
            rows = s.scalars(select(Annotator).order_by(Annotator.id)).all()
            return {"annotators": [{"id": a.id, "name": a.name} for a in rows]}

    @app.post("/api/admin/batches", status_code=201)
    def admin_import(body: BatchBody) -> dict:
        settings = BatchSettings(
            dims=tuple(body.dims),
            k=body.k,
            repeat_rate=body.repeat_rate,
            swap_rate=body.swap_rate,
            control_gap=body.control_gap,
            seed=body.seed,
        )
        # the checks of `vidalign annotate import`, then the same import
        pairs = pairs_to_annotate(pairs_table(body.pairs, "request"), root, dims=[])
        batch_id = import_batch(
            db, body.name, pairs, videos_root=root, settings=settings, source="request"
        )
        return {"id": batch_id, "name": body.name, "pairs": len(pairs)}

    @app.get("/api/admin/batches")
    def admin_batches(_: Admin) -> dict:
        with db.read() as s:
            rows = s.execute(
                select(Batch, func.count(Pair.id))
                .join(Pair, Pair.batch_id == Batch.id, isouter=True)
                .group_by(Batch.id)
                .order_by(Batch.id)
            ).all()
            return {
                "batches": [
                    {"id": b.id, "name": b.name, "dims": b.dim_list, "k": b.k, "pairs": n}
                    for b, n in rows
                ]
            }

    @app.get("/api/admin/stats")
    def admin_stats(_: Admin, batch: str | None = None) -> dict:
        return compute_stats(db, batch).to_dict()

    @app.get("/api/admin/export")
    def admin_export(_: Admin, batch: str | None = None, min_votes: int = 1) -> dict:
        rows, summary = collect_majority(db, batch, min_votes=min_votes)
        return {
            "dims": list(summary.dims),
            "pairs_total": summary.pairs,
            "too_few_votes": summary.too_few_votes,
            "pairs": [
                {
                    "prompt": p.prompt,
                    "path_a": p.path_a,
                    "path_b": p.path_b,
                    "labels": {d: LABEL_NAMES[v] for d, v in labels.items()},
                    "votes": n,
                    "fps_a": p.fps_a,
                    "fps_b": p.fps_b,
                    "num_frames_a": p.num_frames_a,
                    "num_frames_b": p.num_frames_b,
                    "meta": json.loads(p.meta),
                }
                for p, labels, n in rows
            ],
        }

    return app
