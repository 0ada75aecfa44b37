"""The ``dropout-study`` command.

::

    dropout-study list [-v]
    dropout-study params CHAPTER
    dropout-study run CHAPTER [--profile P] [-p NAME=VALUE ...] [-f params.yml] [--out DIR]
                          [--scheduler ADDRESS]
    dropout-study build [--profile P] [--force] [--scheduler ADDRESS]
    dropout-study cite [fig-<chapter>-<name>]
    dropout-study readme

Every input is checked before a kernel starts; an invalid one ends the command with exit
status 2 and a one-line message naming the parameter, its value and what is allowed (no
traceback), and leaves the output directory untouched. A chapter that fails while running
ends it with status 1 and the chapter's error; so does an ``OSError`` (one line naming the
path). Ctrl-C ends the kernel and its workers, prints one line and exits 130. ``--out`` may
only replace an absent or empty folder or a previous output of the same chapter, never one
inside ``book/generated``; the run's estimated time and memory are printed first (a run above
2 hours needs ``--yes``). ``DROPOUT_STUDY_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

from dropout_study import __version__
from dropout_study.book import (
    catalog,
    citing,
    estimates,
    kernel,
    params,
    render,
)
from dropout_study.book import (
    parallel as sidebyside,
)
from dropout_study.book import (
    preflight as guard,
)
from dropout_study.book import (
    source as chapters,
)
from dropout_study.book.generated_pages import update_readme
from dropout_study.book.pipeline import build, execute
from dropout_study.book.project import BuildFailed, ChapterFailed, Project
from dropout_study.chapters.verdicts import label
from dropout_study.sweep import cluster, progress, timing
from dropout_study.validation import described, fail, short_repr

__all__ = ["main"]

PROG = "dropout-study"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise _UsageError(f"{message} (see '{self.prog} --help')")


class _UsageError(Exception):
    pass


def _parser(argv: list[str] | None = None, project: Project | None = None):
    p = _Parser(
        prog=PROG,
        description="Run the chapters of the dropout study and build its book.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ls = sub.add_parser("list", help="one line per chapter: claim and last verdict")
    ls.add_argument("-v", "--verbose", action="store_true", help="claims, verdicts, parameters")
    pa = sub.add_parser("params", help="a chapter's parameters: type, values, range, meaning")
    pa.add_argument("chapter", help="chapter id (see 'dropout-study list')")
    ci = sub.add_parser(
        "cite",
        help="BibTeX and CSL-JSON for the study, or one figure",
        description="Cite the study, or one figure by its label (the label ends each caption "
        "in the book and is listed on its 'Reproduce and cite' page; an unknown label lists "
        "the chapter's figures).",
    )
    ci.add_argument("figure", nargs="?", help="a figure label fig-<chapter>-<name>")
    ci.add_argument(
        "--run",
        metavar="DIR",
        help="cite the figure from your own run's output (dropout-study run … --out DIR) "
        "instead of the last book build",
    )

    r = sub.add_parser(
        "run",
        help="run one chapter with your parameters",
        description="Run one chapter: writes the executed notebook, metrics.json and figures/ "
        "into --out and prints the verdict.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=catalog.run_help_epilog(argv, project),  # CHAPTER's parameters
    )
    r.add_argument("chapter", help="chapter id (see 'dropout-study list')")
    r.add_argument("--profile", default="book", help="smoke, book (default) or full")
    r.add_argument(
        "-p",
        dest="assignments",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter; VALUE is YAML, e.g. -p dropout_rates=[0,0.25,0.5] (repeatable)",
    )
    r.add_argument("-f", dest="file", metavar="PARAMS.yml", help="YAML file of parameters")
    r.add_argument("--out", metavar="DIR", help="output directory (default results/<chapter>)")
    r.add_argument("--yes", action="store_true", help="run even if estimated above 2 hours")
    _scheduler_option(r)

    b = sub.add_parser(
        "build",
        help="execute the chapters that changed and build the HTML book",
        description="Execute the chapters of _toc.yml whose source, parameters, package or "
        "dependencies changed, write the generated tables and run jupyter-book.",
    )
    b.add_argument("--profile", default="book", help="smoke, book (default) or full")
    b.add_argument("--force", action="store_true", help="execute every chapter")
    _scheduler_option(b)

    sub.add_parser("readme", help="rewrite README.md's verdict table from the book results")
    return p


def _scheduler_option(parser) -> None:
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the sweeps' cells on this Dask scheduler (tcp://HOST:PORT; default "
        f"${cluster.ENV}); needs the 'cluster' extra",
    )


def _use_scheduler(args) -> None:
    """Check the Dask scheduler (``--scheduler`` or the environment) before any kernel starts
    and hand it to the kernels through the environment they inherit."""
    addr = args.scheduler if args.scheduler is not None else cluster.address()
    if addr is not None:
        cluster.use_scheduler(addr, f"{PROG} {args.command}")


def _run(args, project: Project) -> None:
    cid = chapters.check_chapter_id(args.chapter, f"{PROG} run", project.chapters)
    profile = params.check_profile(args.profile, f"{PROG} run")
    spec = project.spec(cid)
    overrides = params.load_file(args.file) if args.file else {}
    for name in overrides:  # a name the chapter does not have: the user's typo, said as such
        params.check_name(name, spec, "-f", args.file)
    given: set[str] = set()
    for text in args.assignments:
        name, value = params.parse_assignment(text)
        params.check_name(name, spec, "-p", text)
        if name in given:  # the last would win silently (a file's duplicate is refused too)
            fail("-p", f"{PROG} run", "each parameter at most once", described(f"{name} twice"))
        given.add(name)
        overrides[name] = value
    resolved = params.resolve(spec, profile, overrides)
    out = args.out if args.out is not None else Path("results") / cid
    out = guard.run_destination(out, cid, project)
    guard.check_environment(f"{PROG} run")
    _use_scheduler(args)  # before the estimate: a run through a scheduler has no measured time
    est = estimates.for_run(spec, resolved, project.root)
    estimates.check(est, yes=args.yes)
    print(f"{est.text()}\n  {est.based_on()}", flush=True)
    follow = params.derived(spec, profile, overrides, resolved)
    if follow:  # values the user did not type but changed with what they typed
        shown = ", ".join(
            f"{n} = {short_repr(d['value'])}"
            + (f" (from {', '.join(d['follows'])})" if d["follows"] else "")
            for n, d in follow.items()
        )
        print(f"derived from the parameters you set: {shown}", flush=True)
    print(f"running {cid} (profile {profile}) ...", flush=True)
    _warn_cache()
    t0 = time.perf_counter()
    with progress.watch():
        record = execute(spec, resolved, out, profile=profile, option="--out", derived=follow)
    _STATE["written"] = out  # from here an interrupt leaves the results in place
    dt = time.perf_counter() - t0
    print(f"executed in {dt:.1f} s; notebook, metrics.json and figures/ in {out}")
    print(f"time: {timing.summary(out)}")
    page = render.rerun_page(out, spec.id, project)  # the rerun as a readable HTML page
    if page is not None:
        print(f"page: {page}")
    print(f"verdict: {label(record['verdict']['word'])} — {record['verdict']['sentence']}")


_STATE: dict = {}
"""What the running command has done so far (for the line Ctrl-C prints)."""


def _warn_cache() -> None:
    """One line, before the work, if the sweep cache cannot keep cells (the run goes on)."""
    line = guard.cache_warning()
    if line:
        print(f"{PROG}: {line}", file=sys.stderr, flush=True)


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``timeout``, a batch system's time limit, a closed terminal): ended
    like Ctrl-C — kernel and workers stopped, nothing half-written — with status 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame) -> None:
    raise _Terminated(signum)


@contextlib.contextmanager
def _termination_as_interrupt():
    """While the command runs (in the main thread), SIGTERM and SIGHUP raise
    :class:`_Terminated` where Ctrl-C raises ``KeyboardInterrupt``; the handlers before are
    restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, _raise_terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None, project: Project | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 a chapter or the book failed, 2 invalid
    input, 130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP). ``project`` defaults to
    this checkout (tests pass another)."""
    with _termination_as_interrupt():
        return _main(argv, project)


def _main(argv: list[str] | None, project: Project | None) -> int:
    project = project or Project()
    if not os.environ.get("DROPOUT_STUDY_DEBUG"):
        # papermill's and nbclient's own log lines (e.g. "Kernel died while waiting for
        # execute reply.") would come on top of the one-line failure this command prints
        for name in ("papermill", "nbclient", "traitlets"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    _STATE.clear()
    try:
        args = _parser(sys.argv[1:] if argv is None else argv, project).parse_args(argv)
        _STATE["command"] = args.command
        if args.command == "list":
            print(
                catalog.list_verbose(project)
                if args.verbose
                else "\n".join(catalog.list_lines(project))
            )
        elif args.command == "params":
            cid = chapters.check_chapter_id(args.chapter, f"{PROG} params", project.chapters)
            print(catalog.params_text(project.spec(cid)))
        elif args.command == "cite":
            print(citing.cite_text(project, args.figure, run_dir=args.run))
        elif args.command == "run":
            _run(args, project)
        elif args.command == "build":
            guard.check_environment(f"{PROG} build")
            guard.build_destinations(project, f"{PROG} build")
            _use_scheduler(args)
            _warn_cache()
            with progress.watch():
                results = build(project, profile=args.profile, force=args.force)  # checks profile
            print(progress.summary(results))
        elif args.command == "readme":
            print(f"updated {update_readme(project)}")
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:  # invalid input, caught before any work
        if os.environ.get("DROPOUT_STUDY_DEBUG"):
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (ChapterFailed, BuildFailed) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: one line, kernel and workers ended
        # nbclient's cell task then fails with DeadKernelError; asyncio would log "Task
        # exception was never retrieved" with its traceback when that task is collected
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        sidebyside.stop_all()  # a build's chapter workers and their kernels
        kernel.end_kernels()
        line = guard.interrupted(_STATE.get("command", ""), _STATE.get("written"))
        print(f"{PROG}: {line}", file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, _Terminated) else 130
    except OSError as exc:  # read-only or immutable destination, a path through a file
        if os.environ.get("DROPOUT_STUDY_DEBUG"):
            raise
        print(f"{PROG}: error: {guard.oserror_line(exc)}", file=sys.stderr)
        return 1
    return 0


def entry(argv: list[str] | None = None, project: Project | None = None) -> NoReturn:
    """The ``dropout-study`` command: :func:`main`, then exit with its status. After Ctrl-C
    (status 130) the process ends at once (``os._exit`` after flushing its output): the
    kernel and its workers are already stopped and nothing was written, and what the
    interrupted execution leaves behind in this process (an event loop's pending tasks, a
    messaging socket to the killed kernel) must not hold the exit up."""
    code = main(argv, project)
    if code in (130, 129, 143):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
