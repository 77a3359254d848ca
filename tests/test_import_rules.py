"""The package map's import rules (docs/architecture.md), checked on the source with `ast`.

Every import counts, including those inside functions (a lazy import is still a dependency); only
`if TYPE_CHECKING:` blocks are skipped. The rules are checked on the real tree, and the checker itself is
shown to fail when a forbidden import or a cycle is added.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = ("agent", "hub", "sync_protocol", "scanners")

KERNEL = {"agent", "agent.errors", "agent.config", "agent.crashpoints", "agent.context"}
# area -> the agent areas it may import (an area is a sub-package, or a kernel module)
MAY_IMPORT: dict[str, set[str]] = {
    "agent.errors": set(),
    "agent.crashpoints": set(),
    "agent.config": {"agent.errors"},
    "agent.outbox": {"agent.errors", "agent.crashpoints"},
    "agent.context": {"agent.errors", "agent.config", "agent.outbox", "agent.delivery"},  # the composition root
    "agent.ops": KERNEL | {"agent.outbox"},
    "agent.capture": KERNEL | {"agent.outbox", "agent.ops"},
    "agent.sealing": KERNEL | {"agent.outbox", "agent.ops"},
    "agent.delivery": KERNEL | {"agent.outbox", "agent.ops", "agent.sealing"},
    "agent.desk": KERNEL | {"agent.outbox", "agent.ops", "agent.capture", "agent.sealing", "agent.delivery"},
    "agent.web": KERNEL | {"agent.outbox", "agent.ops", "agent.capture", "agent.sealing", "agent.delivery",
                           "agent.desk"},
    "agent.cli": KERNEL | {"agent.outbox", "agent.ops", "agent.capture", "agent.sealing", "agent.delivery",
                           "agent.desk", "agent.web"},
    "agent.demo": KERNEL | {"agent.capture"},
}
# top-level package -> top-level packages it must never import
NEVER: dict[str, set[str]] = {
    "sync_protocol": {"agent", "hub", "scanners"},
    "scanners": {"agent", "hub"},
    "hub": {"agent"},
}
# only the CLI may reach into the hub package (the `motcua hub` group, the shared progress reporter)
AGENT_MAY_IMPORT_HUB = {"agent.cli"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, source: str, is_package: bool) -> set[str]:
    """Absolute names of every module imported by `source` (relative imports resolved)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def load_tree(root: Path) -> dict[str, tuple[str, bool]]:
    """module name -> (source, is a package), a fresh dict each call (tests edit their copy)."""
    return dict(_read_tree(root))


@functools.lru_cache(maxsize=None)
def _read_tree(root: Path) -> tuple[tuple[str, tuple[str, bool]], ...]:
    tree = {}
    for top in TOP:
        for path in sorted((root / top).rglob("*.py")):
            tree[module_name(path, root)] = (path.read_text("utf-8"), path.name == "__init__.py")
    return tuple(tree.items())


def area_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "agent" and len(parts) > 1 else parts[0]


def violations(tree: dict[str, tuple[str, bool]]) -> list[str]:
    """Every broken rule and every import cycle among the project's own modules."""
    found = []
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in tree.items():
        own = {name for name in imports_of(module, source, is_package) if name in tree}
        graph[module] = own - {module}
        top, area = module.split(".")[0], area_of(module)
        for target in own:
            target_top, target_area = target.split(".")[0], area_of(target)
            if target_top in NEVER.get(top, set()):
                found.append(f"{module} imports {target}: {top}/ must never import {target_top}/")
            if top == "agent" and target_top == "hub" and area not in AGENT_MAY_IMPORT_HUB:
                found.append(f"{module} imports {target}: only agent.cli may import hub/")
            if top == "agent" and target_top == "agent" and area != "agent" and target_area != area \
                    and target_area != "agent" and target_area not in MAY_IMPORT.get(area, set()):
                found.append(f"{module} imports {target}: {area} may not import {target_area}")
    found.extend(f"import cycle: {' -> '.join(cycle)}" for cycle in _cycles(graph))
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result = []
    counter = [0]

    def strongconnect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                strongconnect(succ)
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
            # a package importing its own submodules (re-exports in __init__) is not a cycle
            if len(component) > 1 and not _only_package_reexports(component, graph):
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return result


def _only_package_reexports(component: list[str], graph: dict[str, set[str]]) -> bool:
    """`pkg/__init__` importing `pkg.mod` while `pkg.mod` imports `pkg.other` via the package path is fine
    when removing the package's own edges breaks the component."""
    packages = {m for m in component if any(o.startswith(m + ".") for o in component)}
    if not packages:
        return False
    trimmed = {m: {t for t in graph[m] if t not in packages} for m in component if m not in packages}
    return not _cycles_in(trimmed)


def _cycles_in(graph: dict[str, set[str]]) -> bool:
    seen: set[str] = set()
    active: set[str] = set()

    def dfs(node: str) -> bool:
        seen.add(node)
        active.add(node)
        for succ in graph.get(node, ()):
            if succ in active or (succ not in seen and succ in graph and dfs(succ)):
                return True
        active.discard(node)
        return False

    return any(dfs(n) for n in list(graph) if n not in seen)


def test_the_tree_follows_the_import_rules() -> None:
    assert violations(load_tree(ROOT)) == []


def test_delivery_imports_nothing_from_the_desk() -> None:
    tree = load_tree(ROOT)
    for module, (source, is_package) in tree.items():
        if module.startswith("agent.delivery"):
            assert not [n for n in imports_of(module, source, is_package) if n.startswith("agent.desk")], module


@pytest.mark.parametrize("module, added, expected", [
    ("agent.delivery.sync", "from agent.desk.notifications import send_pending", "agent.delivery may not import agent.desk"),
    ("agent.delivery.feed", "    from agent.desk import courier", "agent.delivery may not import agent.desk"),
    ("hub.commits", "from agent.outbox import Outbox", "hub/ must never import agent/"),
    ("sync_protocol.manifest", "import hub.app", "sync_protocol/ must never import hub/"),
    ("agent.outbox.store", "from agent.sealing import seal", "agent.outbox may not import agent.sealing"),
    ("agent.desk.intake", "from agent.web import app", "agent.desk may not import agent.web"),
    ("agent.sealing.seal", "from hub.progress import progress_reporter", "only agent.cli may import hub/"),
])
def test_the_checker_catches_a_forbidden_import(module: str, added: str, expected: str) -> None:
    tree = load_tree(ROOT)
    source, is_package = tree[module]
    if added.startswith(" "):  # a lazy import inside a function counts too
        added = "def _lazy():\n" + added + "\n"
    tree[module] = (source + "\n" + added + "\n", is_package)
    assert any(expected in v for v in violations(tree)), violations(tree)


def test_the_checker_catches_a_cycle_and_ignores_type_checking_blocks() -> None:
    tree = load_tree(ROOT)
    source, is_package = tree["agent.outbox.ids"]
    tree["agent.outbox.ids"] = (source + "\ndef _f():\n    from agent.outbox.store import Outbox\n", is_package)
    assert any(v.startswith("import cycle:") and "agent.outbox.ids" in v for v in violations(tree))
    tree = load_tree(ROOT)
    source, is_package = tree["agent.delivery.sync"]
    tree["agent.delivery.sync"] = (source + "\nif TYPE_CHECKING:\n    from agent.desk.intake import Intake\n",
                                   is_package)
    assert violations(tree) == []


def test_no_module_is_over_400_lines() -> None:
    long = {m: len(s.splitlines()) for m, (s, _) in load_tree(ROOT).items() if len(s.splitlines()) > 400}
    assert long == {}
