"""The typed stubs of the compiled modules say what the modules really have.

``_parse.pyi`` and ``_book.pyi`` are all a type checker (and a reader) sees of the compiled
core, so a stale stub silently hides a name or advertises one that is gone. Both directions
are checked: every public name of the module is declared in its stub, and every name the
stub declares exists; for classes also their bases and their public methods and attributes;
for functions and methods also their parameter names (Cython keeps signatures).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from pathlib import Path

import pytest

from marketprism_fast.parser import compiled_available

pytestmark = pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")

PACKAGE = Path(importlib.import_module("marketprism_fast").__file__).parent
MODULES = ("_parse", "_book", "transport._listener")


def stub_tree(name: str) -> ast.Module:
    path = PACKAGE / (name.replace(".", "/") + ".pyi")
    return ast.parse(path.read_text(), filename=path.name)


def declared(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    """Names a stub body declares (functions, classes, annotated or assigned names); imports
    are not declarations."""
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            names.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
    return names


def public(names) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def module_names(module: types.ModuleType) -> set[str]:
    """The module's own public names: not the modules it imports (``np``, ``logging``)."""
    return {n for n in public(dir(module)) if not isinstance(getattr(module, n), types.ModuleType)}


def stub_parameters(node: ast.FunctionDef) -> list[str]:
    args = node.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs) if a.arg != "self"]


def runtime_parameters(obj) -> list[str]:
    return [name for name in inspect.signature(obj).parameters if name != "self"]


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_is_in_the_stub_and_every_stub_name_exists(name: str) -> None:
    module = importlib.import_module(f"marketprism_fast.{name}")
    in_stub = public(declared(stub_tree(name).body))
    in_module = module_names(module)
    assert in_module - in_stub == set(), f"{name}.pyi lacks public names of the module"
    assert in_stub - in_module == set(), f"{name}.pyi declares names the module does not have"


@pytest.mark.parametrize("name", MODULES)
def test_stub_classes_match_the_module_classes(name: str) -> None:
    module = importlib.import_module(f"marketprism_fast.{name}")
    for node in declared(stub_tree(name).body).values():
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(module, node.name)
        assert isinstance(cls, type), f"{name}.{node.name} is not a class"
        stub_bases = [ast.unparse(b) for b in node.bases] or ["object"]
        assert stub_bases == [b.__name__ for b in cls.__bases__], f"bases of {name}.{node.name}"
        # Each class declares what it defines itself; inherited members live in the base's stub.
        members = declared(node.body)
        own = public(vars(cls))
        assert own - public(members) == set(), f"{name}.pyi: {node.name} lacks members"
        assert public(members) - own == set(), f"{name}.pyi: {node.name} declares members it does not have"
        for member, stub in members.items():
            if isinstance(stub, ast.FunctionDef) and not _is_property(stub) and not member.startswith("_"):
                assert stub_parameters(stub) == runtime_parameters(getattr(cls, member)), f"{node.name}.{member}"


@pytest.mark.parametrize("name", MODULES)
def test_stub_functions_take_the_module_parameters(name: str) -> None:
    module = importlib.import_module(f"marketprism_fast.{name}")
    functions = [n for n in declared(stub_tree(name).body).values() if isinstance(n, ast.FunctionDef)]
    assert functions
    for node in functions:
        assert callable(getattr(module, node.name))
        assert stub_parameters(node) == runtime_parameters(getattr(module, node.name)), f"{name}.{node.name}"


def _is_property(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)
