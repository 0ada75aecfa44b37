"""Issue 7, classes 1-3 and 9-13: output destinations, atomic swap and locks, interrupts and
OS errors, provenance and byte stability, lint scope, kernel isolation, kernel failures,
freshness of cached results. Tiny fixture chapters only (a few seconds per kernel)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from fixtures.tinybook import FIXTURES, chapter_text, make_project, package_copy, use_fixtures
from helpers import ROOT, one_line

from dropout_study import codehash
from dropout_study.book import cache, kernel, outputs, pipeline
from dropout_study.book import postprocess as executed
from dropout_study.book.params import resolve
from dropout_study.book.pipeline import build, execute
from dropout_study.book.project import BuildFailed, ChapterFailed, Project
from dropout_study.cli import main as cli

REPO = ROOT


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny", "tiny-two"))


def _replace_in_source(project, cid, old, new):
    src = project.source(cid)
    text = src.read_text()
    assert old in text
    src.write_text(text.replace(old, new))


SLEEP = 'if params["explode"]:'
SLEEPING = 'import time\ntime.sleep(300)\nif params["explode"]:'
DYING = 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\nif params["explode"]:'


# ------------------------------------------------------------------------------------------
# 1. output destinations never destroy what the study did not write
# ------------------------------------------------------------------------------------------
def test_out_holding_user_files_is_refused_before_a_kernel(project, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 2
    err = one_line(capsys.readouterr().err)
    assert "The '--out' parameter of dropout-study run must be absent, an empty directory" in err
    assert "notes.txt" in err
    assert (out / "notes.txt").read_text() == "my notes" and len(list(out.iterdir())) == 1


def _prev_other(out):
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"chapter": "tiny-two"}))


def _plain_file(out):
    out.write_text("a file")


def _run_json_broken(out):
    out.mkdir()
    (out / "run.json").write_text("{not json")


def _hidden_only(out):
    out.mkdir()
    (out / ".git").mkdir()


@pytest.mark.parametrize("make", [_prev_other, _plain_file, _run_json_broken, _hidden_only])
def test_other_destinations_that_are_not_ours_are_refused(project, tmp_path, capsys, make):
    out = tmp_path / "o"
    make(out)
    before = sorted(p.name for p in out.parent.iterdir())
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 2
    assert "'--out' parameter" in one_line(capsys.readouterr().err)
    assert sorted(p.name for p in out.parent.iterdir()) == before


def test_run_never_writes_into_book_generated(project, capsys):
    for out in (project.generated / "tiny", project.generated):
        assert cli.main(["run", "tiny", "--out", str(out)], project) == 2
        err = one_line(capsys.readouterr().err)
        assert "outside book/generated" in err
    assert not project.generated.exists()


def test_a_path_through_a_file_is_refused(project, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert cli.main(["run", "tiny", "--out", str(tmp_path / "f" / "sub")], project) == 2
    assert "is a file" in one_line(capsys.readouterr().err)


def test_an_unwritable_parent_is_refused(project, tmp_path, capsys, monkeypatch):
    # the tests run as root, for whom every directory is writable: the check is simulated
    parent = tmp_path / "ro"
    parent.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == parent else real(p, m))
    assert cli.main(["run", "tiny", "--out", str(parent / "o")], project) == 2
    assert "is not writable" in one_line(capsys.readouterr().err)


def test_absent_and_empty_destinations_and_own_outputs_are_accepted(tmp_path):
    assert outputs.check_destination(tmp_path / "a" / "b", "tiny") == tmp_path / "a" / "b"
    (tmp_path / "e").mkdir()
    assert outputs.check_destination(tmp_path / "e", "tiny")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "run.json").write_text(json.dumps({"chapter": "tiny"}))
    assert outputs.check_destination(tmp_path / "mine", "tiny")


# ------------------------------------------------------------------------------------------
# 2. replacing a result is atomic and self-healing
# ------------------------------------------------------------------------------------------
SWAP_SCRIPT = r"""
import os, signal, sys
from pathlib import Path
from dropout_study.book import outputs
dest, point, mode, content = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
outputs.EXCHANGE = None if mode == "exchange" else False
def hook(p):
    if p == point:
        os.kill(os.getpid(), signal.SIGKILL)
outputs._HOOK = hook
with outputs.locked(dest):
    outputs.recover(dest)
    run = outputs.make_run_dir(dest)
    (run / "result.txt").write_text(content)
    if point == "mid-write":
        os.kill(os.getpid(), signal.SIGKILL)
    (run / "run.json").write_text('{"chapter": "c"}')
    outputs.swap_in(run, dest)
"""


def _swap(dest, point, mode, content):
    return subprocess.run(
        [sys.executable, "-c", SWAP_SCRIPT, str(dest), point, mode, content],
        capture_output=True,
        text=True,
    ).returncode


def _result(dest):
    assert dest.is_dir()
    assert sorted(p.name for p in dest.iterdir()) == ["result.txt", "run.json"]  # complete
    return (dest / "result.txt").read_text()


@pytest.mark.parametrize(
    ("mode", "point"),
    [
        ("exchange", "mid-write"),
        ("exchange", "before-swap"),
        ("exchange", "after-swap"),
        ("fallback", "before-swap"),
        ("fallback", "between-renames"),
        ("fallback", "after-swap"),
    ],
)
def test_a_kill_at_any_point_leaves_one_complete_result(tmp_path, mode, point):
    dest = tmp_path / "res"
    assert _swap(dest, "none", mode, "old") == 0
    assert _swap(dest, point, mode, "new") == -signal.SIGKILL
    if not (mode == "fallback" and point == "between-renames"):
        # the exchange is atomic: the destination holds one complete result at every instant
        assert _result(dest) == ("new" if point == "after-swap" else "old")
    # the next run heals: (the fallback's missing destination is restored first)
    outputs.recover(dest)
    assert _result(dest) in ("old", "new") and outputs.leftovers(dest) == []
    assert _swap(dest, "none", mode, "next") == 0
    assert _result(dest) == "next" and outputs.leftovers(dest) == []


def test_a_kill_in_the_first_run_leaves_nothing_after_the_next(tmp_path):
    dest = tmp_path / "res"
    assert _swap(dest, "before-swap", "exchange", "first") == -signal.SIGKILL
    assert not dest.exists() and len(outputs.leftovers(dest)) == 1
    assert _swap(dest, "none", "exchange", "second") == 0
    assert _result(dest) == "second" and outputs.leftovers(dest) == []


def test_the_exchange_is_used_on_this_machine(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    assert outputs._exchange(a, b)
    assert (b / "x").read_text() == "a" and not (a / "x").exists()


def test_a_real_run_killed_before_its_swap_keeps_the_last_result(project, tmp_path):
    spec = project.spec("tiny")
    dest = tmp_path / "d"
    execute(spec, resolve(spec, "smoke"), dest, profile="smoke")
    before = (dest / "metrics.json").read_bytes()
    script = (
        "import os, signal, sys\n"
        f"sys.path.insert(0, {str(FIXTURES.parent)!r})\n"
        "from dropout_study.book import outputs, pipeline\n"
        "from dropout_study.book.params import resolve\n"
        "from dropout_study.book.project import Project\n"
        "outputs._HOOK = lambda p: os.kill(os.getpid(), signal.SIGKILL) "
        "if p == 'before-swap' else None\n"
        f"pr = Project(root=__import__('pathlib').Path({str(project.root)!r}), "
        "chapters=('tiny', 'tiny-two'))\n"
        "spec = pr.spec('tiny')\n"
        f"pipeline.execute(spec, resolve(spec, 'smoke', {{'p': 0.1}}), {str(dest)!r}, "
        "profile='smoke')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (dest / "metrics.json").read_bytes() == before
    assert len(outputs.leftovers(dest)) == 1  # the killed run's directory
    execute(spec, resolve(spec, "smoke"), dest, profile="smoke")
    assert outputs.leftovers(dest) == []


HOLD_SCRIPT = r"""
import sys, time
from dropout_study.book import outputs
with outputs.locked(sys.argv[1]):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_second_writer_stops_with_one_line(project, tmp_path, capsys):
    out = tmp_path / "o"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        # refused as invalid input (exit 2), at once and before any work: it used to print
        # its estimate and "running ...", wait LOCK_WAIT, and exit 1
        assert outputs.busy(out)
        t0 = time.monotonic()
        assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 2
        waited = time.monotonic() - t0
        captured = capsys.readouterr()
        err = one_line(captured.err)
        assert "The '--out' parameter of dropout-study run must be a folder no other" in err
        assert str(out) in err and "running" not in captured.out
        assert f"pid {holder.pid}" in err  # names the other run
        # the lock lives beside the folder it guards (hidden), not under $TMPDIR
        assert (out.parent / ".o.lock").is_file()
        assert waited < outputs.LOCK_WAIT
        # the run itself still takes the lock (two runs past the check together): it waits
        with pytest.raises(outputs.OutputBusy, match=f"pid {holder.pid}"):
            with outputs.locked(out, wait=0.05):
                pass
    finally:
        holder.kill()
        holder.wait()
    with outputs.locked(out, wait=1):  # released with its holder
        pass
    assert not outputs.busy(out)
    assert not [p for p in out.parent.iterdir() if "lock" in p.name]  # gone with its holder


# ------------------------------------------------------------------------------------------
# 3. interrupts and OS errors are one line
# ------------------------------------------------------------------------------------------
RUN_SCRIPT = r"""
import signal, sys
# As from a terminal: Ctrl-C delivered and handled, whatever this test process inherited
# (a test worker may have left SIGINT ignored or blocked, and a child inherits both).
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
signal.signal(signal.SIGINT, signal.default_int_handler)
from pathlib import Path
from dropout_study.cli import main as cli
from dropout_study.book.project import Project
root = Path(sys.argv[1])
cli.entry(sys.argv[2:], Project(root=root, chapters=("tiny", "tiny-two")))  # as the command
"""


def _kernels_of(pid):
    import psutil

    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []

    def cmdline(k) -> str:  # a child may end (or be a zombie) between listing and reading
        try:
            return " ".join(k.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return ""

    return [k for k in kids if "ipykernel" in cmdline(k)]


def _interrupt_once_running(argv, *, n_kernels, env=None, family=False, sig=signal.SIGINT):
    """Run the command ``argv`` (RUN_SCRIPT), send SIGINT to it alone once ``n_kernels``
    kernels run its sleeping cells; ``(returncode, stderr, processes)`` with the kernels, or
    with all its descendants at that moment (``family``)."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_SCRIPT, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        kernels = []
        while time.monotonic() < deadline and len(kernels) < n_kernels:
            time.sleep(0.5)
            kernels = _kernels_of(proc.pid)
        assert len(kernels) >= n_kernels, f"{len(kernels)} of {n_kernels} kernels started"
        time.sleep(3)  # into the sleeping cells
        watched = psutil.Process(proc.pid).children(recursive=True) if family else kernels
        proc.send_signal(sig)  # to the command alone, as `kill -INT` or `timeout` would
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, err, watched


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_or_termination_is_one_line_ends_the_kernel_and_its_workers(project, tmp_path, sig):
    # SIGTERM is what `timeout`, a batch system's time limit or `kill` sends; SIGHUP a closed
    # terminal: both end the run as Ctrl-C does, with status 128 + signal
    import psutil

    _replace_in_source(project, "tiny", SLEEP, SLEEPING)
    out = tmp_path / "o"
    argv = [str(project.root), "run", "tiny", "--profile", "smoke", "--out", str(out)]
    returncode, err, kernels = _interrupt_once_running(argv, n_kernels=1, sig=sig, family=True)
    assert returncode == 128 + sig
    assert one_line(err).startswith("dropout-study: interrupted")
    time.sleep(1)
    for k in kernels:
        assert not k.is_running() or k.status() == psutil.STATUS_ZOMBIE
    assert not out.exists() and outputs.leftovers(out) == []


def test_ctrl_c_on_a_build_ends_its_chapter_workers_and_their_kernels(project, tmp_path):
    # chapters run side by side in worker processes: an interrupt of the build must end
    # them too (they went on with the next chapter and wrote it after the message)
    import psutil

    for cid in ("tiny", "tiny-two"):
        _replace_in_source(project, cid, SLEEP, SLEEPING)
    env = {**os.environ, "DROPOUT_STUDY_CHAPTER_JOBS": "2"}
    argv = [str(project.root), "build", "--profile", "smoke"]
    returncode, err, family = _interrupt_once_running(argv, n_kernels=2, env=env, family=True)
    assert returncode == 130
    assert one_line(err).startswith("dropout-study: interrupted")
    time.sleep(1)
    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [" ".join(p.cmdline())[:80] for p in alive]
    for cid in ("tiny", "tiny-two"):
        assert not (project.dest(cid) / "metrics.json").exists()


def test_keyboard_interrupt_anywhere_is_one_line(project, capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "execute", interrupted)
    assert cli.main(["run", "tiny"], project) == 130
    assert one_line(capsys.readouterr().err).startswith("dropout-study: interrupted")
    monkeypatch.setattr(cli, "build", interrupted)
    assert cli.main(["build"], project) == 130


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError(13, "Permission denied", "/srv/results/tiny"),
        OSError(30, "Read-only file system", "/mnt/ro/tiny"),
        OSError(1, "Operation not permitted", "/x/.tiny.run-1", "/x/tiny"),  # immutable
    ],
)
def test_os_errors_are_one_line_naming_the_path(project, tmp_path, capsys, monkeypatch, exc):
    def fail(*a, **k):
        raise exc

    monkeypatch.setattr(outputs, "make_run_dir", fail)
    assert cli.main(["run", "tiny", "--out", str(tmp_path / "o")], project) == 1
    err = one_line(capsys.readouterr().err)
    assert exc.strerror in err and exc.filename in err


def test_a_real_os_error_is_one_line(project, capsys):
    # /proc accepts no new directories, even for root: refused before any kernel starts
    assert cli.main(["run", "tiny", "--out", "/proc/dropout-study-test"], project) == 2
    err = one_line(capsys.readouterr().err)
    assert "/proc" in err and "'--out'" in err


# ------------------------------------------------------------------------------------------
# 9 + 11. byte-stable runs, whatever the user's environment
# ------------------------------------------------------------------------------------------
def _hostile_env(monkeypatch, tmp_path):
    rc = tmp_path / "mplrc"
    rc.mkdir()
    (rc / "matplotlibrc").write_text("axes.facecolor: red\nlines.linewidth: 9\nfont.size: 30\n")
    ipy = tmp_path / "ipython" / "profile_default" / "startup"
    ipy.mkdir(parents=True)
    marker = tmp_path / "startup-ran"
    (ipy / "00-user.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "import matplotlib\nmatplotlib.rcParams['font.size'] = 40\n"
    )
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MATPLOTLIBRC", str(rc / "matplotlibrc"))
    monkeypatch.setenv("MPLCONFIGDIR", str(rc))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return marker


def test_identical_runs_are_byte_identical_whatever_the_environment(project, tmp_path, monkeypatch):
    spec = project.spec("tiny")
    params = resolve(spec, "smoke")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    execute(spec, params, a, profile="smoke")
    execute(spec, params, b, profile="smoke")
    marker = _hostile_env(monkeypatch, tmp_path)
    execute(spec, params, c, profile="smoke")
    assert not marker.exists()  # the user's IPython start-up file never ran
    for name in ("tiny.ipynb", "metrics.json", "figures/draws.png", "figures/draws.svg"):
        assert (a / name).read_bytes() == (b / name).read_bytes() == (c / name).read_bytes(), name
    m = json.loads((a / "metrics.json").read_text())
    assert "run" not in m  # no time stamp in metrics.json
    ctx = json.loads((a / "run.json").read_text())
    assert ctx["started_at"] <= ctx["finished_at"]
    nb = nbformat.read(a / "tiny.ipynb", as_version=4)
    # 13: no private paths and no copy of the source notebook
    assert nb.metadata.papermill == {
        "parameters": params,
        "input_path": "chapters/tiny.md",
        "output_path": "tiny.ipynb",
    }
    text = (a / "tiny.ipynb").read_text()
    assert str(tmp_path) not in text and ".run-" not in text
    assert all(set(cell.metadata) <= {"tags"} for cell in nb.cells)
    glued = executed.glued_outputs(nb)
    assert "image/svg+xml" in glued["fig-tiny-draws"]  # 11: a figure is an image, never text
    assert re.search(r"Ran with dropout-study [\d.]+ at commit", text)


def test_the_kernel_environment_drops_the_users_settings(tmp_path):
    env = kernel.kernel_env(
        {
            "MPLBACKEND": "Agg",
            "MATPLOTLIBRC": "/x",
            "PYTHONSTARTUP": "/y",
            "IPYTHONDIR": "/z",
            "PATH": "/bin",
        }
    )
    assert env["MPLBACKEND"] == kernel.INLINE_BACKEND and env["PATH"] == "/bin"
    assert "MATPLOTLIBRC" not in env and "PYTHONSTARTUP" not in env
    for key in ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR"):
        assert Path(env[key]).is_dir() and env[key] != os.environ.get(key)
    # configuration that appears there is removed before the next kernel
    (Path(env["MPLCONFIGDIR"]) / "matplotlibrc").write_text("lines.linewidth: 9\n")
    again = kernel.kernel_env({})
    assert again["MPLCONFIGDIR"] == env["MPLCONFIGDIR"]
    assert not (Path(env["MPLCONFIGDIR"]) / "matplotlibrc").exists()


def _nb_with_glue(name, mimes, text=""):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    prefix = "application/papermill.record/"
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={prefix + m: "" for m in mimes},
            metadata={"scrapbook": {"name": name, "mime_prefix": prefix}},
        )
    ]
    nb.cells = [cell, nbformat.v4.new_markdown_cell(text)]
    return nb


@pytest.mark.parametrize(
    ("name", "mimes", "text", "bad"),
    [
        ("fig-x-a", ["text/plain"], "", ["fig-x-a"]),  # the MPLBACKEND=Agg reproducer
        ("fig-x-a", ["image/png", "text/plain"], "", []),
        ("plot", ["text/plain"], "```{glue:figure} plot\n:name: p\n```", ["plot"]),
        ("plot", ["text/plain"], "See {glue:figure}`missing`.", ["missing"]),
    ],
)
def test_glued_figures_that_are_not_images_are_found(name, mimes, text, bad):
    assert executed.glued_figures_not_images(_nb_with_glue(name, mimes, text)) == bad


# ------------------------------------------------------------------------------------------
# 9. the cache key: normalised code of what a chapter runs, not the commit
# ------------------------------------------------------------------------------------------
def test_the_cache_key_ignores_comments_and_docstrings_but_not_code(project, tmp_path):
    pkg = package_copy(tmp_path)
    spec = project.spec("tiny")
    p = resolve(spec, "smoke")
    k = cache.cache_key(spec, p, "smoke", pkg)
    seeds = pkg / "seeds.py"
    text = seeds.read_text()
    seeds.write_text("# a new comment\n" + text.replace('"""', '"""Edited. ', 1) + "\n\n")
    assert cache.cache_key(spec, p, "smoke", pkg) == k
    logistic = pkg / "nn" / "logistic.py"
    logistic.write_text(logistic.read_text() + "\nX = 1\n")
    assert cache.cache_key(spec, p, "smoke", pkg) == k  # tiny does not import nn.logistic
    seeds.write_text(text.replace("def ", "def _unused():\n    return 1\n\n\ndef ", 1))
    assert cache.cache_key(spec, p, "smoke", pkg) != k


def test_the_module_closure_follows_imports(tmp_path):
    pkg = Path(codehash.__file__).parent
    closure = codehash.module_closure(["dropout_study.book.report"], pkg)
    assert {"dropout_study.book.report", "dropout_study.provenance", "dropout_study"} <= set(
        closure
    )
    assert "dropout_study.nn.logistic" not in closure
    assert codehash.normalise("x = 1  # c\n") == codehash.normalise('"""doc"""\nx = (1)\n')
    assert codehash.normalise("x = 1\n") != codehash.normalise("x = 2\n")


def test_a_reused_result_says_which_commit_its_code_is_identical_to(project, tmp_path, monkeypatch):
    pkg = package_copy(tmp_path)
    project = Project(root=project.root, chapters=("tiny",), package_dir=pkg)
    (project.root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/generated/tiny/tiny\n"
    )
    build(project, profile="smoke", html=False, log=lambda s: None)
    monkeypatch.setattr(cache, "git_commit", lambda *a: {"commit": "f" * 40, "dirty": False})
    lines = []
    results = build(project, profile="smoke", html=False, log=lines.append)
    assert not results[0].executed and "cached" in lines[0]
    dest = project.dest("tiny")
    nb = (dest / "tiny.ipynb").read_text()
    assert "code identical to commit ffffffffff" in nb
    ctx = json.loads((dest / "run.json").read_text())
    assert ctx["code_identical_to"]["commit"] == "f" * 40
    assert cache.is_fresh(dest, "tiny", ctx["key"])  # hashes were updated with the page
    monkeypatch.setattr(cache, "git_commit", lambda *a: ctx["provenance"]["git"])
    build(project, profile="smoke", html=False, log=lambda s: None)  # back where it ran
    assert "code identical to" not in (dest / "tiny.ipynb").read_text()
    assert "code_identical_to" not in json.loads((dest / "run.json").read_text())
    assert cache.is_fresh(dest, "tiny", ctx["key"])
    # 13: a cached result counts only when every file is there and intact
    import shutil

    shutil.rmtree(dest / "figures")
    assert not cache.is_fresh(dest, "tiny", ctx["key"])
    results = build(project, profile="smoke", html=False, log=lambda s: None)
    assert results[0].executed and (dest / "figures" / "draws.png").is_file()
    ctx = json.loads((dest / "run.json").read_text())
    (dest / "metrics.json").write_text((dest / "metrics.json").read_text() + " ")
    assert not cache.is_fresh(dest, "tiny", ctx["key"])
    (dest / "metrics.json").unlink()
    assert not cache.is_fresh(dest, "tiny", ctx["key"])


def test_stale_sweep_cache_entries_are_pruned(tmp_path, monkeypatch):
    from dropout_study import codehash, paths
    from dropout_study.sweep import cellcache

    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", str(tmp_path))
    module = "dropout_study.chapters.linearity.experiment"
    current = tmp_path / codehash.science_hash(module, paths.PACKAGE)[:16]
    (current / f"{module}.run_cell").mkdir(parents=True)
    (current / f"{module}.run_cell" / "x.pkl").write_bytes(b"cell")
    stale = tmp_path / ("0" * 16)
    (stale / "f").mkdir(parents=True)  # another code version this checkout used
    (stale / cellcache.USERS).mkdir()
    (stale / cellcache.USERS / cellcache.checkout_id()).write_text("here\n")
    (tmp_path / ("1" * 16) / "f").mkdir(parents=True)  # one it never recorded: not its own
    (tmp_path / "dropout_study.experiments.x.f").mkdir()  # the old flat layout: kept too
    (tmp_path / "notes").mkdir()  # not ours: kept
    gone = cache.prune_sweep_cache()
    assert gone == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [current.name, "1" * 16, "dropout_study.experiments.x.f", "notes"]
    )


# ------------------------------------------------------------------------------------------
# 10. the README's examples never break the test command
# ------------------------------------------------------------------------------------------
def test_lint_covers_the_project_code_only(tmp_path):
    make = (REPO / "Makefile").read_text()
    paths = re.search(r"^LINT_PATHS\s*:=\s*(.+)$", make, re.M).group(1).split()
    assert "src" in paths and "tests" in paths and "." not in paths
    assert "$(LINT_PATHS)" in make.split("lint:")[1].split("\n\n")[0]
    # a user's run output in runs/ or results/ (an executed notebook and a script) is not linted
    for d in ("runs/linearity", "results/tiny"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "bad.py").write_text("import os,sys\nx=1;y = 2\n")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os,sys\n")])
        nbformat.write(nb, tmp_path / d / "linearity.ipynb")
    for p in paths:
        (tmp_path / p).mkdir(exist_ok=True)
        (tmp_path / p / "ok.py").write_text("X = 1\n")
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    ruff = Path(sys.executable).parent / "ruff"
    for cmd in ([str(ruff), "check", *paths], [str(ruff), "format", "--check", *paths]):
        assert subprocess.run(cmd, cwd=tmp_path, capture_output=True).returncode == 0
    # and even `ruff check .` (editors, pre-commit) skips them
    assert (
        subprocess.run([str(ruff), "check", "."], cwd=tmp_path, capture_output=True).returncode == 0
    )
    ignored = subprocess.run(
        ["git", "check-ignore", "runs/linearity/x.ipynb", "results/tiny/x.ipynb"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert len(ignored.stdout.splitlines()) == 2


# ------------------------------------------------------------------------------------------
# 12. a dying kernel is a failed chapter, not a traceback
# ------------------------------------------------------------------------------------------
def test_a_killed_kernel_fails_its_chapter_and_build_carries_on(project, capsys):
    _replace_in_source(project, "tiny", SLEEP, DYING)
    assert cli.main(["build", "--profile", "smoke"], project) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Chapter 'tiny' failed: its kernel died" in err
    # the other chapter ran, and the dead one left nothing behind
    assert (project.dest("tiny-two") / "metrics.json").is_file()
    assert not project.dest("tiny").exists() and outputs.leftovers(project.dest("tiny")) == []
    assert kernel._LIVE == {}  # no kernel of this process is left running


def test_build_reports_every_failure_at_the_end(project):
    _replace_in_source(project, "tiny", SLEEP, DYING)
    _replace_in_source(project, "tiny-two", "explode: bool = False", "explode: bool = True")
    with pytest.raises(BuildFailed) as info:
        build(project, profile="smoke", html=False, log=lambda s: None)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert "'tiny' failed: its kernel died" in lines[0]
    assert "'tiny-two' failed in cell" in lines[1] and "exploded" in lines[1]


@pytest.mark.parametrize(
    ("attr", "value", "match"),
    [
        ("KERNEL", "no-such-kernel", r"NoSuchKernel: No such kernel named no-such-kernel"),
        ("START_TIMEOUT", 0.001, r"did not start or answer in time"),
    ],
)
def test_a_kernel_that_does_not_start_is_a_one_line_failure(
    project, tmp_path, monkeypatch, attr, value, match
):
    monkeypatch.setattr(pipeline, attr, value)
    spec = project.spec("tiny")
    with pytest.raises(ChapterFailed, match=rf"^Chapter 'tiny' failed: .*{match}") as info:
        execute(spec, resolve(spec, "smoke"), tmp_path / "d", profile="smoke")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "d").exists() and outputs.leftovers(tmp_path / "d") == []


def test_a_chapter_whose_glued_figure_is_text_fails(project, tmp_path):
    _replace_in_source(
        project,
        "tiny",
        'report.number("mean", result.metrics["mean"])',
        'report.number("mean", result.metrics["mean"])\nfrom myst_nb import glue\n'
        'glue("fig-tiny-text", "<Figure size 770x297 with 2 Axes>", display=False)',
    )
    spec = project.spec("tiny")
    with pytest.raises(ChapterFailed, match=r"glued figures that are not images: fig-tiny-text"):
        execute(spec, resolve(spec, "smoke"), tmp_path / "d", profile="smoke")
    assert not (tmp_path / "d").exists()


def test_chapter_text_helper_still_renames(project):
    assert 'report.start("tiny-two"' in chapter_text("tiny-two")


def test_a_killed_kernel_during_run_is_one_line(project, tmp_path, capsys):
    _replace_in_source(project, "tiny", SLEEP, DYING)
    out = tmp_path / "o"
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 1
    err = one_line(capsys.readouterr().err)
    assert "Chapter 'tiny' failed: its kernel died" in err
    assert not out.exists() and outputs.leftovers(out) == []


def test_the_divergence_reproducer_fails_instead_of_deciding(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["run", "cost-under-dropout", "--profile", "smoke", "-p", "lr=1000"]
    assert cli.main([*argv, "--out", str(out)]) == 1
    err = one_line(capsys.readouterr().err)
    assert "Chapter 'cost-under-dropout' failed" in err and "diverge" in err
    assert not out.exists()
