"""The package's rooms and the direction of its imports.

Every module under jaxgan/ belongs to a room (its subpackage, or for a top-level module the module
itself). A room may import its own modules, the rooms below it in `LAYERS` and, from
`SIDE_ROOMS_FROM` up, the side rooms; a side room may import only what `SIDE_ROOMS` lists. Every
import statement counts, also those inside functions (lazy imports). Separately, no circle of
module imports may exist. The checker is tested on a small synthetic package first, so that a
violation is known to make it fail.
"""
from __future__ import annotations

import ast
import pathlib
import textwrap

import pytest

PACKAGE = "jaxgan"
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent / PACKAGE

# The layers, bottom to top: each may import the layers before it.
LAYERS = ("core", "models", "config", "training", "tools", "anomaly", "cli")
# Side rooms -> the rooms they may import; the layers from SIDE_ROOMS_FROM up may import them.
SIDE_ROOMS = {"data": (), "metrics": ("data",), "visualize": ()}
SIDE_ROOMS_FROM = "training"
ROOT = "(package)"  # jaxgan/__init__.py: importable from everywhere, imports nothing


def allowed_rooms(room: str, layers=LAYERS, side_rooms=SIDE_ROOMS,
                  side_rooms_from=SIDE_ROOMS_FROM) -> set[str]:
    """The rooms `room` may import (itself included)."""
    if room == ROOT:
        return {ROOT}
    if room in side_rooms:
        return {room, ROOT, *side_rooms[room]}
    index = layers.index(room)
    allowed = {room, ROOT, *layers[:index]}
    if index >= layers.index(side_rooms_from):
        allowed.update(side_rooms)
    return allowed


def find_modules(package_dir: pathlib.Path, package: str) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every .py file under `package_dir`."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def room_of(module: str, package: str, rooms) -> str | None:
    """The room of a dotted module name: its first component under the package."""
    parts = module.split(".")
    if parts == [package]:
        return ROOT
    return parts[1] if parts[1] in rooms else None


def imports_of(module: str, path: pathlib.Path, package: str,
               modules: dict[str, pathlib.Path]) -> list[tuple[str, int]]:
    """(imported module, line) for every import of the package in `path`, at any depth.

    `from A import b` is an import of module A.b when that is a module, else of A; relative
    imports are resolved against the module's package.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in modules else base, node.lineno))
    return [(name, line) for name, line in found
            if name == package or name.startswith(package + ".")]


def check_package(package_dir: pathlib.Path, package: str, layers=LAYERS, side_rooms=SIDE_ROOMS,
                  side_rooms_from=SIDE_ROOMS_FROM):
    """(problems, edges): one line per module in no room, import of a missing module or import of
    a room not allowed; and the module import graph."""
    modules = find_modules(package_dir, package)
    rooms = set(layers) | set(side_rooms)
    problems, edges = [], {m: set() for m in modules}
    for module, path in modules.items():
        room = room_of(module, package, rooms)
        if room is None:
            problems.append(f"{module}: in no room (rooms: {', '.join(sorted(rooms))})")
            continue
        allowed = allowed_rooms(room, layers, side_rooms, side_rooms_from)
        for target, line in imports_of(module, path, package, modules):
            where = f"{path.relative_to(package_dir.parent)}:{line}"
            if target not in modules:
                problems.append(f"{where}: {module} imports {target}, which does not exist")
                continue
            if target != module:
                edges[module].add(target)
            target_room = room_of(target, package, rooms)
            if target_room not in allowed:
                problems.append(f"{where}: {module} (room {room}) imports {target} "
                                f"(room {target_room}); {room} may import only "
                                f"{', '.join(sorted(allowed))}")
    return problems, edges


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def cycle_path(edges: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest circle through the first module of a strongly connected `component`:
    [m, ..., m]."""
    start, members = component[0], set(component)
    previous, frontier = {start: None}, [start]
    while frontier:
        successors = []
        for node in frontier:
            for succ in sorted(edges.get(node, ())):
                if succ == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]  # path: node, its predecessor, ..., start
                if succ in members and succ not in previous:
                    previous[succ] = node
                    successors.append(succ)
        frontier = successors
    raise ValueError(f"{component} is not a circle")


# --- the checker on a synthetic package -----------------------------------------------------------

def _write_package(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    package_dir = root / "toypkg"
    for name, text in files.items():
        path = package_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return package_dir


def test_rooms_allowed_follow_the_layers():
    assert allowed_rooms("core") == {"core", ROOT}
    assert allowed_rooms("config") == {"config", "models", "core", ROOT}
    assert allowed_rooms("training") == {"training", "config", "models", "core", "data",
                                         "metrics", "visualize", ROOT}
    assert "cli" not in allowed_rooms("tools") and "tools" in allowed_rooms("cli")
    assert allowed_rooms("metrics") == {"metrics", "data", ROOT}
    assert allowed_rooms("data") == {"data", ROOT}


def test_checker_accepts_a_clean_package(tmp_path):
    package_dir = _write_package(tmp_path, {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/a.py": "import math\n",
        "core/b.py": "from toypkg.core import a\nfrom . import a as same\n",
        "models/__init__.py": "from toypkg.models.net import Net\n",
        "models/net.py": "from toypkg.core.a import x\nfrom .blocks import y\n",
        "models/blocks.py": "from toypkg.core import b\n",
        "cli.py": "def main():\n    from toypkg.models import Net\n    import toypkg.data.io\n",
        "data/__init__.py": "",
        "data/io.py": "",
    })
    problems, edges = check_package(package_dir, "toypkg")
    assert problems == []
    assert import_cycles(edges) == []
    assert edges["toypkg.core.b"] == {"toypkg.core.a"}  # `from . import a`: the module, resolved
    assert edges["toypkg.models.net"] == {"toypkg.core.a", "toypkg.models.blocks"}
    assert edges["toypkg.cli"] == {"toypkg.models", "toypkg.data.io"}


def test_checker_finds_an_upward_lazy_import_a_side_room_misuse_and_a_circle(tmp_path):
    package_dir = _write_package(tmp_path, {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/a.py": "def f():\n    from toypkg.training import loop  # lazy, and upwards\n",
        "training/__init__.py": "",
        "training/loop.py": "from toypkg.core import a\nfrom toypkg.training.seeds import s\n",
        "training/seeds.py": "def g():\n    from toypkg.training import loop\n",
        "models/__init__.py": "from toypkg import data\n",  # a side room below training
        "data/__init__.py": "from toypkg.missing import thing\n",
        "stray.py": "",
    })
    problems, edges = check_package(package_dir, "toypkg")
    text = "\n".join(problems)
    assert "toypkg.core.a (room core) imports toypkg.training.loop (room training)" in text
    assert "core/a.py:2" in text
    assert "toypkg.models (room models) imports toypkg.data (room data)" in text
    assert "toypkg.data imports toypkg.missing, which does not exist" in text
    assert "toypkg.stray: in no room" in text
    assert len(problems) == 4
    # a -> loop -> a and loop -> seeds -> loop (seeds' import is lazy): one circle of three
    assert import_cycles(edges) == [["toypkg.core.a", "toypkg.training.loop",
                                     "toypkg.training.seeds"]]
    assert cycle_path(edges, import_cycles(edges)[0]) == [
        "toypkg.core.a", "toypkg.training.loop", "toypkg.core.a"]
    assert import_cycles({"x.loop": {"x.seeds"}, "x.seeds": {"x.loop"}, "x.a": {"x.loop"}}) == [
        ["x.loop", "x.seeds"]]


# --- jaxgan itself --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jaxgan_graph():
    return check_package(PACKAGE_DIR, PACKAGE)


def test_jaxgan_imports_point_down_the_layers(jaxgan_graph):
    problems, _ = jaxgan_graph
    assert problems == [], "\n".join(problems)


def test_jaxgan_has_no_import_circle(jaxgan_graph):
    _, edges = jaxgan_graph
    assert len(edges) > 40  # every module was read
    cycles = import_cycles(edges)
    assert cycles == [], "import circles (one circle, then all modules on circles with it):\n" + \
        "\n".join(" -> ".join(cycle_path(edges, c)) + f"\n    ({', '.join(c)})" for c in cycles)


def test_every_room_says_what_it_holds_and_may_import():
    for room in (*LAYERS, *SIDE_ROOMS):
        path = PACKAGE_DIR / room / "__init__.py"
        if not path.exists():
            path = PACKAGE_DIR / f"{room}.py"  # a room of one module
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert f"Room `{room}`" in docstring, f"{path}: the docstring should name room {room!r}"
        assert "import" in docstring, f"{path}: the docstring should say what {room!r} imports"
