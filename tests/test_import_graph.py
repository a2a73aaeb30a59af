"""Dependencies run one way: no library module imports the command-line layer, and the
real-model library never imports the synthetic world, directly or through other modules."""

import ast
from pathlib import Path

import vidalign

ROOT = Path(vidalign.__file__).parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_no_library_module_imports_the_cli():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        bad = sorted(
            n for n in _imports(path) if n == "vidalign.cli" or n.startswith("vidalign.cli.")
        )
        if bad:
            offenders.append(f"{rel}: {bad}")
    assert not offenders, "library modules import vidalign.cli: " + "; ".join(offenders)


DEMO_LINE = ("config", "stages", "arms", "findings", "chart", "report", "evaluate", "pipeline")
"""The demo's modules, each importing only those before it (lazy imports inside functions
count too): the report is a function of what the stages recorded, and only the pipeline
knows every stage."""


def test_the_demo_modules_import_one_way():
    demo = ROOT / "demo"
    assert sorted(DEMO_LINE) == sorted(p.stem for p in demo.glob("*.py") if p.stem != "__init__")
    offenders = []
    for k, name in enumerate(DEMO_LINE):
        used = {n.split(".")[2] for n in _imports(demo / f"{name}.py")
                if n.startswith("vidalign.demo.") and n.count(".") >= 2}  # fmt: skip
        later = sorted(used & set(DEMO_LINE[k + 1 :]))
        if later:
            offenders.append(f"demo/{name}.py imports {later}")
    assert not offenders, "; ".join(offenders)


LIBRARY = ("reward", "policy", "align", "guidance", "eval")
"""The real-model library: it never imports the synthetic world (DESIGN.md, Boundaries); the
CLI and the demo build the oracle (``vidalign.synth.scorers``) and pass it in."""


def _is_synth(name: str) -> bool:
    return name == "vidalign.synth" or name.startswith("vidalign.synth.")


def test_no_library_module_imports_the_synthetic_world():
    offenders = []
    for package in LIBRARY:
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = sorted(n for n in _imports(path) if _is_synth(n))
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {bad}")
    assert not offenders, "library modules import vidalign.synth: " + "; ".join(offenders)


def _module_file(name: str) -> Path | None:
    """The file of module ``name`` (``vidalign.a.b``), or None when it names no module."""
    rel = Path(*name.split(".")[1:])
    for path in (ROOT / rel / "__init__.py", (ROOT / rel).with_suffix(".py")):
        if name != "vidalign" and path.is_file():
            return path
    return ROOT / "__init__.py" if name == "vidalign" else None


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(("vidalign", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def test_the_library_does_not_reach_the_synthetic_world_through_other_modules():
    """Every vidalign module a library module loads, its packages' ``__init__`` included."""
    offenders = []
    for package in LIBRARY:
        for start in sorted((ROOT / package).rglob("*.py")):
            seen, todo = set(), [_module_name(start)]
            while todo:
                name = todo.pop()
                parts = name.split(".")
                for k in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                    mod = ".".join(parts[:k])
                    path = _module_file(mod)
                    if path is None or mod in seen:
                        continue
                    seen.add(mod)
                    todo += [n for n in _imports(path) if n.startswith("vidalign")]
            reached = sorted(m for m in seen if _is_synth(m))
            if reached:
                offenders.append(f"{start.relative_to(ROOT)} reaches {reached}")
    assert not offenders, "; ".join(offenders)
