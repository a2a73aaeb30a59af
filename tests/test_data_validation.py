"""Every kind of bad row gets its own clear error, and all bad rows are reported at once."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidalign.data import PairDataError, PairDataWarning, load_pairs

HEADER = "path_A,path_B,prompt,VQ,MQ,TA,fps_A,num_frames_A,fps_B,num_frames_B,MOS_A_VQ\n"
GOOD = "a.mp4,b.mp4,a red circle,A,B,same,8,16,8,16,3.5\n"

# (bad row, field, reason fragment)
BAD_ROWS = [
    ("a.mp4,b.mp4,p1,a,B,same,8,16,8,16,3\n", "VQ", "'a' is not a label"),
    ("a.mp4,b.mp4,p2,A,Same,same,8,16,8,16,3\n", "MQ", "'Same' is not a label"),
    ("a.mp4,b.mp4,p3,A,B,1,8,16,8,16,3\n", "TA", "'1' is not a label"),
    ("a.mp4,b.mp4,p4,A,B,,8,16,8,16,3\n", "TA", "is missing"),
    ("a.mp4,b.mp4,,A,B,same,8,16,8,16,3\n", "prompt", "is missing"),
    ("a.mp4,b.mp4,   ,A,B,same,8,16,8,16,3\n", "prompt", "is blank"),
    (",b.mp4,p5,A,B,same,8,16,8,16,3\n", "path_A", "is missing"),
    ("a.mp4,b.mp4,p6,A,B,same,nan,16,8,16,3\n", "fps_A", "expected a finite number, got nan"),
    ("a.mp4,b.mp4,p7,A,B,same,inf,16,8,16,3\n", "fps_A", "expected a finite number, got inf"),
    ("a.mp4,b.mp4,p8,A,B,same,fast,16,8,16,3\n", "fps_A", "expected a number, got 'fast'"),
    ("a.mp4,b.mp4,p9,A,B,same,8,16,0,16,3\n", "fps_B", "frame rate must be > 0"),
    ("a.mp4,b.mp4,p10,A,B,same,8,16,-2,16,3\n", "fps_B", "frame rate must be > 0"),
    ("a.mp4,b.mp4,p11,A,B,same,8,16.5,8,16,3\n", "num_frames_A", "expected an integer >= 1"),
    ("a.mp4,b.mp4,p12,A,B,same,8,16,8,0,3\n", "num_frames_B", "expected an integer >= 1"),
    ("a.mp4,b.mp4,p13,A,B,same,8,16,8,16,NaN\n", "MOS_A_VQ", "expected a finite number"),
    ("a.mp4,a.mp4,p14,A,B,same,8,16,8,16,3\n", "path_B", "same video as path_A"),
    ("a.mp4,b.mp4,p\x00x,A,B,same,8,16,8,16,3\n", "prompt", "character U+0000 at position 1"),
    ("a.mp4,b.mp4,p\x1b[2J,A,B,same,8,16,8,16,3\n", "prompt", "control character U+001B"),
    ("a.mp4,b.mp4,p\x7f,A,B,same,8,16,8,16,3\n", "prompt", "control character U+007F"),
    ("a\x00.mp4,b.mp4,p16,A,B,same,8,16,8,16,3\n", "path_A", "NUL byte at position 1"),
    ("a.mp4,b.mp4,p15,A,B\n", None, "has 5 fields but the header has 11"),
]


@pytest.mark.parametrize(("row", "field", "reason"), BAD_ROWS)
def test_each_bad_row_kind(tmp_path, row, field, reason):
    path = tmp_path / "pairs.csv"
    path.write_text(HEADER + GOOD + row)
    with pytest.raises(PairDataError) as err:
        load_pairs(path)
    (issue,) = err.value.issues
    assert (issue.file, issue.row, issue.line, issue.field) == (str(path), 2, 3, field)
    assert reason in issue.reason
    where = f"{path}: row 2 (line 3): " + (f"{field}: " if field else "")
    assert where + issue.reason in str(err.value)


def test_all_bad_rows_are_reported_together(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(HEADER + GOOD + "".join(row for row, _, _ in BAD_ROWS))
    with pytest.raises(PairDataError) as err:
        load_pairs(path)
    rows = sorted({issue.row for issue in err.value.issues})
    assert rows == list(range(2, 2 + len(BAD_ROWS)))
    assert f"in {len(BAD_ROWS)} row(s)" in str(err.value)


def test_repeated_rows_are_a_warning_and_kept(tmp_path):
    rows = [f"a{i}.mp4,b{i}.mp4,p{i},A,B,same,,,,,\n" for i in range(3)]
    path = tmp_path / "pairs.csv"
    path.write_text(HEADER + "".join(rows * 4))  # 3 pairs, each 4 times (A/B swapped once)
    path.write_text(path.read_text().replace("a0.mp4,b0.mp4,p0", "b0.mp4,a0.mp4,p0", 1))
    with pytest.warns(PairDataWarning) as caught:
        pairs = load_pairs(path)
    assert len(pairs) == 12  # the file as given
    (warning,) = caught
    text = str(warning.message)
    assert text.startswith(f"{path}: 9 row(s) repeat 3 earlier one(s)")
    assert "row 1 again in row(s) 4, 7, 10; row 2 again in row(s) 5, 8, 11" in text
    with pytest.raises(PairDataError) as err:
        load_pairs(path, strict=True)
    assert [i.row for i in err.value.issues] == list(range(4, 13))
    assert f"{path}: row 4 (line 5): duplicate of row 1" in str(err.value)


def test_unterminated_quote_names_the_row_where_it_opened(tmp_path):
    path = tmp_path / "pairs.csv"
    unclosed = 'a.mp4,c.mp4,"a blue square,A,B,same,8,16,8,16,3\n'
    path.write_text(HEADER + GOOD + unclosed + GOOD.replace("b.mp4", "d.mp4") * 3)
    with pytest.raises(PairDataError) as err:
        load_pairs(path)
    (issue,) = err.value.issues
    assert (issue.row, issue.line, issue.field) == (2, 3, None)
    assert issue.reason.startswith("unterminated quote: a quoted field opened in this row")
    assert f"{path}: row 2 (line 3): unterminated quote" in str(err.value)


def test_stray_quote_is_an_error_and_later_rows_are_read(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(HEADER + 'a.mp4,"b.mp4"x,p,A,B,same,,,,,\n' + "c.mp4,d.mp4,p,A,B,x,,,,,\n")
    with pytest.raises(PairDataError) as err:
        load_pairs(path)
    assert [(i.row, i.line, i.field) for i in err.value.issues] == [(1, 2, None), (2, 3, "TA")]
    assert "malformed CSV" in err.value.issues[0].reason


def test_one_row_with_several_problems_lists_each(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(HEADER + "a.mp4,b.mp4,,X,Y,Z,0,0,nan,x,y\n")
    with pytest.raises(PairDataError) as err:
        load_pairs(path)
    fields = [i.field for i in err.value.issues]
    expected = ["prompt", "VQ", "MQ", "TA", "fps_A", "fps_B", "num_frames_A", "num_frames_B"]
    assert fields == [*expected, "MOS_A_VQ"]


def test_missing_video_files(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    path = tmp_path / "pairs.csv"
    path.write_text(HEADER + GOOD + "a.mp4,c.mp4,p,A,B,same,,,,,\n")
    assert len(load_pairs(path)) == 2  # files are not checked unless asked
    with pytest.raises(PairDataError) as err:
        load_pairs(path, check_files=True)
    assert [(i.row, i.field) for i in err.value.issues] == [(1, "path_B"), (2, "path_B")]
    assert f"video file not found: {tmp_path / 'b.mp4'}" in str(err.value)


def test_prompt_may_hold_tabs_and_newlines(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(HEADER + 'a.mp4,b.mp4,"two\tlines\r\nof text",A,B,same,,,,,\n')
    assert load_pairs(path)[0].prompt == "two\tlines\r\nof text"


def test_jsonl_row_errors(tmp_path):
    good = {"path_A": "a.mp4", "path_B": "b.mp4", "prompt": "p", "VQ": "A"}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps(good | {"prompt": 42, "path_B": "c.mp4"}),
        json.dumps(good | {"VQ": 2, "path_B": "d.mp4"}),
        json.dumps(good | {"VQ": True, "path_B": "e.mp4"}),
        json.dumps(good | {"fps_A": "NaN", "path_B": "f.mp4"}),
        json.dumps(good | {"extra": {"nested": 1}, "path_B": "g.mp4"}),
        '{"path_A": "a.mp4", "path_B": "h.mp4", "prompt": "p", "VQ": "A", "VQ": "B"}',
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PairDataError) as err:
        load_pairs(path)
    got = [(i.row, i.field) for i in err.value.issues]
    assert got == [
        (2, None),
        (3, None),
        (4, "prompt"),
        (5, "VQ"),
        (6, "VQ"),
        (7, "fps_A"),
        (8, "extra"),
        (9, "VQ"),
    ]
    text = str(err.value)
    assert "invalid JSON" in text and "expected a JSON object" in text
    assert "prompt: expected text, got int 42" in text
    assert f"{path}: row 9 (line 9): VQ: key given more than once in the object" in text


def test_jsonl_whose_every_row_is_unreadable_reports_the_rows(tmp_path):
    # no object could be read, so the file's columns are unknown: not "missing columns"
    path = tmp_path / "pairs.jsonl"
    row = '{"path_A": "a.mp4", "path_B": "b.mp4", "prompt": "p", "VQ": "A", "VQ": "B"}'
    path.write_text(row + "\n{not json\n")
    with pytest.raises(PairDataError) as err:
        load_pairs(path)
    assert [(i.row, i.field) for i in err.value.issues] == [(1, "VQ"), (2, None)]
    assert "key given more than once" in str(err.value) and "missing column" not in str(err.value)


def test_parquet_row_errors(tmp_path):
    table = pa.table(
        {
            "path_A": ["a.mp4", "a.mp4"],
            "path_B": ["b.mp4", "c.mp4"],
            "prompt": ["p", "p"],
            "VQ": ["A", "tie"],
            "fps_A": pa.array([float("nan"), 8.0]),
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    with pytest.raises(PairDataError) as err:
        load_pairs(tmp_path / "p.parquet")
    assert [(i.row, i.line, i.field) for i in err.value.issues] == [
        (1, None, "fps_A"),
        (2, None, "VQ"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("p.csv", None, "pair file not found"),
        ("p.txt", "x", "unknown pair file type"),
        ("p.csv", "", "empty file; expected a header row"),
        ("p.csv", "path_A,prompt,VQ\na,p,A\n", r"missing column\(s\) \['path_B'\]"),
        ("p.csv", "path_A,path_B,prompt,note\na,b,p,n\n", "no label columns found"),
        ("p.csv", "path_A,path_B,prompt,VQ\n", "no pairs: the file has no data rows"),
        ("p.csv", "path_A,path_B,prompt,VQ\n\n\n", "no pairs: the file has no data rows"),
        ("p.csv", "path_A,path_A,path_B,prompt,VQ\n", "repeated column name"),
        ("p.jsonl", "", "empty file; expected one JSON object per line"),
        ("p.jsonl", "\n  \n", "empty file; expected one JSON object per line"),
        ("p.parquet", "not parquet", "not a readable Parquet file"),
    ],
)
def test_file_level_errors(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(PairDataError, match=reason) as err:
        load_pairs(path)
    assert str(path) in str(err.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"path_A,path_B,prompt,VQ\na,b,\xff\xfe caf\xe9,A\n")
    with pytest.raises(PairDataError, match="not UTF-8"):
        load_pairs(path)
