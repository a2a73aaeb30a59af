"""Human preference annotation: a small web app that collects A/B/same judgments per dimension.

Workflow::

    vidalign annotate import pairs.csv --batch round1 --db ann.db --videos-root videos/ --k 3
    vidalign annotate add-annotator alice --db ann.db        # prints alice's token
    vidalign annotate serve --db ann.db --videos-root videos/  # http://127.0.0.1:8000/login
    vidalign annotate stats --db ann.db
    vidalign annotate export --db ann.db --out labels.csv     # for `vidalign reward train`

Design decisions:

- **Storage.** SQLAlchemy; a file path means embedded SQLite in WAL mode with
  ``synchronous=FULL`` (every acknowledged judgment is fsynced before the response, so it
  survives a killed server and a power loss); ``postgresql://`` URLs use psycopg 3
  (``pip install vidalign[postgres]``). The schema is created on first use; its version is
  stored in the ``meta`` table and a database of another version is refused.
- **Admin token.** Generated when the database is created, printed once by the command that
  created it, and stored only as a SHA-256 hash; ``vidalign annotate rotate-admin-token``
  prints a new one. When ``VIDALIGN_ADMIN_TOKEN`` is set, the server accepts that token
  instead. Annotator tokens are likewise printed once and stored hashed. The CLI admin
  commands work on the database directly and need no token; the HTTP admin API
  (``/api/admin/...``) needs ``Authorization: Bearer <admin token>``.
- **Assignment.** Each pair goes to ``k`` distinct annotators as a regular item, handed out
  on demand (pairs with the fewest live assignments first); a skipped item frees its slot
  for someone else, and no annotator ever gets the same pair twice as a regular item.
  Control items are optional per batch: ``--repeat-rate`` repeats a judged item later in the
  same left/right order (self-consistency), ``--swap-rate`` repeats it with left and right
  exchanged (position bias). Controls never vote in the export.
- **Page.** ``/annotate``: prompt, two videos in sync (one play/pause, scrub bar, frame step,
  loop, speed), one row per dimension (left better / same / right better), keyboard
  shortcuts, submit, undo of the last answer, skip with a reason, progress. Left/right order
  is random per assignment, recorded, and mapped back to A/B on the server.
- **Export.** Per pair and dimension the label given by more than half of the votes; a
  split vote is a tie ("same"). See :mod:`vidalign.annotate.export`.
"""

from vidalign.annotate.agreement import krippendorff_alpha_nominal, pairwise_agreement
from vidalign.annotate.annotators import add_annotator
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import Database, open_database
from vidalign.annotate.errors import AnnotateError, SchemaVersionError
from vidalign.annotate.export import collect_majority, export_pairs, majority_label
from vidalign.annotate.stats import AnnotationStats, compute_stats

__all__ = [
    "AnnotateError",
    "AnnotationStats",
    "BatchSettings",
    "Database",
    "SchemaVersionError",
    "add_annotator",
    "collect_majority",
    "compute_stats",
    "export_pairs",
    "import_batch",
    "krippendorff_alpha_nominal",
    "majority_label",
    "open_database",
    "pairwise_agreement",
]
