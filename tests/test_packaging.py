"""What an installed wheel carries, and what the installed core loads."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import drift_tracking

PACKAGE = Path(drift_tracking.__file__).parent
ROOT = PACKAGE.parent


def _imports_demo(node: ast.AST) -> bool:
    """Whether an import statement loads ``drift_tracking.demo`` (absolutely or relatively)."""
    if isinstance(node, ast.Import):
        return any(a.name == "drift_tracking.demo" or a.name.startswith("drift_tracking.demo.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if node.level == 0 and module == "drift_tracking":
            return any(a.name == "demo" for a in node.names)
        if node.level == 0:
            return module == "drift_tracking.demo" or module.startswith("drift_tracking.demo.")
        return module.split(".")[0] == "demo" or (not module and any(a.name == "demo" for a in node.names))
    return False


def test_the_core_never_imports_the_demo_data():
    """Only the CLI's ``demo`` command (cli_demo.py) imports drift_tracking.demo, inside a function, when it runs."""
    allowed: set[int] = set()
    cli = ast.parse((PACKAGE / "cli_demo.py").read_text(encoding="utf-8"))
    for node in ast.walk(cli):
        if isinstance(node, ast.FunctionDef):
            allowed |= {id(n) for n in ast.walk(node)}
    trees = {path: (cli if path == PACKAGE / "cli_demo.py" else ast.parse(path.read_text(encoding="utf-8")))
             for path in PACKAGE.rglob("*.py") if "demo" not in path.relative_to(PACKAGE).parts}
    offenders = [f"{path.relative_to(ROOT)}:{node.lineno}"
                 for path, tree in trees.items() for node in ast.walk(tree)
                 if _imports_demo(node) and id(node) not in allowed]
    assert len(trees) > 20 and allowed
    assert not offenders, f"the core imports the demo data at {offenders}"


def test_every_data_file_of_the_package_ships_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = {
        path
        for package, patterns in config["tool"]["setuptools"]["package-data"].items()
        for pattern in patterns
        for path in (ROOT / package.replace(".", "/")).glob(pattern)
    }
    data = {p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc", ".pyo")}
    assert {PACKAGE / "demo" / "topics.json", PACKAGE / "templates" / "report.html"} <= data
    assert not data - shipped, f"not in pyproject's package-data: {sorted(map(str, data - shipped))}"
