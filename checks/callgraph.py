"""What a definition reaches: the static call graph through the composed kernel, and build errors.

Model code calls kernel symbols as ``k.NAME``; protocols are reached through the ``proto_ops`` and
``proto`` tables, whose fields name their methods. From the source of each function we read:

* the ``k.NAME`` references: the edges of the call graph, and an "undefined reference" when
  NAME is not in the image;
* the attribute names it uses: one that was a field of a struct in an earlier kernel and is a
  field of no struct now (``msg_iov`` after msghdr loses it) is the compiler's "has no member".

A cell is built from what its user's entry reaches; a build error anywhere in that closure makes
the cell ``DOES_NOT_BUILD``, naming the file and line.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from dataclasses import dataclass
from functools import cache
from types import FunctionType

from model.kernel import Definition, KernelImage


@dataclass(frozen=True)
class Uses:
    """What one function's source mentions."""

    symbols: tuple[tuple[str, int], ...]  # (k.NAME, line)
    attributes: tuple[tuple[str, int], ...]  # (.attr, line)
    strings: tuple[str, ...]  # string constants: getattr(k, "ip_generic_getfrag") names a callee
    annotations: tuple[str, ...] = ()  # names in parameter annotations (``msg: msghdr``)


@cache
def function_uses(fn: FunctionType) -> Uses:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        first = inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return Uses((), (), ())
    tree = ast.parse(source)
    symbols, attributes, strings, annotations = [], [], [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations += [n.id for n in ast.walk(node.annotation) if isinstance(n, ast.Name)]
            annotations += [n.value for n in ast.walk(node.annotation)
                            if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        if isinstance(node, ast.Attribute):
            line = first + node.lineno - 1
            if isinstance(node.value, ast.Name) and node.value.id == "k":
                symbols.append((node.attr, line))
            else:
                attributes.append((node.attr, line))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append(node.value)
    return Uses(tuple(symbols), tuple(attributes), tuple(strings), tuple(annotations))


def struct_fields(image: KernelImage) -> dict[str, frozenset[str]]:
    return {
        name: frozenset(f.name for f in dataclasses.fields(d.obj))
        for name, d in image.definitions.items()
        if d.kind == "struct" and dataclasses.is_dataclass(d.obj)
    }


def table_methods(d: Definition) -> dict[str, str]:
    """An ops table (a ``const struct`` of method names): field -> the method it points at."""
    if d.kind != "constant" or not dataclasses.is_dataclass(d.obj):
        return {}
    values = {f.name: getattr(d.obj, f.name) for f in dataclasses.fields(d.obj) if f.name != "name"}
    return {f: v for f, v in values.items() if isinstance(v, str) and v}


def table_targets(d: Definition) -> tuple[str, ...]:
    return tuple(table_methods(d).values())


def reachable(image: KernelImage, roots: set[str], extra_functions: tuple[FunctionType, ...] = ()) -> set[str]:
    """Every symbol reachable from ``roots`` and from the ``k.NAME`` uses of ``extra_functions``
    (the checker-side callers, which are not kernel symbols).

    An ops table's method is reached only if reached code reads that field (``sock->ops->recvmsg``
    reaches ``tcp_recvmsg`` through ``tcp_prot``, not ``tcp_sendmsg``), so a receive-only user does
    not depend on the send path."""
    todo = set(roots)
    fields_read: set[str] = set()
    for fn in extra_functions:
        uses = function_uses(fn)
        todo |= {name for name, _ in uses.symbols}
        fields_read |= {a for a, _ in uses.attributes}
    seen: set[str] = set()
    tables: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen and name in image:
            seen.add(name)
            d = image.definitions[name]
            if isinstance(d.obj, FunctionType):
                uses = function_uses(d.obj)
                todo |= {n for n, _ in uses.symbols if n in image} - seen
                # a callee named by a string: getattr(k, "ip_generic_getfrag"), a getfrag argument
                todo |= {s for s in uses.strings if s in image and s.isidentifier()} - seen
                fields_read |= {a for a, _ in uses.attributes}
            elif table_methods(d):
                tables.add(name)
        # Whatever was popped last, follow the table fields read so far before stopping (the
        # result must not depend on the order a set pops in); repeat until nothing new is reached.
        if not todo:
            todo = {m for t in tables for f, m in table_methods(image.definitions[t]).items()
                    if f in fields_read and m in image} - seen
    return seen


@dataclass(frozen=True)
class BuildError:
    symbol: str  # the definition with the error
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} (in {self.symbol})"


def build_errors(
    image: KernelImage, names: set[str], removed_fields: frozenset[tuple[str, str]], extra_functions: tuple = ()
) -> list[BuildError]:
    """Undefined references and uses of removed struct fields among ``names``' definitions.

    Python has no types to say which struct ``x.msg_iov`` reads. A use of a member removed from
    struct S is an error when no struct of this kernel has a member of that name, or when the
    function names S (``k.msghdr()``, ``msg: msghdr``) and no struct that still has the member
    (``user_msghdr`` keeps ``msg_iov``; ``iov_iter`` keeps ``iov`` when ``pingfakehdr`` loses it).
    Uses this cannot attribute are caught at run time, when the model reaches them."""
    fields_of = struct_fields(image)
    gone: dict[str, set[str]] = {}
    for s, f in removed_fields:
        gone.setdefault(f, set()).add(s)
    errors: list[BuildError] = []
    functions = [(n, image.definitions[n].obj) for n in sorted(names) if n in image]
    functions += [(fn.__name__, fn) for fn in extra_functions]
    for name, obj in functions:
        if not isinstance(obj, FunctionType):
            continue
        uses = function_uses(obj)
        pyfile = inspect.getsourcefile(obj) or "?"
        for sym, line in uses.symbols:
            if sym not in image and sym not in ("mem", "addr_limit", "image", "world"):
                errors.append(BuildError(name, f"{pyfile}:{line}", f"undefined reference to '{sym}'"))
        named = {s for s, _ in uses.symbols} | set(uses.annotations)
        for attr, line in uses.attributes:
            if attr not in gone:
                continue
            holders = {s for s, fields in fields_of.items() if attr in fields}
            lost_from = gone[attr] & named if holders else gone[attr]
            if lost_from and not holders & named:
                errors.append(BuildError(name, f"{pyfile}:{line}",
                                         f"'struct {sorted(lost_from)[0]}' has no member named '{attr}'"))
    for n in sorted(names):
        d = image.definitions.get(n)
        if d is not None:
            for target in table_targets(d):
                if target not in image:
                    errors.append(BuildError(n, f"{d.pyfile}:{d.line}", f"undefined reference to '{target}'"))
    return errors
