"""Shared fixtures: the linked v3.18 image, and a way to plant a defective definition in it."""

from __future__ import annotations

import inspect

import pytest

from model.kernel import Definition, KernelImage
from model.vmlinux import base_image


def plant(image: KernelImage, name: str, fn) -> KernelImage:
    """``image`` with ``name`` replaced by ``fn`` (a defect written in a test module)."""
    assert name in image, f"cannot plant {name}: not a symbol of {image.name}"
    defs = dict(image.definitions)
    old = defs[name]
    defs[name] = Definition(name, fn, "planted", old.kfile, inspect.getsourcefile(fn), fn.__code__.co_firstlineno)
    return KernelImage(f"{image.name}+planted:{name}", defs)


@pytest.fixture(scope="session")
def v318() -> KernelImage:
    return base_image()


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own verdict cache: tests never read or write the user's."""
    monkeypatch.setenv("SERIESCHECK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
