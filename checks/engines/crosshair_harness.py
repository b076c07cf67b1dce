"""The function CrossHair analyses for one cell, and the map from its arguments to a ``CellInput``.

CrossHair reads contracts from source files only (a docstring set at run time, or a function made
with ``exec``, is skipped without a word), so the analysed function is written here, with full
annotations and a PEP316 docstring: ``cell_contract`` inside ``contract_for``.

**Where the cell comes from.** The docstring is static, but the image, user, protocol, bounds and
sabotage differ per cell. ``contract_for`` makes ``cell_contract`` as a closure over a frozen
``Cell``; CrossHair evaluates conditions in the function's globals laid over its closure's free
variables (``crosshair.fnutil.fn_globals``), so ``pre: len(segs) <= cell.max_segs`` reads this
cell's bounds. That needs no module state set before an analysis and reset after, and any number
of cells can be analysed one after another in a process. Two rules come with it: a closure
variable exists only if the *body* uses it (a name that only the docstring mentions is not a free
variable: the body must touch ``cell``), and a module global of the same name would win over it,
so this module defines no global ``cell`` or ``probe``.

**Encoding.** Arguments are plain ints: ``nsegs`` and ``s0``..``s7`` (the caller's kvec lengths),
``nwin`` and ``w0``..``w7`` (one code per scripted call: ``room * len(endings) + ending``), ``mode``
(an index into the user's modes). Everything the kernel writes is built inside ``run_cell`` from
them, so no symbolic object is mutated and ``__old__`` is never needed. Every value stands for an
input within the bounds (``Cell.input_of``), so the only precondition is that the bounds admit an
input at all, and every path CrossHair takes runs one. Ints rather than lists: a symbolic list
forks on its length at each index, and a list's precondition (``all(0 <= n <= ...)``) forks on
every element; measured on smb_send_kvec, 20 iterations ran 4 inputs that way, and 4 iterations
run 4 inputs this way in the same time (about 35 ms of CrossHair per input, nearly all solver
checks: each comparison of ``_decide`` is one).

**How the search runs** (measured on this model; numbers in checks/crosshair_engine.py):

* Each argument is decided by ``_decide``, a search over its bounded range: every comparison
  is a branch CrossHair chooses, a subtree once exhausted is never entered again, and the path
  ends with the value pinned. CrossHair (0.0.113) takes a branch's true side only 1 time in 4
  (``CoveragePathingOracle``'s default), so ``_decide`` puts a quarter of the range on the true
  side: every value is about equally likely. A plain bisection made the search favour the top
  of every range: it never found smb_send_rqst's failure (room 0, a signal, blocking mode; 1.6%
  of the inputs) in 190 inputs, where the even split finds it at 4 of 5 seeds (37-133 inputs).
  Letting CrossHair realise the values itself (``deep_realize``) mostly re-uses the solver's
  first model value and enumerates the others one by one: 4-5x slower to find bugs.
* The model then runs on those concrete values with CrossHair's tracing off (``NoTracing``).
  Traced, the model is not only about 1000x slower than plain Python (every bound symbol goes
  through CrossHair's ``functools.partial`` replacement, every dataclass construction through its
  enforcement wrapper) but also wrong in a way that matters: CrossHair turns every ``bytearray``
  into its ``SymbolicByteArray``, ``bytes(peer.wire)`` becomes ``SymbolicBytes``, and the
  contract's ``message.startswith(wire)`` raises inside CrossHair, which drops the path as
  "proxy intolerance". Every failure of the form "reported an error but the wire is not a
  prefix" -- iscsit_do_tx_data's -- was invisible. The model realises every length into bytes
  anyway (``message_bytes``, ``alloc_bytes``), so there was no symbolic reasoning to lose.

So CrossHair here is the search over the input space (solver-chosen, tree-covering, with its
budget and its counterexample report); the oracle is ``run_cell``'s, evaluated by the ``post:``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crosshair.tracers import NoTracing

from checks.engines.exhaustive import wait_endings
from checks.harness import CellInput, Observation, run_cell
from checks.profiles import Bounds
from model.kernel import KernelImage
from model.users import User

# The analysed function's arity: how many kvec lengths and windows CrossHair can choose (the
# thorough profile's scope, 6 segments and 5 windows, fits). Wider CrossHair bounds are refused.
MAX_SEGS = 8
MAX_WINDOWS = 8


# How often CrossHair takes the true side of a branch it has not explored (crosshair-tool 0.0.113,
# ``CoveragePathingOracle.decide``: 0.25): ``_decide`` sizes the true side to match.
TRUE_SIDE_SHARE = 0.25


@dataclass(frozen=True)
class Cell:
    """One cell as the analysed function sees it: what to run and the bounds of its inputs."""

    image: KernelImage
    user: User
    proto: str
    sabotage: str | None
    max_segs: int  # already capped by the user's own max_segs
    max_seg_len: int
    max_windows: int
    max_room: int
    endings: tuple[str, ...]  # how a wait can end for this user's direction
    modes: tuple[str, ...]

    @classmethod
    def of(cls, image: KernelImage, user: User, proto: str, bounds: Bounds, sabotage: str | None = None) -> Cell:
        return cls(image, user, proto, sabotage, min(bounds.max_segs, user.max_segs or bounds.max_segs),
                   bounds.max_seg_len, bounds.max_windows, bounds.max_room, wait_endings(user), user.modes)

    @property
    def window_codes(self) -> int:
        """How many values one entry of ``windows`` can take."""
        return (self.max_room + 1) * len(self.endings)

    def fits(self) -> bool:
        """Can ``cell_contract``'s arguments stand for every input of these bounds?"""
        return self.max_segs <= MAX_SEGS and self.max_windows <= MAX_WINDOWS

    def window(self, code: int) -> tuple[int, str]:
        """The scripted window (room, ending) that ``code`` stands for."""
        n = len(self.endings)
        return code // n, self.endings[code % n]

    def input_of(self, nsegs: int, s0: int, s1: int, s2: int, s3: int, s4: int, s5: int, s6: int, s7: int,
                 nwin: int, w0: int, w1: int, w2: int, w3: int, w4: int, w5: int, w6: int, w7: int,
                 mode: int) -> CellInput:
        """The input ``cell_contract``'s arguments stand for, whatever their values: a value outside
        its range counts as the nearer end, and the lengths and windows past ``nsegs``/``nwin`` are
        not read. So the analysed function needs no precondition on its arguments: every path
        CrossHair takes runs an input (with ``pre:`` lines over symbolic lists, 16 of its first 20
        paths were rejected), and the counterexample it prints maps to the input that ran. On
        symbolic arguments each comparison in ``_decide`` is a branch CrossHair chooses."""
        top = self.max_seg_len
        segs = (s0, s1, s2, s3, s4, s5, s6, s7)[: _decide(nsegs, 1, self.max_segs)]
        codes = (w0, w1, w2, w3, w4, w5, w6, w7)[: _decide(nwin, 0, self.max_windows)]
        return CellInput(tuple(_decide(n, 0, top) for n in segs),
                         tuple(self.window(_decide(w, 0, self.window_codes - 1)) for w in codes),
                         self.modes[_decide(mode, 0, len(self.modes) - 1)])

    def arguments(self, inp: CellInput) -> dict[str, int]:
        """The arguments of ``cell_contract`` for ``inp`` (the inverse of ``input_of``)."""
        n = len(self.endings)
        segs = [*inp.segs, *[0] * (MAX_SEGS - len(inp.segs))]
        codes = [r * n + self.endings.index(t) for r, t in inp.script]
        codes += [0] * (MAX_WINDOWS - len(codes))
        return {"nsegs": len(inp.segs), **{f"s{i}": v for i, v in enumerate(segs)},
                "nwin": len(inp.script), **{f"w{i}": v for i, v in enumerate(codes)},
                "mode": self.modes.index(inp.mode)}


@dataclass
class Probe:
    """What the analysed function saw: how many times its body ran (zero: nothing was explored), and
    an input whose run never returned (CrossHair abandons a path at its per-path timeout)."""

    runs: int = 0
    running: CellInput | None = None  # the input being run; left set if its run never returned
    unfinished: CellInput | None = None


def _decide(x: int, lo: int, hi: int) -> int:
    """The concrete value of ``x``, known to lie in ``lo..hi``, by a search CrossHair steers.

    On a symbolic ``x`` every comparison is a branch of CrossHair's path tree, and the path ends
    with ``x`` pinned to one value, so the counterexample CrossHair prints is exactly the input
    that ran. Each step puts a quarter of the range on the side CrossHair takes a quarter of the
    time (see the module docstring). On a plain int it is the identity."""
    while lo < hi:
        cut = lo + max(1, round((hi - lo + 1) * TRUE_SIDE_SHARE))
        if x < cut:
            hi = cut - 1
        else:
            lo = cut
    return lo


def contract_for(cell: Cell, probe: Probe) -> Callable[..., Observation]:
    """The function CrossHair analyses for ``cell``; ``probe`` counts the inputs it ran."""

    def cell_contract(nsegs: int, s0: int, s1: int, s2: int, s3: int, s4: int, s5: int, s6: int, s7: int,
                      nwin: int, w0: int, w1: int, w2: int, w3: int, w4: int, w5: int, w6: int, w7: int,
                      mode: int) -> Observation:
        """Run the cell on one input; the post is the contract every user relies on (run_cell's).

        pre: cell.max_segs >= 1
        post: __return__.holds
        """
        probe.runs += 1
        inp = cell.input_of(nsegs, s0, s1, s2, s3, s4, s5, s6, s7, nwin, w0, w1, w2, w3, w4, w5, w6, w7, mode)
        with NoTracing():  # concrete from here on: see the module docstring
            if probe.running is not None:  # the previous run never returned
                probe.unfinished = probe.unfinished or probe.running
            probe.running = inp
            obs = run_cell(cell.image, cell.user, cell.proto, inp, cell.sabotage)
            probe.running = None
            return obs

    return cell_contract
