"""The house as a newcomer reads it: one package per stage, imports flowing one way, no cycles,
modules short enough to read in one sitting, and ``import stiqa`` light."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "stiqa"
#: the pipeline from left to right; a module may import its own stage and stages to its left
STAGES = ["text", "ingest", "catalog", "ledger", "index", "retrieve", "answer", "chat", "engine", "evaluate"]
FACES = {"cli", "web", "http_api", "llamaindex"}
SHARED = {"config", "records", "errors", ""}  # "" is the package itself (the Python API, lazy)
MAX_LINES = 400


def _module(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["stiqa", *parts])


def _imports(path: Path) -> set[str]:
    """Every stiqa module this file imports, at the top or inside a function, but not the imports
    made only for type checkers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stiqa"):
            for alias in node.names:  # "from stiqa.chat import feedback" imports a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _exists(sub) else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("stiqa"))
    return found


def _exists(module: str) -> bool:
    p = SRC.parent.joinpath(*module.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


GRAPH = {_module(p): _imports(p) for p in sorted(SRC.rglob("*.py"))}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_stage_is_a_package():
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    assert set(STAGES) - {"engine"} <= packages
    assert len(packages & set(STAGES)) >= 8


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_stages_to_its_left(module):
    """The pipeline never imports a face; faces (the CLI starts the web app and the HTTP API) may
    use each other and every stage."""
    stage = _stage(module)
    if stage in FACES or stage == "":
        return
    assert stage in STAGES or stage in SHARED, f"{module} sits in no known stage"
    rank = STAGES.index(stage) if stage in STAGES else -1
    for target in GRAPH[module]:
        t = _stage(target)
        if t in SHARED:
            assert t != "", f"{module} imports the package's Python API"
            continue
        assert t not in FACES, f"{module} imports the face {target}"
        assert STAGES.index(t) <= rank, f"{module} ({stage}) imports {target} ({t}), a stage to its right"


def test_there_are_no_import_cycles():
    seen: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for t in sorted(GRAPH.get(m, ())):
            if t not in GRAPH:
                continue
            if seen.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(t):], t]) if t in path else t)
            if t not in seen:
                visit(t, [*path, t])
        seen[m] = 2

    for m in sorted(GRAPH):
        if m not in seen:
            visit(m, [m])


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_is_longer_than_one_sitting(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines"


def test_import_stiqa_loads_no_heavy_library():
    code = ("import sys, stiqa; heavy = {'torch', 'chromadb', 'gradio', 'llama_index'}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
