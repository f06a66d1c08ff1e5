"""The project's own hygiene: declared dependencies, import cycles, make targets, pip."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "storywatch"
# Declared but never imported by name, each for a reason.
NOT_IMPORTED = {
    "lxml-html-clean": "trafilatura imports lxml.html.clean, split out of lxml 5.2",
    "psycopg": "SQLAlchemy's postgresql+psycopg dialect imports it",
    "pika": "Dramatiq's RabbitmqBroker imports it (cluster mode on RabbitMQ)",
    "python-multipart": "FastAPI imports it (as python_multipart) to read the web app's forms",
}


# Imported but not declared, each for a reason.
NOT_DECLARED = {
    "click": "imported only if present, for typer < 0.22 (newer typer vendors click)",
}


# Import name → distribution, for optional extras that a clean install lacks (then
# packages_distributions() cannot tell, and CI failed on `sklearn` once).
IMPORT_TO_DISTRIBUTION = {
    "sklearn": "scikit-learn",
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        if extra != "test":
            requirements += items
    return {_normal(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def test_every_imported_library_is_declared_and_every_declared_one_used() -> None:
    modules = set().union(*(_imports(p) for p in PACKAGE.rglob("*.py")))
    third_party = modules - set(sys.stdlib_module_names) - {"storywatch"}
    distributions = importlib.metadata.packages_distributions()
    imported = {_normal(dist) for module in third_party
                for dist in distributions.get(module, [IMPORT_TO_DISTRIBUTION.get(module, module)])}
    declared = _declared()
    assert imported - declared - set(NOT_DECLARED) == set(), "imported, not declared"
    assert declared - imported - set(NOT_IMPORTED) == set(), "declared but never imported"


def _import_graph() -> dict[str, set[str]]:
    """Module → the storywatch modules it imports, at any level (functions included)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else name.rsplit(".", 1)[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("storywatch")}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                if module.startswith("storywatch"):
                    targets.add(module)
                    targets |= {f"{module}.{a.name}" for a in node.names}
        graph[name] = targets
    return {name: {t for t in targets if t in graph and t != name}
            for name, targets in graph.items()}


def test_no_import_cycles_among_modules() -> None:
    """No two modules import each other, directly or through others (package __init__s,
    which re-export their modules, excepted)."""
    graph = _import_graph()
    modules = {name for name in graph if not (PACKAGE / Path(*name.split(".")[1:])).is_dir()}
    edges = {name: graph[name] & modules for name in modules}
    cycles = []
    for start in sorted(modules):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in edges[node]:
                if nxt == start:
                    cycles.append(path)
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert cycles == [], f"import cycles: {cycles[:3]}"


def test_pip_minimum_is_checked() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from check_pip import problem
    finally:
        sys.path.remove(str(REPO / "scripts"))
    old = problem("23.2.1")
    assert old and "23.3" in old and "install --upgrade pip" in old
    assert problem("23.3") is None and problem("24.0") is None and problem("26.3") is None
    assert problem(None)
    here = subprocess.run([sys.executable, str(REPO / "scripts" / "check_pip.py")],
                          capture_output=True, text=True)
    assert here.returncode == 0, here.stderr  # this virtualenv was set up by make


def _make_dry_run(target: str) -> str:
    done = subprocess.run(["make", "-n", "-B", target, "VENV=/nonexistent-venv"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_setup_checks_pip_before_installing() -> None:
    lines = _make_dry_run("setup").splitlines()
    check = next(i for i, line in enumerate(lines) if "check_pip.py" in line)
    install = next(i for i, line in enumerate(lines) if "pip install --quiet -e" in line)
    upgrade = next(i for i, line in enumerate(lines) if "--upgrade pip" in line)
    assert upgrade < check < install


def test_make_test_all_runs_the_slow_loops_with_the_train_extra() -> None:
    out = _make_dry_run("test-all")
    assert "[postgres,cluster,test,train]" in out
    (run,) = [line for line in out.splitlines() if "scripts/test.sh" in line]
    assert '-m "slow or not slow"' in run
