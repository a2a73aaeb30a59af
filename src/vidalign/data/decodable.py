"""``check_decodable``: decode every video of a pair file up front, in parallel.

Reading a pair file checks its rows, and with ``check_files`` that each video exists; only
decoding shows that a file is whole. This decodes each distinct video once (every frame,
keeping none) and reports every one that fails, at each row and field that uses it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from tqdm.auto import tqdm

from vidalign.data.columns import PATH_A, PATH_B
from vidalign.data.errors import RowIssue
from vidalign.data.pair import PreferencePair
from vidalign.video import VideoError, decode_every_frame


def default_workers() -> int:
    """Decoding threads when none are asked for: the CPUs, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def _decode(path: str) -> VideoError | None:
    try:
        decode_every_frame(path)
    except VideoError as err:
        return err
    return None


def check_decodable(
    pairs: Sequence[PreferencePair],
    *,
    file: str,
    workers: int | None = None,
    progress: bool = True,
) -> list[RowIssue]:
    """Decode every video of ``pairs``; one :class:`RowIssue` per (row, field) whose fails.

    Args:
        pairs: the pairs of ``file`` as ``load_pairs`` returned them, so pair ``i`` is data
            row ``i + 1`` (``load_pairs`` refuses a file with any bad row).
        file: the pair file, for the issues.
        workers: decoding threads (PyAV releases the GIL while it decodes); default
            ``default_workers()``.
        progress: show a progress bar over the distinct videos.

    Returns:
        The issues in row order; empty when every video decodes.
    """
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    uses: dict[str, list[tuple[int, str]]] = {}
    for row, pair in enumerate(pairs, start=1):
        uses.setdefault(pair.path_a, []).append((row, PATH_A))
        uses.setdefault(pair.path_b, []).append((row, PATH_B))
    failed: dict[str, VideoError] = {}
    bar = tqdm(total=len(uses), desc="decode", unit="video", disable=not progress)
    with bar, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vidalign-decode") as pool:
        futures = {pool.submit(_decode, path): path for path in uses}
        for future in as_completed(futures):
            err = future.result()
            if err is not None:
                failed[futures[future]] = err
            bar.update(1)
    issues = [
        RowIssue(file, row, None, field, str(err))
        for path, err in failed.items()
        for row, field in uses[path]
    ]
    return sorted(issues, key=lambda i: (i.row, i.field))
