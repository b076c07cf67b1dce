"""The machine the model kernel runs on: memory, pointers, the symbol table and one running kernel.

Not a kernel file. This is the linker and the MMU of the model:

* ``Ptr`` is an address: a region and an offset into it. Byte regions hold data (user or kernel
  space); struct regions hold arrays of mutable structs (a ``kvec[]``), where the offset counts
  elements. Pointer arithmetic never leaves its region; an access past the end of a region is an
  ``Oops`` (a finding about the code that did it, never a crash of the checker). A user copy
  (``__copy_from_user``) that runs past a *kernel* allocation is an ``OutOfBounds`` Oops: kernel
  memory is mapped beyond an allocation, so the kernel reads or overwrites whatever follows it
  instead of faulting. Only user memory (or an unmapped address) faults, and -EFAULT is the answer.
* ``KernelImage`` is the linked kernel: every symbol (function, struct, constant) by its C name,
  with the file and step that defined it. A series step lays new definitions over an image.
* ``Kernel`` is one boot of an image: the symbols, called as ``k.sock_sendmsg(sock, msg, size)``
  so a replaced definition takes effect for every caller (as relinking does), plus the state of
  the running task (``addr_limit``) and of its memory. Every call through the linker burns one
  unit of ``fuel``; a run that burns it all is ``OutOfFuel``, a livelock, so no run of model code
  that calls the kernel can hang, whatever the machine's load.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import weakref
from dataclasses import dataclass, field
from types import FunctionType, ModuleType
from typing import NamedTuple

from model.world import Stalled

USER_SPACE = "user"
KERNEL_SPACE = "kernel"


class Oops(Exception):
    """The model kernel did something the real one would oops or corrupt memory on.

    Raised for an access outside a region (reading past the end of a kvec array, say), a NULL
    dereference, or a BUG_ON. The checker reports it as a finding against the cell, with the input.
    """


class OutOfBounds(Oops):
    """A copy ran past the end (or before the start) of a kernel allocation.

    The real kernel does not fault there: it reads the adjacent memory (and sends it) or
    overwrites it. The model cannot know those bytes, so the access itself is the finding, named
    with the allocation, how far past it went and which way (read or write)."""


class OutOfFuel(Stalled):
    """A run called through the kernel linker more than ``FUEL`` times: a loop that never ends.

    A livelock, judged like ``Stalled``, with the input that did it; the limit is a count, so the
    verdict does not depend on how loaded the machine is."""


# Calls through ``k.<symbol>`` one run may make. The most any cell of the existing series made within
# the quick exhaustive bounds and 200 Hypothesis examples of the larger scope was 2,320 (a livelock
# stopped by the world's MAX_CALLS; issue 10); a correct transfer makes a few dozen.
FUEL = 100_000


class DoesNotBuild(Exception):
    """A definition reaches a symbol or struct field that does not exist in this kernel.

    The kernel's "does not build after this patch": raised at composition (static scan) or when
    the model reaches the missing name at run time.
    """

    def __init__(self, message: str, where: str = ""):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


class Ptr(NamedTuple):
    """An address: ``region`` 0 is NULL; ``off`` counts bytes, or elements in a struct region.

    A named tuple rather than a frozen dataclass: pointer arithmetic is the model's most frequent
    operation (millions per ``make verify``), and a tuple is made at C speed."""

    region: int
    off: int = 0

    def __add__(self, n: int) -> Ptr:
        return _new_tuple(Ptr, (self[0], self[1] + n))

    def __repr__(self) -> str:
        return "NULL" if self.region == 0 else f"<{self.region}+{self.off}>"


_new_tuple = tuple.__new__
NULL = Ptr(0, 0)


@dataclass(slots=True)
class Region:
    space: str
    data: bytearray | None = None
    elems: list | None = None
    name: str = ""


class Memory:
    """All memory of one run: byte regions (user or kernel) and struct arrays (kernel)."""

    __slots__ = ("regions",)

    def __init__(self) -> None:
        self.regions: dict[int, Region] = {}

    def alloc_bytes(self, data: bytes, space: str = KERNEL_SPACE, name: str = "") -> Ptr:
        rid = len(self.regions) + 1
        self.regions[rid] = Region(space, bytearray(data), None, name)
        return _new_tuple(Ptr, (rid, 0))

    def alloc_array(self, elems: list, name: str = "") -> Ptr:
        rid = len(self.regions) + 1
        self.regions[rid] = Region(KERNEL_SPACE, None, elems, name)
        return _new_tuple(Ptr, (rid, 0))

    def region(self, p: Ptr) -> Region | None:
        return self.regions.get(p.region)

    def is_user(self, p: Ptr) -> bool:
        r = self.regions.get(p.region)
        return r is not None and r.space == USER_SPACE

    def mapped(self, p: Ptr, n: int) -> int:
        """How many of the ``n`` bytes from ``p`` are mapped (a fault stops a copy there)."""
        r = self.regions.get(p.region)
        if r is None or r.data is None or p.off < 0:
            return 0
        return max(0, min(n, len(r.data) - p.off))

    def read(self, p: Ptr, n: int) -> bytes:
        """A kernel-side read (memcpy): every byte must be mapped."""
        if n == 0:
            return b""
        r = self.regions.get(p.region)
        off = p.off
        if r is None or r.data is None or off < 0 or off + n > len(r.data) or n < 0:
            raise Oops(f"read of {n} bytes at {p!r} outside its region")
        return bytes(r.data[off : off + n])

    def write(self, p: Ptr, data: bytes) -> None:
        """A kernel-side write (memcpy): every byte must be mapped."""
        n = len(data)
        if n == 0:
            return
        r = self.regions.get(p.region)
        off = p.off
        if r is None or r.data is None or off < 0 or off + n > len(r.data):
            raise Oops(f"write of {n} bytes at {p!r} outside its region")
        r.data[off : off + n] = data

    def user_copyable(self, p: Ptr, n: int, access: str) -> int:
        """How many of the ``n`` bytes from ``p`` a ``__copy_{from,to}_user`` reaches before it
        faults. User memory (and an address nothing is mapped at) faults where it ends: the copy
        comes up short and the caller sees -EFAULT. Kernel memory does not fault past an
        allocation: the copy goes on into whatever follows, so that is ``OutOfBounds``."""
        done = self.mapped(p, n)
        r = self.regions.get(p.region)
        if done == n or r is None or r.space != KERNEL_SPACE:
            return done
        if r.data is None:
            raise OutOfBounds(f"{access} of {n} bytes at {p!r}, a struct array{_named(r)}, as if it were a buffer")
        size = len(r.data)
        over = p.off + n - size
        past = f"starting {-p.off} byte(s) before" if p.off < 0 else f"running {over} byte(s) past the end of"
        verb = "the kernel reads and uses" if access == "read" else "the kernel overwrites"
        raise OutOfBounds(f"{access} of {n} byte(s) at {p!r} {past} its {size}-byte kernel allocation{_named(r)}: "
                          f"{verb} the memory beyond it")

    def elem(self, p: Ptr):
        """``*p`` for a pointer into a struct array; past the end is an Oops."""
        r = self.regions.get(p.region)
        if r is None or r.elems is None:
            raise Oops(f"dereference of {p!r}, which is not a struct array")
        if not 0 <= p.off < len(r.elems):
            raise Oops(f"access to element {p.off} of a {len(r.elems)}-element array{_named(r)}")
        return r.elems[p.off]


def _named(r: Region) -> str:
    return f" ({r.name})" if r.name else ""


# --- the symbol table -------------------------------------------------------------------------

STATE_ATTRIBUTES = frozenset({"mem", "addr_limit", "image", "world"})


@dataclass(frozen=True)
class Definition:
    """One definition of a kernel symbol: what it is and where it came from."""

    name: str
    obj: object
    origin: str  # the step that introduced this version ("v3.18" for the base kernel)
    kfile: str  # the kernel file it models, from its module docstring
    pyfile: str
    line: int

    @property
    def label(self) -> str:
        return f"{self.name}@{self.origin}"

    @property
    def kind(self) -> str:
        if isinstance(self.obj, FunctionType):
            return "function"
        if isinstance(self.obj, type):
            return "struct"
        return "constant"


def module_kernel_file(module: ModuleType) -> str:
    """The kernel file a model module stands for: the first word of its docstring's first line."""
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0].split()[0] if doc else module.__name__


def _assigned_names(module: ModuleType) -> dict[str, int]:
    """Top-level names a module assigns itself (not imports), with their line numbers."""
    tree = ast.parse(inspect.getsource(module))
    names: dict[str, int] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for t in targets:
            if isinstance(t, ast.Name):
                names[t.id] = node.lineno
    return names


def _is_kernel_constant(name: str, obj: object) -> bool:
    """``#define FOO 4`` (an upper-case int) or a ``const struct`` instance (``inet_stream_ops``)."""
    if isinstance(obj, int) and not isinstance(obj, bool):
        return name.isupper()
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type)


def _is_model_private(name: str) -> bool:
    """``_helper`` is the model's own; ``__copy_from_user`` is a kernel name; dunders are Python's."""
    if name.startswith("__"):
        return name.endswith("__")
    return name.startswith("_") or name == "annotations"


def module_definitions(module: ModuleType, origin: str) -> dict[str, Definition]:
    """The kernel symbols a model module defines: public functions and classes defined there,
    and upper-case integer constants. Names with one leading ``_`` are the model's own helpers."""
    kfile = module_kernel_file(module)
    own_constants = _assigned_names(module)
    found: dict[str, Definition] = {}
    for name, obj in vars(module).items():
        if _is_model_private(name):
            continue
        if isinstance(obj, (FunctionType, type)):
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            pyfile = inspect.getsourcefile(obj) or module.__file__ or ""
            line = inspect.getsourcelines(obj)[1]
        elif name in own_constants and _is_kernel_constant(name, obj):
            pyfile, line = module.__file__ or "", own_constants[name]
        else:
            continue
        if name in STATE_ATTRIBUTES:
            raise DoesNotBuild(f"symbol {name!r} collides with a Kernel state attribute", pyfile)
        found[name] = Definition(name, obj, origin, kfile, pyfile, line)
    return found


@dataclass(frozen=True)
class KernelImage:
    """A linked kernel: every symbol's current definition. Immutable; a step makes a new one."""

    name: str
    definitions: dict[str, Definition] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.definitions

    def lookup(self, name: str) -> Definition:
        try:
            return self.definitions[name]
        except KeyError:
            raise DoesNotBuild(f"undefined reference to {name!r} in kernel {self.name}") from None


class Kernel:
    """One boot of a ``KernelImage``: symbols callable as attributes, plus the machine state.

    ``k.kernel_sendmsg(sock, msg, vec, num, size)`` calls the current definition of
    ``kernel_sendmsg`` with ``k`` as its first argument; ``k.msghdr(...)`` builds the current
    ``struct msghdr``; ``k.ITER_KVEC`` reads a constant.

    The symbols are the attributes of a class made once per image (``linked_class``), so a boot
    resolves nothing and a call is an ordinary method call, plus the fuel it burns.
    """

    def __new__(cls, image: KernelImage, world: object = None):
        return object.__new__(linked_class(image))

    def __init__(self, image: KernelImage, world: object = None):
        self.image = image
        self.mem = Memory()
        self.addr_limit = "USER_DS"  # current_thread_info()->addr_limit
        self.world = world
        # the fuel: one unit per call through the linker, StopIteration when none is left (``fueled``)
        self._burn = iter(range(FUEL)).__next__

    def __getattr__(self, name: str):
        # Only reached for a name the image does not define: "undefined reference".
        self.image.lookup(name)
        raise AttributeError(name)


_LINKED: dict[int, type] = {}


def linked_class(image: KernelImage) -> type:
    """The ``Kernel`` subclass whose attributes are ``image``'s symbols: functions wrapped to burn
    fuel (``fueled``), structs and constants as they are. Made once per image, dropped with it."""
    cls = _LINKED.get(id(image))
    if cls is None:
        attrs = {name: fueled(d.obj) if isinstance(d.obj, FunctionType) else d.obj
                 for name, d in image.definitions.items()}
        cls = _LINKED[id(image)] = type(f"Kernel[{image.name}]", (Kernel,), attrs)
        weakref.finalize(image, _LINKED.pop, id(image), None)
    return cls


def fueled(fn: FunctionType):
    """``fn`` as a method of a linked kernel, burning one unit of the running kernel's fuel per call.

    The wrapper takes ``fn``'s own parameters and passes them on as they came (no ``*args``
    packing), and the fuel is a C-level counter (``Kernel._burn``): together a third of what a
    generic wrapper with a Python counter costs."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    (taken, passed), defaults = _forwarding(params)
    namespace = {"_fn": fn, "_defaults": defaults, "_out": _out_of_fuel}
    exec(f"def call(__k{taken}):\n"  # noqa: S102 - built from the signature alone, never from input
         f"    try:\n        __k._burn()\n    except StopIteration:\n        _out(_fn)\n"
         f"    return _fn(__k{passed})\n", namespace)
    call = namespace["call"]
    call.__name__ = call.__qualname__ = fn.__name__
    call.__wrapped__ = fn
    return call


def _forwarding(params: list[inspect.Parameter]) -> tuple[tuple[str, str], list]:
    """A wrapper's parameter list and the arguments it passes on, for ``params`` (with defaults)."""
    taken, passed, defaults = [], [], []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            stars = "*" if p.kind == p.VAR_POSITIONAL else "**"
            taken.append(f"{stars}{p.name}")
            passed.append(f"{stars}{p.name}")
            continue
        if p.kind == p.KEYWORD_ONLY and not any(t.startswith("*") for t in taken):
            taken.append("*")
        default = ""
        if p.default is not p.empty:
            defaults.append(p.default)
            default = f"=_defaults[{len(defaults) - 1}]"
        taken.append(f"{p.name}{default}")
        passed.append(f"{p.name}={p.name}" if p.kind == p.KEYWORD_ONLY else p.name)
    return ("".join(f", {t}" for t in taken), "".join(f", {a}" for a in passed)), defaults


def _out_of_fuel(fn: FunctionType):
    raise OutOfFuel(f"more than {FUEL} calls through the kernel in one run (the last to {fn.__name__}): "
                    f"a loop that never ends") from None
