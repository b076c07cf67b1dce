"""The seriescheck command line.

Exit codes: 0 every cell matches its manifest; 1 a result contradicts a manifest (or a replay
shows the failure); 2 bad input or usage; 3 nothing contradicts but some cell is UNKNOWN;
130 interrupted (Ctrl-C). Bad input is refused before anything runs, in one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from checks import cluster, reports
from checks.cache import VerdictCache, cache_dir
from checks.harness import INPUT_EXAMPLE, CellInput, ModelError, run_cell, stop_if_interrupted, watch_interrupts
from checks.profiles import PROFILES, UnknownProfile, get_profile
from checks.series import SeriesError, all_series, compose, load_series

EXIT_OK, EXIT_CONTRADICTS, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class BadInput(Exception):
    """Bad input on the command line; the message says what to give instead."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    watch_interrupts()
    try:
        _check_outputs(args)
        if hasattr(args, "no_cache"):  # every command that keeps verdicts (verify --git too)
            _usable_cache_dir()
        with cluster.session(cluster.address_from(args)):  # cluster hook (issue 13): connect before any work
            code = args.func(args)
        if code < 128:  # 128 + a signal: the command handled the interrupt itself (verify --git)
            stop_if_interrupted()  # a Ctrl-C Python dropped on the way (in a garbage-collector callback, say)
        return code
    except (BadInput, SeriesError, UnknownProfile, ModelError, cluster.ClusterError) as e:  # OrderError: SeriesError
        print(f"seriescheck: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("seriescheck: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split("\n"))


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes (1 or more)")
    return n


def _check_outputs(args) -> None:
    """Every file the run will write is writable, and stdout has one taker, before anything runs."""
    targets = [("--json", args.json)] if getattr(args, "json", None) not in (None, "-") else []
    targets += [(f"--format {fmt}=", t) for fmt, t in getattr(args, "formats", []) if t is not None]
    for option, target in targets:
        _writable(option, target)
    to_stdout = (["--json -"] if getattr(args, "json", None) == "-" else []) + [
        f"--format {fmt}" for fmt, t in getattr(args, "formats", []) if t is None and fmt != "text"]
    if len(to_stdout) > 1:
        raise BadInput(f"{' and '.join(to_stdout)} would both write to stdout; give all but one a file")


def _writable(option: str, target: str) -> None:
    p = Path(target)
    option = option if option.endswith("=") else option + " "  # "--format markdown=FILE", "--json FILE"
    try:
        if p.is_dir():
            raise BadInput(f"{option}{target}: is a directory; give a file name")
        existed = p.exists()
        with p.open("a", encoding="utf-8"):
            pass
        if not existed:
            p.unlink()
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise BadInput(f"{option}{target[:200]}: cannot write there ({why}); give a writable file path") from None


def _cache(args) -> VerdictCache:
    """The verdict cache, checked to be a usable directory before any cell runs."""
    return VerdictCache(_usable_cache_dir(), read=not getattr(args, "no_cache", False))


def _usable_cache_dir() -> Path:
    folder = cache_dir()
    try:
        (folder / "cells").mkdir(parents=True, exist_ok=True)
        if not os.access(folder / "cells", os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise BadInput(f"verdict cache {folder}: not a usable directory ({why}); set SERIESCHECK_CACHE to a "
                       f"directory you can write, or remove what is in the way") from None
    return folder


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seriescheck", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="check every step of each series against its manifest")
    v.add_argument("series", nargs="*", help="series names under series/ or paths (default: all)")
    _profile_args(v)
    v.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE ('-' for stdout)")
    reports.add_report_options(v)
    v.add_argument("--user", action="append", help="only this user (repeatable)")
    v.add_argument("--protocol", action="append", help="only this protocol (repeatable)")
    cluster.add_argument(v)  # cluster hook (issue 13)
    v.set_defaults(func=cmd_verify)

    r = sub.add_parser("replay", help="re-run one counterexample concretely; exit 1 if it fails")
    r.add_argument("series")
    r.add_argument("step")
    r.add_argument("user")
    r.add_argument("protocol")
    r.add_argument("--input", required=True, help='JSON, e.g. {"segs":[2],"script":[[1,"signal"]]}')
    r.add_argument("--order", help="the steps applied, when not the series' own order (s01,s04,...)")
    r.set_defaults(func=cmd_replay)

    c = sub.add_parser("check", help="run one step's cells only")
    c.add_argument("series")
    c.add_argument("step")
    c.add_argument("--user", action="append", help="only this user (repeatable)")
    c.add_argument("--protocol", action="append", help="only this protocol (repeatable)")
    c.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE ('-' for stdout)")
    _profile_args(c)
    cluster.add_argument(c)  # cluster hook (issue 13)
    c.set_defaults(func=cmd_check)

    sh = sub.add_parser("show", help="print a step as a patch, with what callers can observe of it")
    sh.add_argument("series")
    sh.add_argument("step")
    sh.add_argument("--no-behaviour", action="store_true", help="skip comparing what users observe")
    _profile_args(sh)
    sh.set_defaults(func=cmd_show)

    vs = sub.add_parser("versions", help="every version of a symbol through a series")
    vs.add_argument("series")
    vs.add_argument("symbol")
    vs.set_defaults(func=cmd_versions)

    im = sub.add_parser("impact", help="the cells whose reachable definitions a step changes")
    im.add_argument("series")
    im.add_argument("step")
    im.set_defaults(func=cmd_impact)

    o = sub.add_parser("order", help="is an order of the steps safe? find one that is")
    o.add_argument("series")
    o.add_argument("--order", help="a proposed order (s01,s04,s02,...); default: the series' own")
    o.add_argument("--search", action="store_true", help="find an order in which no prefix regresses a cell")
    o.add_argument("--max-states", type=int, default=64,
                   help="kernel states the constraint review may evaluate for every safe order (default 64)")
    o.add_argument("--json", metavar="FILE", help="write the result and the constraints as JSON ('-' for stdout)")
    o.add_argument("--markdown", metavar="FILE", help="write the result and the constraints as Markdown ('-': stdout)")
    _profile_args(o)
    cluster.add_argument(o)  # cluster hook (issue 13)
    o.set_defaults(func=cmd_order)

    rel = sub.add_parser("relies", help="what each user relies on: run it over abstract send/receive paths")
    rel.add_argument("--user", action="append", help="only this user (repeatable)")
    _profile_args(rel)
    rel.set_defaults(func=cmd_relies)

    lst = sub.add_parser("list", help="list the series, users and protocols")
    lst.set_defaults(func=cmd_list)

    nw = sub.add_parser("new", help="start a series: series.toml with the base's known breaks, a first step")
    nw.add_argument("series", help="a name (created under series/) or a path")
    nw.add_argument("--base", default="v3.18", help="the series to build on (default v3.18)")
    nw.set_defaults(func=cmd_new)

    us = sub.add_parser("users", help="what a user's cell enters, its kernel file, protocols, reached definitions")
    us.add_argument("user", nargs="*", help="user names (default: all)")
    us.add_argument("--series", help="show the definitions reached in this series (default: the base kernel)")
    us.add_argument("--step", help="at this step of --series (default: its last)")
    us.set_defaults(func=cmd_users)

    dc = sub.add_parser("docs", help="print the series format reference (docs/series-format.md)")
    dc.add_argument("--write", action="store_true", help="write it to docs/series-format.md")
    dc.set_defaults(func=cmd_docs)
    from checks.gitrange import add_parsers  # verify --git/--range/--git-head, and upstream

    add_parsers(sub)
    return p


def _profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    p.add_argument("--no-crosshair", action="store_true", help="skip the CrossHair engine")
    p.add_argument("--jobs", type=_positive_int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--no-cache", action="store_true", help="run every cell afresh (the cache is still refreshed)")


def cmd_verify(args) -> int:
    from checks import render
    from checks.matrix import verify_all

    profile = get_profile(args.profile, crosshair=False if args.no_crosshair else None)
    refs = args.series or [str(p) for p in all_series()]
    series = [load_series(ref) for ref in refs]
    for s in series:
        compose(s)
    out = sys.stderr if args.json == "-" else reports.text_stream(args)  # stderr when JSON or a format takes stdout
    cache = _cache(args)
    print(render.header(profile), file=out, flush=True)
    # a live line on a terminal, else a log line; cluster hook (issue 13): with --cluster, jobs = its workers
    with reports.progress_display(jobs=cluster.jobs(args.jobs)) as progress:
        cluster.watch(progress)
        results = verify_all(series, profile, args.jobs, progress=progress, users=args.user,
                             protocols=args.protocol, cache=cache)
    for r in results:
        print(render.series_text(r), file=out, flush=True)
    print(cache.summary(), file=out)
    _write_json(args, results, profile)
    reports.write_reports(args, results, profile)
    if not all(r.expected_met for r in results):
        return EXIT_CONTRADICTS
    return EXIT_UNKNOWN if any(r.unknown for r in results) else EXIT_OK


def _write_json(args, results, profile) -> None:
    from checks import render

    if not args.json:
        return
    doc = render.dumps(render.to_json(results, profile))
    if args.json == "-":
        print(doc, flush=True)
        return
    try:
        Path(args.json).write_text(doc + "\n", encoding="utf-8")
    except OSError as e:  # checked before the run; the path went away since
        raise BadInput(f"--json {args.json}: cannot write there ({e.strerror})") from None


def cmd_replay(args) -> int:
    from checks.cell import all_users
    from checks.harness import PROTOCOLS

    series = load_series(args.series)
    step = series.step(args.step)
    if args.user.startswith("primitive:"):
        return _replay_primitive(series, step, args)
    users = all_users()
    if args.user not in users:
        raise BadInput(f"unknown user {args.user!r}; known users: {', '.join(sorted(users))}")
    if args.protocol not in PROTOCOLS:
        raise BadInput(f"unknown protocol {args.protocol!r}; known: {', '.join(PROTOCOLS)}")
    try:
        inp = CellInput.parse(json.loads(args.input), users[args.user], args.protocol)
    except ValueError as e:  # json.JSONDecodeError too
        raise BadInput(f"--input is not a cell input for {args.user}/{args.protocol}: {e}; "
                       f"give e.g. '{INPUT_EXAMPLE}'") from None
    image = _replay_image(series, step, args.order)
    obs = run_cell(image, users[args.user], args.protocol, inp)
    print(f"{step.id} {args.user}/{args.protocol}: {inp.describe()}")
    print(f"  returned {obs.rc}; expected {obs.expected!r}; got {obs.got!r}")
    if obs.holds:
        print("  the contract holds for this input")
        return EXIT_OK
    print(f"  FAILS: {obs.failure}")
    return EXIT_CONTRADICTS


def _replay_image(series, step, order: str | None):
    """The kernel at ``step``, in the series' own order or in ``--order``, which must include it."""
    if not order:
        return compose(series).images[step.id]
    from checks.order import parse_order

    ids = parse_order(series, order)
    if step.id != series.steps[0].id and step.id not in ids:
        raise BadInput(f"--order {order} does not include {step.short}, the step to replay at; add it "
                       f"(with the steps before it) or replay without --order")
    return compose(series, ids).images[step.id]


def _replay_primitive(series, step, args) -> int:
    from checks.primitives import PRIMITIVES, applicable, replay_primitive

    name = args.user.split(":", 1)[1]
    if name not in PRIMITIVES:
        raise BadInput(f"unknown primitive {name!r}; known: {', '.join(sorted(PRIMITIVES))}")
    if args.protocol != "-":
        raise BadInput(f"a primitive's cell has no protocol: give '-' instead of {args.protocol!r}")
    image = _replay_image(series, step, args.order)
    if name not in applicable(image):
        raise BadInput(f"{step.short} of series {series.name} has no {name} (or what its contract calls)")
    try:
        inputs = _primitive_input(name, json.loads(args.input))
    except ValueError as e:
        raise BadInput(f"--input is not an input of {name}: {e}") from None
    failure = replay_primitive(image, name, inputs)
    print(f"{step.id} {args.user}: {args.input}")
    if failure is None:
        print("  the contract holds for this input")
        return EXIT_OK
    print(f"  FAILS: {failure}")
    return EXIT_CONTRADICTS


def _primitive_input(name: str, d: object) -> dict:
    """The same keys as the primitive's own inputs, each a small count or a short list of them."""
    from checks.primitives import PRIMITIVES
    from checks.profiles import get_profile

    sample = next(PRIMITIVES[name].inputs(get_profile("smoke").exhaustive))
    if not isinstance(d, dict) or set(d) != set(sample):
        raise ValueError(f"give a JSON object with exactly the keys {', '.join(sample)}, e.g. {json.dumps(sample)}")
    for key, value in d.items():
        most = 0xFFFFFFFF if key == "csum" else MAX_PRIMITIVE_COUNT
        values = value if isinstance(sample[key], list) else [value]
        if (isinstance(sample[key], list) and (not isinstance(value, list) or len(value) > 64)) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= most for n in values):
            shape = "a list of at most 64 counts" if isinstance(sample[key], list) else "a count"
            raise ValueError(f"{key} must be {shape}, each 0..{most}; got {value!r}")
    return d


MAX_PRIMITIVE_COUNT = 4096


def cmd_list(args) -> int:
    from checks.cell import all_users

    for p in all_series():
        s = load_series(str(p))
        print(f"series {s.name}: {', '.join(x.id for x in s.steps)}")
    for u in sorted(all_users().values(), key=lambda u: u.name):
        print(f"user {u.name} ({u.kfile}, {u.direction}) over {', '.join(u.protocols)}")
    return EXIT_OK


def cmd_new(args) -> int:
    from checks.scaffold import new_series

    manifest, step = new_series(args.series, args.base)
    print(f"created {manifest} and {step}")
    print(f"next: write the patch into {step.name}, then: seriescheck verify {args.series} --profile smoke")
    return EXIT_OK


def cmd_users(args) -> int:
    from checks.scaffold import users_report

    print(users_report(args.user, args.series, args.step))
    return EXIT_OK


def cmd_docs(args) -> int:
    from checks import docs

    if args.write:
        print(f"wrote {docs.write()}")
    else:
        print(docs.render(), end="")
    return EXIT_OK


def cmd_relies(args) -> int:
    from checks.cell import all_users
    from checks.relies import relies_table, render

    profile = get_profile(args.profile, crosshair=False)
    users = all_users()
    for u in args.user or ():
        if u not in users:
            raise BadInput(f"unknown user {u!r}; known users: {', '.join(sorted(users))}")
        if "tcp" not in users[u].protocols:
            raise BadInput(f"{u} does not run over tcp, which the abstract paths model; it runs over "
                           f"{', '.join(users[u].protocols)}")
    rows = relies_table(profile, args.user, args.jobs, _cache(args))
    print(f"what each user relies on (exhaustive over {profile.exhaustive.describe()}, TCP waits and errors)")
    print(render(rows))
    return EXIT_OK


def cmd_check(args) -> int:
    """One step's cells, judged against the manifest and against the step before it (for regressions);
    verdicts come from and go to the same cache as ``verify``."""
    from checks import render
    from checks.matrix import _COMPOSED, _SERIES, _show_previous, cell_tasks, judge, run_tasks, share_counterexamples

    profile = get_profile(args.profile, crosshair=False if args.no_crosshair else None)
    series = load_series(args.series)
    composed = compose(series)
    _COMPOSED[(str(series.path), None)], _SERIES[str(series.path)] = composed, series
    step = series.step(args.step)
    i = [s.id for s in series.steps].index(step.id)
    steps = [series.steps[i - 1].id, step.id] if i else [step.id]
    tasks = cell_tasks(series, args.user, args.protocol, steps=steps)
    out = sys.stderr if args.json == "-" else sys.stdout
    cache = _cache(args)
    print(render.header(profile), file=out, flush=True)
    cells = share_counterexamples(tasks, run_tasks(tasks, profile, args.jobs, cache=cache))
    result = judge(series, cells, steps={step.id})
    _show_previous(result, composed)
    print(render.series_text(result), file=out)
    print(cache.summary(), file=out)
    _write_json(args, [result], profile)
    if not result.expected_met:
        return EXIT_CONTRADICTS
    return EXIT_UNKNOWN if result.unknown else EXIT_OK


def cmd_show(args) -> int:
    from checks.patch import behaviour_difference, impacted_cells, step_patch

    series = load_series(args.series)
    composed = compose(series)
    step = series.step(args.step)
    print(step_patch(series, composed, step))
    if args.no_behaviour or step.path is None:
        return EXIT_OK
    profile = get_profile(args.profile, crosshair=False)
    i = [s.id for s in series.steps].index(step.id)
    before, after = composed.images[series.steps[i - 1].id], composed.images[step.id]
    cells = impacted_cells(series, composed, step)
    print(f"What callers can observe (every input with {profile.exhaustive.describe()}):")
    if not cells:
        print("  no user reaches a definition this step changes")
    pure = True
    for user, proto, touched in cells:
        d = behaviour_difference(before, after, user, proto, profile.exhaustive)
        pure = pure and d.first is None
        what = "no difference" if d.first is None else f"DIFFERS at {d.first}"
        print(f"  {user}/{proto} (reaches {', '.join(sorted(touched))}): {what} over {d.inputs} inputs")
    print("  => pure refactor for every user" if pure else "  => changes behaviour for the users above")
    return EXIT_OK


def cmd_versions(args) -> int:
    from checks.patch import versions

    series = load_series(args.series)
    composed = compose(series)
    found = versions(series, composed, args.symbol)
    if not found:
        raise BadInput(f"no symbol {args.symbol!r} in any step of series {series.name!r}")
    for v in found:
        print(f"{v.label:<50} {v.where}")
    return EXIT_OK


def cmd_impact(args) -> int:
    from checks.patch import impacted_cells

    series = load_series(args.series)
    composed = compose(series)
    step = series.step(args.step)
    cells = impacted_cells(series, composed, step)
    print(f"{step.id}: {len(cells)} cell(s) reach a definition this step changes")
    for user, proto, touched in cells:
        print(f"  {user}/{proto}: {', '.join(sorted(touched))}")
    return EXIT_OK


def cmd_order(args) -> int:
    from checks.order import run_command

    if args.max_states < 1:
        raise BadInput(f"--max-states must be at least 1, got {args.max_states}")
    _check_outputs(args)
    if args.markdown not in (None, "-"):
        _writable("--markdown", args.markdown)
    if args.json == "-" and args.markdown == "-":
        raise BadInput("--json - and --markdown - would both write to stdout; give one a file")
    return run_command(args, get_profile(args.profile, crosshair=False if args.no_crosshair else None), _cache(args))
