"""Reading and writing pair files: VideoAlign CSV, JSONL, Parquet; dims, paths, round trips."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidalign.data import (
    PairDataError,
    PairDataWarning,
    PreferencePair,
    load_pairs,
    pair_stats,
    save_pairs,
)

TRAIN_CSV = '''\
path_A,path_B,prompt,VQ,MQ,TA,fps_A,num_frames_A,fps_B,num_frames_B,MOS_A_VQ,MOS_B_VQ
videos/a.mp4,videos/b.mp4,a red circle moves left,A,same,B,8.0,16,8,,4.5,2
videos/a.mp4,videos/c.mp4,"a blue square, then ""stops""",B,B,same,,,,,,
'''

BENCH_CSV = """\
path_A,path_B,A_model,B_model,prompt,VQ,MQ,TA,Overall,fps_A,num_frames_A,fps_B,num_frames_B
x/1.mp4,x/2.mp4,old-1,new-2,p one,A,same,A,A,,,,
x/3.mp4,x/4.mp4,new-2,new-3,p two,B,same,same,same,,,,
x/1.mp4,x/4.mp4,old-1,new-3,p one,same,A,B,B,,,,
"""


def _pairs(root) -> list[PreferencePair]:
    return [
        PreferencePair(
            prompt="a red circle moves left",
            path_a=str(root / "a.mp4"),
            path_b=str(root / "b.mp4"),
            labels={"VQ": 1, "MQ": 0, "TA": -1, "Overall": 1},
            fps_a=8.0,
            fps_b=7.5,
            num_frames_a=16,
            mos_a={"VQ": 4.25, "TA": 1.0},
            mos_b={"VQ": 2.0},
            meta={"A_model": "m1", "B_model": "m2", "note": 'comma, "quote"\nnewline'},
        ),
        PreferencePair(
            prompt="ünïcode prompt ✓",
            path_a=str(root / "c.mp4"),
            path_b=str(root / "a.mp4"),
            labels={"VQ": 0, "MQ": -1, "TA": 1, "Overall": 0},
            fps_b=0.1 + 0.2,  # a float that needs every digit
            num_frames_b=48,
            meta={"A_model": "m3", "B_model": "m1"},
        ),
    ]


def test_reads_videoalign_training_csv(tmp_path):
    (tmp_path / "train.csv").write_text(TRAIN_CSV)
    pairs = load_pairs(tmp_path / "train.csv")
    assert len(pairs) == 2
    first, second = pairs
    assert first.path_a == str(tmp_path / "videos" / "a.mp4")  # resolved against the file's folder
    assert first.labels == {"VQ": 1, "MQ": 0, "TA": -1}
    assert (first.fps_a, first.num_frames_a, first.fps_b, first.num_frames_b) == (
        8.0,
        16,
        8.0,
        None,
    )
    assert first.mos_a == {"VQ": 4.5} and first.mos_b == {"VQ": 2.0}
    assert first.overall is None and first.meta == {}
    assert second.prompt == 'a blue square, then "stops"'
    assert second.labels == {"VQ": -1, "MQ": -1, "TA": 0}
    assert second.fps_a is None and second.mos_a == {}


def test_reads_benchmark_columns(tmp_path):
    (tmp_path / "bench.csv").write_text(BENCH_CSV)
    pairs = load_pairs(tmp_path / "bench.csv")
    assert [p.labels["Overall"] for p in pairs] == [1, 0, -1]
    assert [p.overall for p in pairs] == [1, 0, -1]
    assert pairs[0].meta == {"A_model": "old-1", "B_model": "new-2"}
    stats = pair_stats(pairs)
    assert stats["pairs"] == 3 and stats["prompts"] == 2 and stats["videos"] == 4
    assert list(stats["labels"]) == ["VQ", "MQ", "TA", "Overall"]
    assert stats["labels"]["MQ"] == {"A": 1, "B": 0, "same": 2, "total": 3, "tie_rate": 2 / 3}
    assert stats["models"]["old-1"] == {"pairs": 2, "as_A": 2, "as_B": 0}
    assert stats["models"]["new-3"] == {"pairs": 2, "as_A": 0, "as_B": 2}


def test_overall_only_file(tmp_path):
    # GenAI-Bench style: an overall label and no per-dimension labels.
    (tmp_path / "g.csv").write_text("path_A,path_B,prompt,Overall\na.mp4,b.mp4,p,B\n")
    (pair,) = load_pairs(tmp_path / "g.csv")
    assert pair.labels == {"Overall": -1}


def test_dims_explicit_and_inferred(tmp_path):
    text = "path_A,path_B,prompt,TA,Style,VQ,comment\na.mp4,b.mp4,p,A,B,same,hello\n"
    (tmp_path / "d.csv").write_text(text)
    (pair,) = load_pairs(tmp_path / "d.csv")
    # default dims first in their usual order, then other A/B/same columns; text goes to meta
    assert list(pair.labels) == ["VQ", "TA", "Style"]
    assert pair.meta == {"comment": "hello"}
    (pair,) = load_pairs(tmp_path / "d.csv", dims=["TA"])
    assert pair.labels == {"TA": 1} and pair.meta == {
        "Style": "B",
        "VQ": "same",
        "comment": "hello",
    }
    with pytest.raises(PairDataError, match=r"missing column\(s\) \['MQ'\]"):
        load_pairs(tmp_path / "d.csv", dims=["VQ", "MQ"])


def test_video_root_and_absolute_paths(tmp_path):
    (tmp_path / "p.csv").write_text(f"path_A,path_B,prompt,VQ\nrel/a.mp4,{tmp_path}/abs.mp4,p,A\n")
    (pair,) = load_pairs(tmp_path / "p.csv", video_root=tmp_path / "root")
    assert pair.path_a == str(tmp_path / "root" / "rel" / "a.mp4")
    assert pair.path_b == f"{tmp_path}/abs.mp4"


def test_jsonl_accepts_int_labels_and_null(tmp_path):
    rows = [
        {"path_A": "a.mp4", "path_B": "b.mp4", "prompt": "p", "VQ": 1, "MQ": "same", "TA": -1},
        {"path_A": "a.mp4", "path_B": "c.mp4", "prompt": "p", "VQ": 0, "MQ": "B", "TA": "A",
         "fps_A": None, "num_frames_B": 16, "seed": 7},
    ]  # fmt: skip
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    first, second = load_pairs(tmp_path / "p.jsonl")
    assert first.labels == {"VQ": 1, "MQ": 0, "TA": -1}
    assert second.labels == {"VQ": 0, "MQ": -1, "TA": 1}
    assert second.fps_a is None and second.num_frames_b == 16 and second.meta == {"seed": "7"}


def test_parquet_with_typed_columns(tmp_path):
    table = pa.table(
        {
            "path_A": ["a.mp4"],
            "path_B": ["b.mp4"],
            "prompt": ["p"],
            "VQ": ["A"],
            "fps_A": pa.array([None], pa.float64()),
            "num_frames_A": pa.array([16], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    (pair,) = load_pairs(tmp_path / "p.parquet")
    assert pair.labels == {"VQ": 1} and pair.fps_a is None and pair.num_frames_a == 16


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_round_trip_is_exact(tmp_path, suffix):
    pairs = _pairs(tmp_path)
    out = save_pairs(pairs, tmp_path / f"pairs{suffix}")
    assert load_pairs(out) == pairs
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_round_trip_between_formats(tmp_path, suffix):
    (tmp_path / "bench.csv").write_text(BENCH_CSV)
    pairs = load_pairs(tmp_path / "bench.csv")
    assert load_pairs(save_pairs(pairs, tmp_path / f"copy{suffix}")) == pairs


def test_relative_to_makes_a_movable_file(tmp_path):
    pairs = _pairs(tmp_path / "data" / "videos")
    out = save_pairs(pairs, tmp_path / "data" / "pairs.csv", relative_to=tmp_path / "data")
    assert out.read_text().splitlines()[1].startswith("videos/a.mp4,videos/b.mp4,")
    moved = tmp_path / "moved"
    (tmp_path / "data").rename(moved)
    assert load_pairs(moved / "pairs.csv")[0].path_a == str(moved / "videos" / "a.mp4")


def test_relative_to_with_paths_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pair = PreferencePair("p", "ds/videos/a.mp4", "ds/videos/b.mp4", {"VQ": 1})
    save_pairs([pair], "ds/train.csv", relative_to="ds")
    assert "videos/a.mp4,videos/b.mp4" in (tmp_path / "ds" / "train.csv").read_text()
    loaded = load_pairs(tmp_path / "ds" / "train.csv")
    assert loaded[0].path_a == str(tmp_path / "ds" / "videos" / "a.mp4")


def test_save_refuses_pairs_that_would_not_load(tmp_path):
    pairs = _pairs(tmp_path)
    del pairs[1].labels["MQ"]
    pairs[0].labels["TA"] = 2
    with pytest.raises(PairDataError) as err:
        save_pairs(pairs, tmp_path / "bad.csv")
    text = str(err.value)
    assert "row 2: MQ: has no label" in text and "row 1: TA: label 2 is not 1, -1 or 0" in text
    assert not (tmp_path / "bad.csv").exists()


def test_save_refuses_bad_numbers_and_keeps_duplicates(tmp_path):
    pairs = _pairs(tmp_path)
    pairs[1].fps_b = float("nan")
    with pytest.raises(PairDataError, match="fps_B: expected a finite number"):
        save_pairs(pairs, tmp_path / "bad.jsonl")
    pairs = [*_pairs(tmp_path), _pairs(tmp_path)[0]]
    with pytest.warns(PairDataWarning, match="row 1 again in row"):
        save_pairs(pairs, tmp_path / "dupes.jsonl")
    with pytest.warns(PairDataWarning):
        assert load_pairs(tmp_path / "dupes.jsonl") == pairs
