"""The series format reference (docs/series-format.md) covers what the loader accepts and matches
the code it is rendered from."""

from __future__ import annotations

import ast
import dataclasses
import inspect

from checks import docs
from checks import series as series_module
from checks.series import Step


def keys_read_from(code, variable: str) -> set[str]:
    """The string keys ``code`` (a module or function) reads from dicts named ``variable``: ``v["k"]``,
    ``v.get("k")``, ``"k" in v``, and ``_field(v, "k", ...)``, as the loader does."""
    keys = set()
    for node in ast.walk(ast.parse(inspect.getsource(code))):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == variable:
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                keys.add(node.slice.value)
        elif isinstance(node, ast.Call) and node.args:
            f = node.func
            on_var = isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == variable
            if on_var and f.attr == "get" and isinstance(node.args[0], ast.Constant):
                keys.add(node.args[0].value)
            if isinstance(f, ast.Name) and f.id == "_field" and isinstance(node.args[0], ast.Name) \
                    and node.args[0].id == variable and isinstance(node.args[1], ast.Constant):
                keys.add(node.args[1].value)
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant)
              and isinstance(node.left.value, str)
              and any(isinstance(c, ast.Name) and c.id == variable for c in node.comparators)):
            keys.add(node.left.value)
    return keys


def test_every_series_toml_key_the_loader_reads_is_documented():
    read = keys_read_from(series_module, "meta")
    assert {"name", "order", "base", "users", "expected", "description"} <= read  # the reader itself works
    assert read - set(docs.SERIES_KEYS) == set(), "document these keys in checks/docs.py SERIES_KEYS"


def test_every_expected_key_the_loader_reads_is_documented():
    readers = [f for name, f in inspect.getmembers(series_module, inspect.isfunction)
               if "expect" in name and f.__module__ == series_module.__name__]  # _expectation(s), _check_expected
    read = set().union(*(keys_read_from(f, "e") for f in readers))
    assert {"step", "user", "protocol", "status", "claim", "accept"} <= read
    assert read - set(docs.EXPECTED_KEYS) == set(), "document these keys in checks/docs.py EXPECTED_KEYS"


def test_every_step_field_is_documented_with_an_example():
    page = docs.render()
    for f in dataclasses.fields(Step):
        assert f"| `{f.name}` |" in page
        assert docs.STEP_EXAMPLES.get(f.name), f"give Step.{f.name} an example in checks/docs.py STEP_EXAMPLES"


def test_the_committed_page_is_the_rendering():
    assert docs.PAGE.read_text(encoding="utf-8") == docs.render(), \
        "docs/series-format.md is stale: run `seriescheck docs --write`"


def test_a_loader_key_missing_from_the_table_is_caught(monkeypatch):
    """The coverage check can fail: drop a documented key and it reports it."""
    monkeypatch.delitem(docs.SERIES_KEYS, "users")
    read = keys_read_from(series_module, "meta")
    assert read - set(docs.SERIES_KEYS) == {"users"}
