"""Prompt-set readers (.txt, .jsonl, VBench .json, CSV) and their errors."""

import json

import pytest

from vidalign.eval.prompt_sets import PromptSetError, read_prompt_set


def test_plain_text_skips_blank_lines_and_strips(tmp_path):
    f = tmp_path / "general.txt"
    f.write_text("a cat runs\n\n  a dog sits  \n")
    assert read_prompt_set(f) == ["a cat runs", "a dog sits"]


def test_jsonl_with_any_accepted_field(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "one"}\n\n{"caption": "two", "id": 3}\n{"Prompt": "three"}\n')
    assert read_prompt_set(f) == ["one", "two", "three"]
    f.write_text('{"prompt": "one"}\n{"text": "two"}\n')
    with pytest.raises(PromptSetError, match=r"p.jsonl:2: no prompt field.*\['text'\]"):
        read_prompt_set(f)
    f.write_text('{"prompt": "one"}\n{"prompt": 5}\n')
    with pytest.raises(PromptSetError, match=r"p.jsonl:2: field 'prompt' must be non-empty text"):
        read_prompt_set(f)
    f.write_text('{"prompt": "one"}\nnot json\n')
    with pytest.raises(PromptSetError, match=r"p.jsonl:2: not JSON"):
        read_prompt_set(f)


def test_vbench_info_json_and_dimension_filter(tmp_path):
    f = tmp_path / "VBench_full_info.json"
    f.write_text(
        json.dumps(
            [
                {"prompt_en": "a red car", "dimension": ["color", "object_class"]},
                {"prompt_en": "a person running", "dimension": ["human_action"]},
                {"prompt_en": "a blue bird", "dimension": ["color"]},
            ]
        )
    )
    assert read_prompt_set(f) == ["a red car", "a person running", "a blue bird"]
    assert read_prompt_set(f, dimension="color") == ["a red car", "a blue bird"]
    with pytest.raises(PromptSetError, match="no prompts for dimension 'scene'"):
        read_prompt_set(f, dimension="scene")
    f.write_text(json.dumps(["x", "y"]))
    assert read_prompt_set(f) == ["x", "y"]
    f.write_text(json.dumps({"prompt": "x"}))
    with pytest.raises(PromptSetError, match="expected a JSON list"):
        read_prompt_set(f)


def test_csv_columns_and_row_errors(tmp_path):
    f = tmp_path / "ta_hard.csv"
    f.write_text('id,Prompt,category\n1,"a cat, and a dog",animals\n2,a boat,vehicles\n')
    assert read_prompt_set(f) == ["a cat, and a dog", "a boat"]
    f.write_text("id,text\n1,a cat\n")
    with pytest.raises(PromptSetError, match=r"ta_hard.csv: no prompt column.*\['id', 'text'\]"):
        read_prompt_set(f)
    f.write_text("id,prompt\n1,a cat\n2,\n")
    with pytest.raises(
        PromptSetError, match=r"ta_hard.csv: row 3: field 'prompt' must be non-empty"
    ):
        read_prompt_set(f)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(PromptSetError, match="prompt file not found"):
        read_prompt_set(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(PromptSetError, match="no prompts"):
        read_prompt_set(tmp_path / "empty.txt")
