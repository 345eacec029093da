"""The rooms of the house and what each may import, read from the code with ast (README: Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# room -> the rooms it must never import. A room is a folder; the first matching prefix wins.
ROOMS = {
    "ecsops/cli": "ecsops.cli",
    "ecsops/deploy": "ecsops.deploy",
    "ecsops/replace": "ecsops.replace",
    "ecsops/fleet": "ecsops.fleet",
    "ecsops/aws": "ecsops.aws",
    "ecsops/sim": "ecsops.sim",
    "ecsops/demo": "ecsops.demo",
    "machines": "machines",
    "store": "store",
}
PRODUCT = ("ecsops", "machines", "store")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "store": ("machines", "ecsops"),
    "machines": ("ecsops",),
    "ecsops.aws": ("ecsops.cli", "ecsops.deploy", "ecsops.replace", "ecsops.fleet", "ecsops.demo", "ecsops.sim",
                   "machines", "store"),
    "ecsops.deploy": ("ecsops.replace", "ecsops.fleet", "ecsops.cli", "ecsops.demo", "ecsops.sim"),
    "ecsops.replace": ("ecsops.deploy", "ecsops.fleet", "ecsops.cli", "ecsops.demo", "ecsops.sim"),
    # A fleet is many deploys: it builds on deploy's handlers, never the other way round.
    "ecsops.fleet": ("ecsops.replace", "ecsops.cli", "ecsops.demo", "ecsops.sim"),
    "ecsops.sim": ("ecsops.cli", "ecsops.deploy", "ecsops.replace", "ecsops.fleet", "ecsops.aws", "ecsops.demo",
                   "machines", "store"),
}


def _modules() -> list[Path]:
    return sorted(p for top in PRODUCT for p in (ROOT / top).rglob("*.py"))


def _room(path: Path) -> str:
    relative = path.relative_to(ROOT).as_posix()
    for prefix, room in ROOMS.items():
        if relative.startswith(prefix + "/"):
            return room
    return relative.split("/")[0]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _violations(rule_room: str, banned: tuple[str, ...]) -> list[str]:
    found = []
    for path in _modules():
        if _room(path) != rule_room:
            continue
        for name in _imports(path):
            if any(name == b or name.startswith(b + ".") for b in banned):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return sorted(found)


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_only_what_the_layout_allows(room: str) -> None:
    assert _violations(room, FORBIDDEN[room]) == []


def test_only_cli_and_demo_start_the_simulator() -> None:
    users = {_room(path) for path in _modules() if any(n.startswith("ecsops.sim") for n in _imports(path))}
    assert users <= {"ecsops.cli", "ecsops.demo", "ecsops.sim"}


def test_only_cli_and_demo_print_or_exit() -> None:
    """Library rooms never write to the terminal nor raise typer.Exit: they raise typed errors."""
    offenders = []
    for path in _modules():
        if _room(path) in ("ecsops.cli", "ecsops.demo", "ecsops.sim"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} print()")
            if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") and (
                isinstance(node.value, ast.Name) and node.value.id == "sys"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} sys.{node.attr}")
        if "typer" in _imports(path):
            offenders.append(f"{path.relative_to(ROOT)} imports typer")
    assert offenders == []


def test_every_product_module_sits_in_a_room() -> None:
    """No module lies loose at the top of ecsops/: each belongs to one folder with one job."""
    loose = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "ecsops").glob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    ]
    assert loose == []


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The reader itself works: a planted import is seen."""
    planted = tmp_path / "x.py"
    planted.write_text("from ecsops.cli.app import app\nimport machines.engine as e\n")
    assert {"ecsops.cli.app", "ecsops.cli.app.app", "machines.engine"} <= _imports(planted)


def test_the_product_never_imports_the_dev_tools() -> None:
    """devtools/ (the bench, the README's diagrams) is not in the installed package."""
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for path in _modules() for name in _imports(path)
                 if name == "devtools" or name.startswith("devtools.")]
    assert offenders == []
