"""The seriescheck command line.

Exit codes: 0 every cell matches its manifest; 1 a result contradicts a manifest (or a replay
shows the failure); 2 bad input or usage; 3 nothing contradicts but some cell is UNKNOWN.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from checks.harness import CellInput, ModelError, run_cell
from checks.profiles import PROFILES, UnknownProfile, get_profile
from checks.series import SeriesError, all_series, compose, load_series

EXIT_OK, EXIT_CONTRADICTS, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3


class BadInput(Exception):
    """Bad input on the command line; the message says what to give instead."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (BadInput, SeriesError, UnknownProfile, ModelError) as e:
        print(f"seriescheck: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seriescheck", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="check every step of each series against its manifest")
    v.add_argument("series", nargs="*", help="series names under series/ or paths (default: all)")
    _profile_args(v)
    v.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE ('-' for stdout)")
    v.add_argument("--user", action="append", help="only this user (repeatable)")
    v.add_argument("--protocol", action="append", help="only this protocol (repeatable)")
    v.set_defaults(func=cmd_verify)

    r = sub.add_parser("replay", help="re-run one counterexample concretely; exit 1 if it fails")
    r.add_argument("series")
    r.add_argument("step")
    r.add_argument("user")
    r.add_argument("protocol")
    r.add_argument("--input", required=True, help='JSON, e.g. {"segs":[2],"script":[[1,"signal"]]}')
    r.set_defaults(func=cmd_replay)

    rel = sub.add_parser("relies", help="what each user relies on: run it over abstract send/receive paths")
    rel.add_argument("--user", action="append", help="only this user (repeatable)")
    _profile_args(rel)
    rel.set_defaults(func=cmd_relies)

    lst = sub.add_parser("list", help="list the series, users and protocols")
    lst.set_defaults(func=cmd_list)
    return p


def _profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    p.add_argument("--no-crosshair", action="store_true", help="skip the CrossHair engine")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")


def cmd_verify(args) -> int:
    from checks import render
    from checks.matrix import verify_series

    profile = get_profile(args.profile, crosshair=False if args.no_crosshair else None)
    refs = args.series or [str(p) for p in all_series()]
    series = [load_series(ref) for ref in refs]
    for s in series:
        compose(s)
    print(render.header(profile), flush=True)
    results = []
    for s in series:
        r = verify_series(s, profile, args.jobs, users=args.user, protocols=args.protocol)
        results.append(r)
        print(render.series_text(r), flush=True)
    if args.json:
        doc = render.dumps(render.to_json(results, profile))
        if args.json == "-":
            print(doc)
        else:
            Path(args.json).write_text(doc + "\n")
    if not all(r.expected_met for r in results):
        return EXIT_CONTRADICTS
    return EXIT_UNKNOWN if any(r.unknown for r in results) else EXIT_OK


def cmd_replay(args) -> int:
    from checks.cell import all_users
    from checks.harness import PROTOCOLS

    series = load_series(args.series)
    step = series.step(args.step)
    users = all_users()
    if args.user not in users:
        raise BadInput(f"unknown user {args.user!r}; known users: {', '.join(sorted(users))}")
    if args.protocol not in PROTOCOLS:
        raise BadInput(f"unknown protocol {args.protocol!r}; known: {', '.join(PROTOCOLS)}")
    try:
        inp = CellInput.from_json(json.loads(args.input))
    except (ValueError, KeyError, TypeError) as e:
        example = '{"segs":[2],"script":[[1,"signal"]]}'
        raise BadInput(f"--input is not a cell input ({e}); give e.g. '{example}'") from e
    image = compose(series).images[step.id]
    obs = run_cell(image, users[args.user], args.protocol, inp)
    print(f"{step.id} {args.user}/{args.protocol}: {inp.describe()}")
    print(f"  returned {obs.rc}; expected {obs.expected!r}; got {obs.got!r}")
    if obs.holds:
        print("  the contract holds for this input")
        return EXIT_OK
    print(f"  FAILS: {obs.failure}")
    return EXIT_CONTRADICTS


def cmd_list(args) -> int:
    from checks.cell import all_users

    for p in all_series():
        s = load_series(str(p))
        print(f"series {s.name}: {', '.join(x.id for x in s.steps)}")
    for u in sorted(all_users().values(), key=lambda u: u.name):
        print(f"user {u.name} ({u.kfile}, {u.direction}) over {', '.join(u.protocols)}")
    return EXIT_OK


def cmd_relies(args) -> int:
    from checks.relies import relies_table, render

    profile = get_profile(args.profile, crosshair=False)
    rows = relies_table(profile, args.user, args.jobs)
    print(f"what each user relies on (exhaustive over {profile.exhaustive.describe()}, TCP waits and errors)")
    print(render(rows))
    return EXIT_OK
