"""``vidalign data check`` and ``vidalign data convert`` through the real entry point."""

import json

import pytest
import torch

from vidalign.cli.main import main
from vidalign.data import load_pairs
from vidalign.video import write_video

BENCH = """\
path_A,path_B,A_model,B_model,prompt,VQ,MQ,TA,Overall
v/1.mp4,v/2.mp4,old-1,new-2,p one,A,same,A,A
v/3.mp4,v/4.mp4,new-2,new-3,p two,B,same,same,same
v/1.mp4,v/4.mp4,old-1,new-3,p one,same,A,B,B
v/2.mp4,v/3.mp4,new-2,new-3,p three,A,same,B,A
"""


def test_check_good_file_prints_counts(tmp_path, capsys):
    (tmp_path / "bench.csv").write_text(BENCH)
    assert main(["data", "check", str(tmp_path / "bench.csv")]) == 0
    out = capsys.readouterr().out
    assert "4 pairs, 3 prompts, 4 videos" in out
    assert "MQ" in out and "75.0%" in out  # MQ: 3 ties of 4
    assert "new-3" in out  # the models table
    assert "(video files not checked: --check-files, or --decode)" in out  # v/1.mp4 ... absent
    assert main(["data", "check", str(tmp_path / "bench.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files_checked"] is False


def test_check_header_only_file_is_an_error(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text(BENCH.splitlines()[0] + "\n")
    assert main(["data", "check", str(tmp_path / "empty.csv")]) == 2
    assert f"{tmp_path / 'empty.csv'}: no pairs" in capsys.readouterr().err


def test_check_json_stats(tmp_path, capsys):
    (tmp_path / "bench.csv").write_text(BENCH)
    assert main(["data", "check", str(tmp_path / "bench.csv"), "--json", "--dims", "VQ"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["labels"]["VQ"] == {"A": 2, "B": 1, "same": 1, "total": 4, "tie_rate": 0.25}
    assert list(stats["labels"]) == ["VQ", "Overall"]
    assert stats["models"]["new-2"] == {"pairs": 3, "as_A": 2, "as_B": 1}


def test_check_bad_file_exits_2_with_every_problem(tmp_path, capsys):
    bad = BENCH.replace("p two,B,", "p two,b,").replace("p three,A,same,B,A", "p three,A,same,B,")
    (tmp_path / "bad.csv").write_text(bad)
    assert main(["data", "check", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s) in 2 row(s)" in err
    assert "row 2 (line 3): VQ: 'b' is not a label" in err
    assert "row 4 (line 5): Overall: is missing" in err
    assert "Traceback" not in err


def test_check_warns_on_repeated_rows_and_strict_refuses(tmp_path, capsys):
    rows = BENCH.splitlines(keepends=True)
    (tmp_path / "rep.csv").write_text(rows[0] + "".join(rows[1:4]) * 4)  # 3 pairs, 4 times each
    assert main(["data", "check", str(tmp_path / "rep.csv")]) == 0
    out = capsys.readouterr()
    assert "12 pairs" in out.out and "problem" not in out.err
    assert "warning" in out.err and "9 row(s) repeat 3 earlier one(s)" in out.err
    assert "row 1 again in row(s) 4, 7, 10" in out.err
    assert main(["data", "check", str(tmp_path / "rep.csv"), "--json"]) == 0
    assert "9 row(s) repeat" in json.loads(capsys.readouterr().out)["warnings"][0]
    assert main(["data", "check", str(tmp_path / "rep.csv"), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "9 problem(s) in 9 row(s)" in err and "row 4 (line 5): duplicate of row 1" in err


def test_check_files_flag(tmp_path, capsys):
    (tmp_path / "bench.csv").write_text(BENCH)
    assert main(["data", "check", str(tmp_path / "bench.csv"), "--check-files"]) == 2
    assert "video file not found" in capsys.readouterr().err
    (tmp_path / "v").mkdir()
    for i in range(1, 5):
        (tmp_path / "v" / f"{i}.mp4").write_bytes(b"x")
    assert main(["data", "check", str(tmp_path / "bench.csv"), "--check-files"]) == 0


def test_decode_reports_every_video_that_does_not_decode_at_each_row_and_field(tmp_path, capsys):
    (tmp_path / "bench.csv").write_text(BENCH)
    frames = torch.randint(0, 255, (6, 3, 16, 16), dtype=torch.uint8)
    for i in (1, 2, 4):
        write_video(tmp_path / "v" / f"{i}.mp4", frames, fps=8.0)
    clip = (tmp_path / "v" / "2.mp4").read_bytes()
    (tmp_path / "v" / "2.mp4").write_bytes(b"\x00not a video" * 10)  # v/3.mp4 is missing
    argv = ["data", "check", str(tmp_path / "bench.csv"), "--decode", "--workers", "2"]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    two, three = tmp_path / "v" / "2.mp4", tmp_path / "v" / "3.mp4"
    assert "4 problem(s) in 3 row(s)" in err
    assert f"row 1: path_B: {two}: not a readable video file (Invalid data" in err
    assert f"row 2: path_A: {three}: video file not found" in err
    assert f"row 4: path_A: {two}: not a readable" in err
    assert f"row 4: path_B: {three}: video file not found" in err
    (tmp_path / "v" / "2.mp4").write_bytes(clip)
    (tmp_path / "v" / "3.mp4").write_bytes(clip)
    assert main(argv) == 0  # with the progress bar, on stderr
    captured = capsys.readouterr()
    assert "4 pairs, 3 prompts, 4 videos (every video decodes)" in captured.out
    assert "decode" in captured.err
    assert main([*argv, "--json", "--no-progress"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["videos_decoded"] is True and stats["files_checked"] is True
    with pytest.raises(SystemExit):
        main([*argv, "--workers", "0"])
    assert "expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_convert_csv_to_jsonl_and_parquet(tmp_path, capsys):
    (tmp_path / "bench.csv").write_text(BENCH)
    original = load_pairs(tmp_path / "bench.csv")
    out_dir = tmp_path / "out"
    for suffix in (".jsonl", ".parquet"):
        out = tmp_path / f"bench{suffix}"
        assert main(["data", "convert", str(tmp_path / "bench.csv"), str(out)]) == 0
        assert load_pairs(out) == original
    out_dir.mkdir()
    assert main(["data", "convert", str(tmp_path / "bench.csv"), str(out_dir / "b.jsonl")]) == 0
    first = json.loads((out_dir / "b.jsonl").read_text().splitlines()[0])
    assert first["path_A"] == "../v/1.mp4" or first["path_A"].endswith("/v/1.mp4")
    assert load_pairs(out_dir / "b.jsonl") == original
