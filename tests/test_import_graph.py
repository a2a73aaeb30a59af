"""Dependencies run one way: no library module imports the command-line layer."""

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
