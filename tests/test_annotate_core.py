"""Annotation core: agreement maths, majority rule, queue rules, import checks, schema."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from test_annotate_support import make_pairs, seeded_db
from vidalign.annotate.agreement import krippendorff_alpha_nominal, pairwise_agreement
from vidalign.annotate.annotators import add_annotator, find_annotator
from vidalign.annotate.batches import BatchSettings, import_batch
from vidalign.annotate.db import ADMIN_TOKEN_ENV, normalize_url, open_database
from vidalign.annotate.errors import AnnotateError, SchemaVersionError
from vidalign.annotate.export import collect_majority, majority_label
from vidalign.annotate.media import Forbidden, Missing, resolve_video
from vidalign.annotate.queue import (
    BadAnswer,
    Conflict,
    NotFound,
    Progress,
    choice_to_label,
    label_to_choice,
    next_assignment,
    progress,
    skip_assignment,
    submit_judgment,
    undo_last,
)
from vidalign.annotate.schema import Assignment, Meta, Pair
from vidalign.annotate.stats import compute_stats
from vidalign.cli.annotate import main as annotate_main
from vidalign.data import PairDataError

ALL_SAME = {"VQ": "same", "MQ": "same", "TA": "same"}


# ---- agreement -----------------------------------------------------------------------------
def test_alpha_hand_worked():
    # o_AA = 2, o_AB = o_BA = 1, o_BB = 3; n_A = 3, n_B = 4, n = 7:
    # alpha = 1 - (7 - 1) * 2 / (3 * 4 + 4 * 3) = 0.5; the single-value unit is unpairable.
    units = [["A", "A"], ["A", "B"], ["B", "B", "B"], ["A"]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.5)
    assert pairwise_agreement(units) == pytest.approx(4 / 5)


def test_alpha_three_values_hand_worked():
    # units [A,B,S], [A,A], [S,S]: unit 1 has 6 ordered disagreeing pairs / (3 - 1) = 3;
    # n_A = 3, n_B = 1, n_S = 3, n = 7; Σ_{c≠k} n_c n_k = 49 - (9 + 1 + 9) = 30;
    # alpha = 1 - 6 * 3 / 30 = 0.4.
    units = [["A", "B", "S"], ["A", "A"], ["S", "S"]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.4)
    assert pairwise_agreement(units) == pytest.approx(2 / 5)


def test_alpha_limits():
    assert krippendorff_alpha_nominal([[1, 1], [-1, -1], [0, 0]]) == pytest.approx(1.0)
    assert krippendorff_alpha_nominal([[1, 1], [1, 1]]) is None  # no expected disagreement
    assert krippendorff_alpha_nominal([[1], [0]]) is None
    # systematic disagreement is worse than chance
    assert krippendorff_alpha_nominal([[1, -1], [-1, 1], [1, -1]]) < 0


def test_majority_rule():
    assert majority_label([1, 1, 0]) == 1
    assert majority_label([-1]) == -1
    assert majority_label([1, -1]) == 0  # split vote is a tie
    assert majority_label([1, 0]) == 0
    assert majority_label([-1, -1, 1, 1, 0]) == 0
    assert majority_label([0, 0, 1]) == 0
    assert majority_label([1, 1, -1, 0]) == 0  # 2 of 4 is no majority
    assert majority_label([1, 1, 1, -1, 0]) == 1
    with pytest.raises(ValueError):
        majority_label([])


def test_choice_mapping_round_trip():
    assert choice_to_label("left", "AB") == 1
    assert choice_to_label("left", "BA") == -1
    assert choice_to_label("right", "AB") == -1
    assert choice_to_label("right", "BA") == 1
    assert choice_to_label("same", "BA") == 0
    for order in ("AB", "BA"):
        for c in ("left", "right", "same"):
            assert label_to_choice(choice_to_label(c, order), order) == c


# ---- database and import -----------------------------------------------------------------
def test_schema_version_and_admin_token(tmp_path, monkeypatch):
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    db, token = open_database(str(tmp_path / "x.db"))
    assert token and db.admin_token_ok(token) and not db.admin_token_ok(token + "x")
    assert open_database(str(tmp_path / "x.db"))[1] is None  # created once
    with db.write() as s:
        mode = s.connection().exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = s.connection().exec_driver_sql("PRAGMA synchronous").scalar()
    assert (mode, sync) == ("wal", 2)  # WAL, synchronous=FULL
    new = db.rotate_admin_token()
    assert db.admin_token_ok(new) and not db.admin_token_ok(token)
    monkeypatch.setenv(ADMIN_TOKEN_ENV, "from-env")
    assert db.admin_token_ok("from-env") and not db.admin_token_ok(new)
    with db.write() as s:
        s.merge(Meta(key="schema_version", value="999"))
    with pytest.raises(SchemaVersionError, match="schema version 999"):
        open_database(str(tmp_path / "x.db"))


def test_normalize_url(tmp_path):
    assert normalize_url(str(tmp_path / "a.db")) == f"sqlite:///{tmp_path / 'a.db'}"
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(AnnotateError, match="does not exist"):
        normalize_url(str(tmp_path / "nope" / "a.db"))


def test_import_rejects_paths_outside_root(tmp_path):
    db, _, _, root = seeded_db(tmp_path, n_pairs=2)
    pairs = make_pairs(root, 2)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((root / "clips" / "c0.mp4").read_bytes())
    os.symlink(outside, root / "clips" / "link.mp4")
    settings = BatchSettings()
    cases = {
        "../outside.mp4": "outside the videos root",
        str(outside): "outside the videos root",
        "clips/link.mp4": "links to",
        "clips/missing.mp4": "not found",
        "clips/c1.mp4\x00": "holds a NUL byte",
    }
    for bad, msg in cases.items():
        pairs[1].path_b = bad
        with pytest.raises(PairDataError, match=f"pairs: row 2: path_B: .*{msg}"):
            import_batch(db, "b2", pairs, videos_root=root, settings=settings)
    (root / "clips" / "text.mp4").write_text("not a video")
    pairs[1].path_b = "clips/text.mp4"
    with pytest.raises(PairDataError, match="pairs: row 2: path_B: "):
        import_batch(db, "b2", pairs, videos_root=root, settings=settings)
    pairs[1].path_b = "clips/c0.mp4"
    with pytest.raises(AnnotateError, match="already exists"):
        import_batch(db, "b1", pairs, videos_root=root, settings=settings)
    for bad in (
        BatchSettings(k=0),
        BatchSettings(dims=()),
        BatchSettings(repeat_rate=0.7, swap_rate=0.5),
    ):
        with pytest.raises(AnnotateError):
            import_batch(db, "b3", pairs, videos_root=root, settings=bad)


def _import_cli(tmp_path, rows: list[str]) -> int:
    root = tmp_path / "videos"
    make_pairs(root, 3)
    (root / "todo.csv").write_text("path_A,path_B,prompt\n" + "".join(rows))
    argv = ["import", str(root / "todo.csv"), "--batch", "b", "--db", str(tmp_path / "cli.db")]
    return annotate_main([*argv, "--videos-root", str(root)])


def test_import_cli_names_a_nul_byte_in_a_path(tmp_path, capsys):
    rows = ["clips/c0.mp4,clips/c1.mp4,p1\n", "clips/c1.mp4,clips/c2\x00.mp4,p2\n"]
    assert _import_cli(tmp_path, rows) == 2
    err = capsys.readouterr().err
    assert "todo.csv: row 2 (line 3): path_B: NUL byte at position 8" in err
    assert "Traceback" not in err


def test_import_cli_lists_every_bad_row(tmp_path, capsys):
    rows = [
        "clips/c0.mp4,clips/c1.mp4,p1\n",
        "clips/c1.mp4,clips/missing.mp4,p2\n",
        "clips/c2.mp4,clips/c3.mp4,p3\n",
        "../outside.mp4,clips/c3.mp4,p4\n",
        "clips/gone.mp4,../../etc/passwd,p5\n",
    ]
    assert _import_cli(tmp_path, rows) == 2
    err = capsys.readouterr().err
    assert "4 problem(s) in 3 row(s)" in err
    todo = tmp_path / "videos" / "todo.csv"
    issues = [line.strip() for line in err.splitlines() if line.startswith(f"  {todo}: ")]
    expected = [
        ("row 2: path_B", "not found"),
        ("row 4: path_A", "outside the videos root"),
        ("row 5: path_A", "not found"),
        ("row 5: path_B", "outside the videos root"),
    ]
    assert len(issues) == len(expected)
    for line, (where, why) in zip(issues, expected, strict=True):
        assert line.startswith(f"{todo}: {where}: ") and why in line


def test_import_refuses_frame_counts_the_database_cannot_store(tmp_path, db_url):
    root = tmp_path / "videos"
    pairs = make_pairs(root, 3)
    pairs[1].num_frames_a, pairs[2].num_frames_b = 2**31, 2**40
    db, _ = open_database(db_url)
    with pytest.raises(PairDataError) as err:
        import_batch(db, "big", pairs, videos_root=root, settings=BatchSettings(k=1))
    assert [(i.row, i.field) for i in err.value.issues] == [
        (2, "num_frames_A"),
        (3, "num_frames_B"),
    ]
    with db.read() as s:
        assert s.scalar(select(func.count(Pair.id))) == 0  # nothing of the batch stored


def test_resolve_video_guards(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "v.mp4").write_bytes(b"x")
    (tmp_path / "secret.mp4").write_bytes(b"s")
    os.symlink(tmp_path / "secret.mp4", root / "sub" / "out.mp4")
    assert resolve_video(root, "sub/v.mp4") == (root / "sub" / "v.mp4").resolve()
    for bad in (
        "../secret.mp4",
        "sub/../../secret.mp4",
        str(tmp_path / "secret.mp4"),
        "sub/out.mp4",
        "",
    ):
        with pytest.raises(Forbidden):
            resolve_video(root, bad)
    with pytest.raises(Missing):
        resolve_video(root, "sub/none.mp4")
    with pytest.raises(Missing):
        resolve_video(root, "sub")


def test_annotator_tokens(db_url):
    db, _ = open_database(db_url)
    aid, token = add_annotator(db, "alice")
    assert find_annotator(db, token).id == aid
    assert find_annotator(db, "wrong") is None and find_annotator(db, None) is None
    with pytest.raises(AnnotateError, match="already exists"):
        add_annotator(db, "alice")


# ---- queue -------------------------------------------------------------------------------
def _ids(db, tokens):
    return [find_annotator(db, t).id for t in tokens]


def _drain(db, annotator_id, choices=ALL_SAME):
    """Answer everything this annotator gets; returns the pair ids they judged."""
    seen = []
    while True:
        with db.write() as s:
            a = next_assignment(s, annotator_id)
            if a is None:
                return seen
            seen.append((a.pair_id, a.kind))
            submit_judgment(s, annotator_id, a.id, choices, 1000)


def test_each_pair_goes_to_k_distinct_annotators(tmp_path, db_url):
    db, _, tokens, _ = seeded_db(tmp_path, n_pairs=5, annotators=4, url=db_url, k=2)
    ids = _ids(db, tokens)
    judged = {aid: _drain(db, aid) for aid in ids}
    per_pair: dict[int, list[int]] = {}
    for aid, items in judged.items():
        pair_ids = [p for p, _ in items]
        assert len(pair_ids) == len(set(pair_ids))  # never twice to the same annotator
        for p in pair_ids:
            per_pair.setdefault(p, []).append(aid)
    assert sorted(per_pair) == sorted(per_pair)  # all pairs covered
    assert len(per_pair) == 5 and all(len(v) == 2 for v in per_pair.values())
    assert sum(len(v) for v in judged.values()) == 10


def test_open_item_is_returned_again_and_progress(tmp_path, db_url):
    db, _, tokens, _ = seeded_db(tmp_path, n_pairs=3, annotators=1, url=db_url, k=1)
    (aid,) = _ids(db, tokens)
    with db.write() as s:
        first = next_assignment(s, aid).id
        assert next_assignment(s, aid).id == first
        assert progress(s, aid).done == 0 and progress(s, aid).remaining == 3
        submit_judgment(s, aid, first, ALL_SAME, 10)
        assert progress(s, aid).done == 1 and progress(s, aid).remaining == 2
        assert not progress(s, aid).more


def test_progress_counts_new_items_up_to_its_cap(tmp_path, db_url):
    db, _, tokens, _ = seeded_db(tmp_path, n_pairs=5, annotators=1, url=db_url, k=1)
    (aid,) = _ids(db, tokens)
    with db.write() as s:
        assert progress(s, aid, cap=5) == Progress(done=0, remaining=5, more=False)
        assert progress(s, aid, cap=2) == Progress(done=0, remaining=2, more=True)
        next_assignment(s, aid)  # one open item, four new ones
        assert progress(s, aid, cap=2) == Progress(done=0, remaining=3, more=True)
        assert progress(s, aid, cap=4) == Progress(done=0, remaining=5, more=False)


def test_submit_validation_double_submit_and_foreign(tmp_path, db_url):
    db, _, tokens, _ = seeded_db(tmp_path, n_pairs=2, annotators=2, url=db_url, k=2)
    a1, a2 = _ids(db, tokens)
    with db.write() as s:
        item = next_assignment(s, a1).id
    bad = [
        {"VQ": "left", "MQ": "same"},  # missing TA
        {**ALL_SAME, "XX": "left"},  # unknown dim
        {**ALL_SAME, "MQ": "A"},  # A/B are not on-screen choices
        {**ALL_SAME, "MQ": "better"},
    ]
    for labels in bad:
        with pytest.raises(BadAnswer), db.write() as s:
            submit_judgment(s, a1, item, labels, 10)
    with pytest.raises(BadAnswer), db.write() as s:
        submit_judgment(s, a1, item, ALL_SAME, -5)
    with pytest.raises(NotFound), db.write() as s:
        submit_judgment(s, a2, item, ALL_SAME, 10)  # someone else's assignment
    with pytest.raises(NotFound), db.write() as s:
        submit_judgment(s, a1, 9999, ALL_SAME, 10)
    with db.write() as s:
        submit_judgment(s, a1, item, {"VQ": "left", "MQ": "right", "TA": "same"}, 10)
    with pytest.raises(Conflict), db.write() as s:
        submit_judgment(s, a1, item, ALL_SAME, 10)
    with pytest.raises(Conflict), db.write() as s:
        skip_assignment(s, a1, item, "unsure", 10)
    with db.read() as s:
        a = s.get(Assignment, item)
        from vidalign.annotate.schema import Judgment

        (j,) = s.scalars(select(Judgment).where(Judgment.assignment_id == item)).all()
        labels = {lab.dim: lab.value for lab in j.labels}
    sign = 1 if a.order == "AB" else -1
    assert labels == {"VQ": sign, "MQ": -sign, "TA": 0}
    assert j.order_shown == a.order and j.time_spent_ms == 10


def test_undo_returns_item_and_allows_resubmit(tmp_path, db_url):
    db, _, tokens, _ = seeded_db(tmp_path, n_pairs=2, annotators=1, url=db_url, k=1)
    (aid,) = _ids(db, tokens)
    with pytest.raises(Conflict), db.write() as s:
        undo_last(s, aid)
    with db.write() as s:
        first = next_assignment(s, aid).id
        submit_judgment(s, aid, first, ALL_SAME, 10)
        second = next_assignment(s, aid).id
        assert second != first
    with db.write() as s:
        undone = undo_last(s, aid)
        assert undone.assignment_id == first
    with db.write() as s:
        # the open regular item with the lowest id comes back first
        assert next_assignment(s, aid).id == first
        submit_judgment(s, aid, first, {"VQ": "left", "MQ": "left", "TA": "left"}, 10)
    rows, _ = collect_majority(db)
    assert len(rows) == 1 and set(rows[0][1].values()) <= {1, -1}


def test_skip_frees_the_slot_for_another_annotator(tmp_path, db_url):
    db, _, tokens, _ = seeded_db(tmp_path, n_pairs=1, annotators=2, url=db_url, k=1)
    a1, a2 = _ids(db, tokens)
    with db.write() as s:
        item = next_assignment(s, a1)
        assert next_assignment(s, a2) is None  # the only slot is taken
        with pytest.raises(BadAnswer):
            skip_assignment(s, a1, item.id, "boring", 10)
    with db.write() as s:
        skip_assignment(s, a1, item.id, "video broken", 10)
    with db.write() as s:
        assert next_assignment(s, a1) is None  # never the same pair twice
        other = next_assignment(s, a2)
        assert other is not None and other.pair_id == item.pair_id


def test_controls_measure_consistency_and_position_bias(tmp_path, db_url):
    db, _, tokens, _ = seeded_db(
        tmp_path,
        n_pairs=6,
        annotators=2,
        url=db_url,
        k=2,
        repeat_rate=0.5,
        swap_rate=0.5,
        control_gap=1,
    )
    reader, clicker = _ids(db, tokens)

    def answer(aid: int) -> None:
        while True:
            with db.write() as s:
                a = next_assignment(s, aid)
                if a is None:
                    return
                # the reader always prefers A wherever it is; the clicker always says "left"
                c = "left" if aid == clicker or a.order == "AB" else "right"
                submit_judgment(s, aid, a.id, dict.fromkeys(("VQ", "MQ", "TA"), c), 500)

    answer(reader)
    answer(clicker)
    st = compute_stats(db)
    vq = st.dims["VQ"]
    assert vq.repeat_n + vq.swap_n == 12  # every regular item got a control (rates sum to 1)
    assert vq.self_consistency == 1.0  # both repeat themselves when shown the same way
    by_name = {a.name: a for a in st.annotators}
    r, c = by_name["ann0"], by_name["ann1"]
    assert r.judged == c.judged == 12 and r.controls == c.controls == 6
    assert r.swap_agreement == 1.0 and r.same_side_rate == 0.0
    assert c.swap_agreement == 0.0 and c.same_side_rate == 1.0 and c.left_rate == 1.0
    assert vq.tie_rate == 0.0
    # reader and clicker agree exactly where the reader saw A on the left
    assert vq.pairs_multi == 6 and 0.0 <= vq.pairwise_agreement <= 1.0


def test_read_pairs_to_annotate_with_and_without_labels(tmp_path):
    from vidalign.annotate.batches import read_pairs_to_annotate
    from vidalign.data import PairDataError, save_pairs

    pairs = make_pairs(tmp_path, 2)
    rows = "".join(f"{p.path_a},{p.path_b},{p.prompt},2,m{i}\n" for i, p in enumerate(pairs))
    (tmp_path / "todo.csv").write_text("path_A,path_B,prompt,fps_A,A_model\n" + rows)
    got = read_pairs_to_annotate(tmp_path / "todo.csv", tmp_path)
    assert [p.labels for p in got] == [{}, {}]
    assert got[1].path_b == str(tmp_path / pairs[1].path_b) and got[1].meta == {"A_model": "m1"}
    assert got[0].fps_a == 2.0 and got[0].fps_b is None
    for p in pairs:
        p.labels = {"VQ": 1}
    save_pairs(pairs, tmp_path / "labelled.jsonl")
    got = read_pairs_to_annotate(tmp_path / "labelled.jsonl", tmp_path)
    assert [p.labels for p in got] == [{"VQ": 1}, {"VQ": 1}]
    (tmp_path / "bad.csv").write_text("path_A,path_B,prompt\nx.mp4,x.mp4,hi\n")
    with pytest.raises(PairDataError, match=r"row 1.*path_B"):
        read_pairs_to_annotate(tmp_path / "bad.csv", tmp_path)
