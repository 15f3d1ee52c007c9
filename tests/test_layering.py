"""The import graph of ``hts``: every package depends only on packages below it, no circle.

Two checks of one table. Statically, every import in the source (module-level or inside a
function, under ``TYPE_CHECKING`` too) of every ``hts`` module is read with `ast`; at run
time, each package's modules are imported in a fresh interpreter, which reports the ``hts``
packages it pulled in. The static check sees imports that run only on some paths; the run
time check sees what a user's ``import`` really costs.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTS = ROOT / "hts"

#: Bottom to top: a package may import packages on lower levels only (not its own level).
#: Data first (wells, model files), then reading and writing images, the inference
#: backends, measuring masks, the results store, synthetic data, segmentation (which runs
#: the backends and measures), the orchestration on Dask, the growth analysis of stored
#: results, the report of that analysis, and the faces a user calls (CLI, test helpers).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"wells", "models"}),
    frozenset({"io"}),
    frozenset({"engines"}),
    frozenset({"measure"}),
    frozenset({"results"}),
    frozenset({"synth", "heldout"}),
    frozenset({"segment"}),
    frozenset({"distributed"}),
    frozenset({"analysis"}),
    frozenset({"report"}),
    frozenset({"cli", "testing"}),
)
LEVEL: dict[str, int] = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}

#: Top-level packages of this repository that ``hts`` never imports (flows and training
#: use hts, not the other way round), and libraries it must not need.
OUTSIDE = frozenset({"flows", "training", "benchmarks", "deploy", "prefect"})

#: Imports that break the table today, as (importing module, imported package), each being
#: removed on another branch of issue 14. Empty it as they go: a listed import that is no
#: longer there fails `test_known_violations_still_exist`.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(HTS.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _package(module: str) -> str:
    """``hts.io.omezarr`` -> ``io``; ``hts.wells`` -> ``wells``; ``hts`` -> ``hts``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imported(tree: ast.AST, module: str, *, is_package: bool) -> Iterator[tuple[str, int]]:
    """(absolute name, line) each import statement in ``tree`` may load (relative resolved)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)


@cache
def static_edges() -> dict[tuple[str, str], tuple[str, ...]]:
    """(importing module, imported package or outside name) -> where (``path:line``)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, path in _modules():
        if module == "hts":
            continue  # the root re-exports lazily; `test_the_root_...` checks it loads nothing
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        for name, line in sorted(set(_imported(tree, module, is_package=is_package))):
            top = name.split(".")[0]
            if top == "hts":
                target = _package(name)
                if target in ("hts", "__version__", _package(module)):
                    continue  # the root's version, or within its own package
            elif top in OUTSIDE:
                target = top
            else:
                continue
            edges.setdefault((module, target), []).append(f"{path.relative_to(ROOT)}:{line}")
    return {k: tuple(sorted(set(v))) for k, v in edges.items()}


def _allowed(package: str, target: str) -> bool:
    return target in LEVEL and LEVEL[target] < LEVEL[package]


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m, _ in _modules()} - {"hts"}
    assert packages == set(LEVEL), "place new packages in LAYERS, remove gone ones"


def test_no_package_imports_one_above_it_or_outside_hts() -> None:
    bad = {
        (module, target): where
        for (module, target), where in static_edges().items()
        if not _allowed(_package(module), target) and (module, target) not in KNOWN_VIOLATIONS
    }
    assert not bad, "imports against the layer table (LAYERS):\n" + "\n".join(
        f"  {m} imports {t} ({where[0]})" for (m, t), where in sorted(bad.items())
    )


def test_known_violations_still_exist() -> None:
    gone = KNOWN_VIOLATIONS - set(static_edges())
    assert not gone, f"fixed, remove from KNOWN_VIOLATIONS: {sorted(gone)}"


def test_the_package_graph_has_no_circle() -> None:
    graph: dict[str, set[str]] = {p: set() for p in LEVEL}
    for module, target in static_edges():
        if target in LEVEL and (module, target) not in KNOWN_VIOLATIONS:
            graph[_package(module)].add(target)
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, "import circle: " + " -> ".join((*path, package))
        if package in done:
            return
        for target in sorted(graph[package]):
            visit(target, (*path, package))
        done.add(package)

    for package in sorted(graph):
        visit(package, ())


def test_the_root_package_imports_nothing_of_hts() -> None:
    assert sorted(_pulled_in("hts")) == []


# --- at run time ----------------------------------------------------------------------------
_REPORT = """
import importlib, json, pkgutil, sys
name = sys.argv[1]
module = importlib.import_module(name)
if hasattr(module, "__path__") and name != "hts":
    for info in pkgutil.walk_packages(module.__path__, name + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
loaded = {m.split(".")[1] for m in sys.modules if m.startswith("hts.")}
outside = {m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2]))
print(json.dumps(sorted(loaded | outside)))
"""


def _pulled_in(module: str) -> set[str]:
    """Packages (of hts, or outside names) loaded by importing ``module`` and its modules."""
    done = subprocess.run(
        [sys.executable, "-c", _REPORT, module, json.dumps(sorted(OUTSIDE))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    own = {_package(module)} if module != "hts" else set()
    return set(json.loads(done.stdout.splitlines()[-1])) - own


def _reachable_by_known_violations(package: str) -> set[str]:
    """Packages a known violation lets ``package`` load, and what they may load."""
    out: set[str] = set()
    todo = [package]
    while todo:
        pkg = todo.pop()
        for module, target in KNOWN_VIOLATIONS:
            if _package(module) == pkg and target not in out:
                out.add(target)
                todo.append(target)
                out.update(p for p in LEVEL if target in LEVEL and _allowed(target, p))
    return out


@pytest.mark.parametrize("package", sorted(LEVEL))
def test_importing_a_package_pulls_in_only_packages_below_it(package: str) -> None:
    pulled = _pulled_in(f"hts.{package}")
    excused = _reachable_by_known_violations(package)
    above = {p for p in pulled if not _allowed(package, p) and p not in excused}
    assert not above, f"import hts.{package} (all its modules) loads {sorted(above)}"


def test_architecture_doc_names_modules_that_exist_and_the_layer_table() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`(hts/[\w/]+\.py)`", text))
    assert len(named) >= 20 and not {p for p in named if not (ROOT / p).is_file()}
    table = re.search(r"\n    (wells.*?)\n\n", text, flags=re.S)
    assert table is not None
    levels = [
        frozenset(p.strip() for p in level.split(","))
        for level in " ".join(table.group(1).split()).split(" -> ")
    ]
    assert tuple(levels) == LAYERS
