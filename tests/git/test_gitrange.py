"""A series kept in git (checks/gitrange.py), on real repositories built with GitPython; no mocks.

The project repository is a copy of this project's model/, series/v3.18 (two users, to keep it
fast) and checks/, then: a harmless commit, one that breaks smb_send_kvec (it advances its kvec
by one byte too few), and one after. Every run is the command line in a subprocess, from the
installation (``python -P``: the repository's own checks/ in the current directory is not it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest

from checks.gitrange import check_step_commit, module_kernel_files, normalise_subject

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ("--profile", "smoke", "--no-crosshair")
USERS = ["smb_send_kvec", "iscsit_do_tx_data"]
BREAK = "cifs: advance the kvec by the bytes sent"
GOOD_LINE, BAD_LINE = "seg.iov_base = seg.iov_base + rc\n", "seg.iov_base = seg.iov_base + (rc - 1)\n"


def _command() -> list[str]:
    """``seriescheck``: checks.cli once it wires the git commands in, else checks.gitrange's own."""
    from checks.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [sys.executable, "-P", "-m", "checks" if "upstream" in sub.choices else "checks.gitrange"]


SERIESCHECK = _command()


def run(*args: str, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*SERIESCHECK, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def environment(tmp: Path, cache: Path) -> dict:
    """A private verdict cache, and a private TMPDIR that must be empty after every run."""
    (tmp / "tmpdir").mkdir(exist_ok=True)
    return dict(os.environ, SERIESCHECK_CACHE=str(cache), TMPDIR=str(tmp / "tmpdir"))


def commit_all(repo: git.Repo, message: str) -> git.Commit:
    repo.git.add("-A")
    return repo.index.commit(message)


def fingerprint(path: Path) -> dict[str, str]:
    """Every file and directory of the repository, .git included (index, HEAD, refs, packed-refs,
    logs, the stash, config, objects): its mode and the hash of its bytes."""
    out = {}
    for p in sorted(path.rglob("*")):
        rel = str(p.relative_to(path))
        if p.is_symlink():
            out[rel] = "link " + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = f"{p.stat().st_mode:o} {hashlib.sha256(p.read_bytes()).hexdigest()}"
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict:
    """The project repository, left with a stash, a staged file, an unstaged edit and an untracked file."""
    path = tmp_path_factory.mktemp("project")
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Test").set_value("user", "email", "test@example.org")
    (path / "README").write_text("a kernel series\n")
    initial = commit_all(repo, "Initial commit")
    for d in ("model", "checks", "series/v3.18"):
        shutil.copytree(ROOT / d, path / d, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "series/__init__.py", path / "series/__init__.py")
    toml = path / "series/v3.18/series.toml"
    text = re.sub(r"(?m)^users\s*=.*\n", "", toml.read_text())
    toml.write_text(f"users = {json.dumps(USERS)}\n" + text)
    imported = commit_all(repo, "Import the seriescheck model")
    (path / "README").write_text("a kernel series\nwith more words\n")
    harmless = commit_all(repo, "README: say more")
    user = path / "model/users/cifs_transport.py"
    assert GOOD_LINE in user.read_text(), "model/users/cifs_transport.py changed: update GOOD_LINE"
    user.write_text(user.read_text().replace(GOOD_LINE, BAD_LINE))
    breaking = commit_all(repo, BREAK)
    (path / "NOTES").write_text("notes\n")
    after = commit_all(repo, "Add notes")
    (path / "README").write_text("stashed edit\n")
    repo.git.stash("push", "-m", "work in progress")
    (path / "NOTES").write_text("unstaged edit\n")
    (path / "staged.txt").write_text("staged\n")
    repo.index.add(["staged.txt"])
    (path / "untracked.txt").write_text("untracked\n")
    repo.close()
    return {"path": path, "initial": initial.hexsha, "imported": imported.hexsha, "harmless": harmless.hexsha,
            "breaking": breaking.hexsha, "after": after.hexsha}


def clone(project: dict, dest: Path) -> Path:
    git.Repo.clone_from(str(project["path"]), str(dest)).close()
    r = git.Repo(dest)
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Test").set_value("user", "email", "test@example.org")
    r.close()
    return dest


# --- a range --------------------------------------------------------------------------------------

def test_range_names_the_breaking_commit_and_leaves_the_repository_alone(project, tmp_path):
    path, env = project["path"], environment(tmp_path, tmp_path / "cache")
    before = fingerprint(path)
    out = tmp_path / "range.json"
    r = run("verify", "--git", str(path), "--range", f"{project['imported'][:12]}..main", *SMOKE, "--json", str(out),
            cwd=tmp_path, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f'FIRST REGRESSION: {project["breaking"][:12]} "{BREAK}"' in r.stdout
    assert re.search(r"v3\.18 smb_send_kvec/tcp \(last step v3\.18\): CONFIRMED at \w+, BROKEN at", r.stdout)
    assert "input: kvec lengths" in r.stdout and "replay (in a checkout of" in r.stdout
    assert "commits: 2 reused from the cache, 2 checked" in r.stdout  # two commits change no tree of the model
    doc = json.loads(out.read_text())
    assert [c["verdict"] for c in doc["commits"]] == ["good", "BAD", "good"]
    first = doc["first_regression"]
    assert first["commit"] == project["breaking"] and first["subject"] == BREAK
    assert fingerprint(path) == before
    assert not os.listdir(tmp_path / "tmpdir")
    # the replay command reproduces the failure at that commit (exported, as the README shows)
    replay = first["regressions"][0]["replay"]
    export = tmp_path / "export"
    export.mkdir()
    archive = subprocess.run(["git", "-C", str(path), "archive", project["breaking"], "model", "series", "checks"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive, check=True)
    rp = subprocess.run(replay.replace("seriescheck", f"{sys.executable} -m checks", 1), shell=True, cwd=export,
                        env=dict(env, PYTHONPATH=str(export)), capture_output=True, text=True, timeout=120)
    assert rp.returncode == 1 and "FAILS" in rp.stdout, rp.stdout + rp.stderr


def test_amending_the_last_commit_rechecks_only_that_commit(project, tmp_path):
    path = clone(project, tmp_path / "clone")
    env = environment(tmp_path, tmp_path / "cache")
    args = ("verify", "--git", str(path), "--range", f"{project['imported']}..HEAD", *SMOKE)
    first = run(*args, cwd=tmp_path, env=env)
    assert first.returncode == 1 and "2 checked" in first.stdout, first.stdout + first.stderr
    repo = git.Repo(path)
    uio = path / "model/uio.py"
    uio.write_text(uio.read_text() + "\n# a comment the checker does not care about\n")
    repo.git.commit("-a", "--amend", "-m", "Add notes, and a comment")
    repo.close()
    again = run(*args, cwd=tmp_path, env=env)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "commits: 3 reused from the cache, 1 checked" in again.stdout, again.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_changes_nothing_and_leaves_nothing_behind(project, tmp_path, sig):
    path, env = project["path"], environment(tmp_path, tmp_path / "cache")
    before = fingerprint(path)
    p = subprocess.Popen([*SERIESCHECK, "verify", "--git", str(path), "--range", f"{project['imported']}..main",
                          *SMOKE, "--no-cache"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stdout:  # the header is printed before the first commit is read
        if line.startswith("git "):
            break
    time.sleep(0.3)  # inside the check of the base commit (about a second)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, out + err
    assert err.strip().splitlines() == [f"seriescheck: interrupted; nothing in {path} was changed"]
    assert fingerprint(path) == before
    assert not os.listdir(tmp_path / "tmpdir")
    assert not checkers_in(tmp_path / "tmpdir"), "a checker process outlived the interrupted run"


def checkers_in(folder: Path) -> list[str]:
    """Processes whose working directory is (or was) under ``folder`` (Linux /proc; [] elsewhere)."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if os.readlink(cwd).startswith(str(folder)):
                found.append(cwd.parent.name)
        except OSError:  # gone, or not ours to read
            continue
    return found


# --- one commit: git bisect run, git rebase --exec ---------------------------------------------------

@pytest.fixture(scope="module")
def head_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("head-cache")


def test_git_bisect_run_finds_the_breaking_commit(project, tmp_path, head_cache):
    path, env = clone(project, tmp_path / "clone"), environment(tmp_path, head_cache)

    def g(*a: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *a], cwd=path, env=env, capture_output=True, text=True, timeout=300)

    assert g("bisect", "start", "HEAD", project["imported"]).returncode == 0
    r = g("bisect", "run", *SERIESCHECK, "verify", "--git-head", "v3.18", *SMOKE)
    assert f"{project['breaking']} is the first bad commit" in r.stdout, r.stdout + r.stderr
    g("bisect", "reset")


def test_git_rebase_exec_stops_at_the_breaking_commit(project, tmp_path, head_cache):
    path, env = clone(project, tmp_path / "clone"), environment(tmp_path, head_cache)
    exec_cmd = " ".join([*SERIESCHECK, "verify", "--git-head", "v3.18", *SMOKE])
    r = subprocess.run(["git", "rebase", "--exec", exec_cmd, project["imported"]], cwd=path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert re.search(rf'BAD: \w{{12}} "{re.escape(BREAK)}"', r.stdout), r.stdout + r.stderr
    repo = git.Repo(path)
    assert repo.head.commit.summary == BREAK
    repo.git.rebase("--abort")
    repo.close()


def test_git_head_exit_codes(project, tmp_path, head_cache):
    path, env = clone(project, tmp_path / "clone"), environment(tmp_path, head_cache)
    repo = git.Repo(path)

    def at(rev: str) -> int:
        repo.git.checkout("-q", "--detach", rev)
        r = run("verify", "--git-head", "v3.18", *SMOKE, cwd=path, env=env)
        assert r.stderr == "", r.stderr
        return r.returncode

    assert at(project["after"]) == 0
    assert at(project["breaking"]) == 1
    assert at(project["imported"]) == 0  # its parent has no model: nothing held before it
    assert at(project["initial"]) == 125  # no model here: cannot test
    repo.git.checkout("-q", "main")
    shutil.rmtree(path / "checks")  # checked by this installation's checker
    commit_all(repo, "Drop the checker; use the installed one")
    r = run("verify", "--git-head", "v3.18", *SMOKE, cwd=path, env=env)
    assert r.returncode == 0 and "12 cells, 2 failing" in r.stdout, r.stdout + r.stderr
    (path / "model/uio.py").write_text("def broken(:\n")
    commit_all(repo, "uio: a syntax error")
    r = run("verify", "--git-head", "v3.18", *SMOKE, cwd=path, env=env)
    assert r.returncode == 125 and "model/uio.py" in r.stdout, r.stdout + r.stderr
    repo.close()


# --- bad input ----------------------------------------------------------------------------------

def test_bad_input_gives_one_line_and_exit_2(project, tmp_path):
    path, env = project["path"], environment(tmp_path, tmp_path / "cache")
    shallow = tmp_path / "shallow"
    git.Repo.clone_from(f"file://{path}", str(shallow), depth=1).close()
    before = fingerprint(path)
    for args, needle in [
        (("verify", "--git", str(path), "--range=--upload-pack=touch /tmp/x..main"), "looks like an option"),
        (("verify", "--git=--upload-pack=x", "--range", "main~1..main"), "looks like an option"),
        (("verify", "--git", str(path), "--range", "no-such-branch..main"), "does not resolve to a commit"),
        (("verify", "--git", str(path), "--range", "main...main~1"), "is not A..B"),
        (("verify", "--git", str(path), "--range", "main..main~1"), "no commit is in"),
        (("verify", "--git", str(tmp_path), "--range", "main~1..main"), "not a git repository"),
        (("verify", "--git", str(tmp_path / "nowhere"), "--git-head"), "no such directory"),
        (("verify", "--git", str(path)), "--git needs --range"),
        (("verify", "--git", str(shallow), "--range", "HEAD~2..HEAD"), "shallow clone"),
        (("verify", "--git", str(shallow), "--git-head"), "shallow clone"),
        (("upstream", "iscsi-stable"), "needs a local clone of the kernel: --linux PATH"),
        (("upstream", "iscsi-stable", "--linux", str(tmp_path)), "not a git repository"),
        (("upstream", "iscsi-stable", "--linux=--upload-pack=x"), "looks like an option"),
    ]:
        r = run(*args, cwd=tmp_path, env=env)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, r.stderr)
    inside = run("verify", "--git", str(path), "--git-head", cwd=tmp_path, env=dict(env, TMPDIR=str(path / ".git")))
    assert inside.returncode == 2 and "is inside" in inside.stderr and inside.stdout == "", inside.stderr
    assert fingerprint(path) == before
    assert not os.listdir(tmp_path / "tmpdir")


# --- upstream -------------------------------------------------------------------------------------

SEPARATE = "separate kernel- and userland-side msghdr"  # 666547ff591c, kernel-facts §5
ISCSI = "iscsi-target: Fail connection on short sendmsg writes"  # 6bf6ca7515c1, kernel-facts §5


def kernel_repo(path: Path, subjects: dict[str, str]) -> tuple[git.Repo, dict[str, str]]:
    """A small kernel history: v3.18's files, then one commit per confirmed patch."""
    repo = git.Repo.init(path, initial_branch="master")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Test").set_value("user", "email", "test@example.org")
    files = ("include/linux/socket.h", "net/socket.c", "net/compat.c", "drivers/target/iscsi/iscsi_target_util.c")
    for f in files:
        (path / f).parent.mkdir(parents=True, exist_ok=True)
        (path / f).write_text("/* v3.18 */\n")
    commit_all(repo, "Linux 3.18")
    shas = {}
    for key, touched in (("separate", ("include/linux/socket.h", "net/socket.c", "net/compat.c")),
                         ("iscsi", ("drivers/target/iscsi/iscsi_target_util.c",))):
        for f in touched:
            (path / f).write_text(f"/* {key} */\n")
        shas[key] = commit_all(repo, subjects[key] + "\n\nSigned-off-by: Test\n").hexsha
    return repo, shas


def test_upstream_reports_exactly_the_mismatched_subject(tmp_path):
    linux, shas = kernel_repo(tmp_path / "linux", {"separate": SEPARATE, "iscsi": ISCSI.replace("writes", "write")})
    linux.close()
    series = tmp_path / "confirmed"
    series.mkdir()
    shutil.copy(ROOT / "series/as-merged/s01_separate_kernel_and_userland_msghdr.py",
                series / "s01_separate_kernel_and_userland_msghdr.py")
    shutil.copy(ROOT / "series/iscsi-stable/t01_iscsi_target_fail_connection_on_short_sendmsg_writes.py",
                series / "s02_iscsi_target_fail_connection_on_short_sendmsg_writes.py")
    (series / "series.toml").write_text('name = "confirmed"\norder = ["s01_separate_kernel_and_userland_msghdr", '
                                        '"s02_iscsi_target_fail_connection_on_short_sendmsg_writes"]\n')
    env = environment(tmp_path, tmp_path / "cache")
    r = run("upstream", str(series), "--linux", str(tmp_path / "linux"), "--map", f"666547ff591c={shas['separate']}",
            "--map", f"6bf6ca7515c1={shas['iscsi']}", cwd=tmp_path, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert [x.split()[0] for x in lines if "MISMATCH" in x] == ["s02"], r.stdout
    assert any(x.startswith("s01") and "ok" in x and "subject exact" in x for x in lines), r.stdout
    problems = [x.strip() for x in lines if x.startswith("       ") and "not compared" not in x]
    assert problems == [f'subject: the step says "{ISCSI}", the commit says "{ISCSI.replace("writes", "write")}"']
    assert "upstream: 1 of 2 step(s) do not match" in r.stdout
    # without a map the real ids are not in this clone: every step is reported, exit 1
    r = run("upstream", str(series), "--linux", str(tmp_path / "linux"), cwd=tmp_path, env=env)
    assert r.returncode == 1 and r.stdout.count("no such commit in this clone") == 2, r.stdout


def test_a_commit_is_judged_by_its_subject_and_the_files_it_touched(tmp_path):
    linux, shas = kernel_repo(tmp_path / "linux", {"separate": SEPARATE, "iscsi": "  ISCSI-target: fail connection "
                                                                                   "on short  sendmsg writes."})
    iscsi, separate = linux.commit(shas["iscsi"]), linux.commit(shas["separate"])
    util = ("drivers/target/iscsi/iscsi_target_util.c",)
    ok = check_step_commit(ISCSI, {"iscsit_do_tx_data": util}, iscsi)
    assert ok.subject_match == "normalised" and ok.problems == [] and ok.files_checked == 1
    wrong_files = check_step_commit(SEPARATE, {"iscsit_do_tx_data": util, "user_msghdr": ()}, separate)
    assert wrong_files.subject_match == "exact" and wrong_files.notes == ["user_msghdr"]
    assert wrong_files.problems == [f"files: the commit touches none of {util[0]} (iscsit_do_tx_data)"]
    assert normalise_subject(" A  b. ") == normalise_subject("a b")
    linux.close()
    assert module_kernel_files(str(ROOT / "model/uio.py")) == ("include/linux/uio.h", "mm/iov_iter.c")
    assert module_kernel_files(str(ROOT / "model/users/usbip.py"))[:2] == ("drivers/usb/usbip/vhci_tx.c",
                                                                           "drivers/usb/usbip/usbip_common.c")
    assert module_kernel_files(str(ROOT / "model/kernel.py")) == ()
