"""From parameters to executed chapters and a built book.

:func:`execute` runs one chapter: it reads the MyST source with jupytext and executes it with
papermill (kernel ``python3`` of this environment) in a fresh temporary *run directory* created
next to the destination, so the final rename stays on one file system. Only when the notebook
ran to the end and wrote ``metrics.json`` does the run directory replace the destination; a
failed run is deleted and the last good executed chapter, its figures and metrics stay as they
were. The executed notebook is post-processed: the ``parameters`` and injected-parameters cells
are tagged ``remove-cell`` and a small table of the parameters used follows them.

:func:`build` executes the chapters listed in ``_toc.yml`` that changed — the cache key is the
SHA-256 of the chapter source, the resolved parameters, the profile, the package's source
files, the dependency versions and the lock's hash, stored in ``run.json`` beside the executed
chapter — writes the generated tables (``book/generated/verdicts.md`` for the intro,
``parameters.md`` for the reproduce page; :func:`write_generated`) and runs
``jupyter-book build . -W -n --keep-going`` (:mod:`dropout_study.book.htmlbook`: the whole
build under the project's lock, the HTML written into a staging folder and swapped in whole).
:func:`update_readme` writes the README's verdict block from the same results.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from dropout_study.book import (
    buildstamp,
    confirm,
    estimates,
    kernel,
    outputs,
)
from dropout_study.book import (
    parallel as sidebyside,
)
from dropout_study.book import (
    postprocess as executed,
)
from dropout_study.book import (
    source as chapters,
)
from dropout_study.book.cache import (
    cache_key,
    chapter_science_hash,
    file_hashes,
    mark_reused,
    provenance_cell,
    prune_sweep_cache,
)
from dropout_study.book.generated_pages import write_generated
from dropout_study.book.htmlbook import STAGING, BuildBusy, build_lock, jupyter_book_build
from dropout_study.book.params import check_profile, resolve
from dropout_study.book.project import (
    BuildFailed,
    ChapterFailed,
    Project,
    RunResult,
    rel,
    toc_chapters,
)
from dropout_study.book.records import read_metrics
from dropout_study.book.report import RUN_FILE
from dropout_study.chapters.verdicts import WORDS, label
from dropout_study.provenance import provenance, timestamp
from dropout_study.sweep import progress, timing

__all__ = [
    "execute",
    "write_context",
    "build",
    "build_lock",
    "BuildBusy",
    "STAGING",
    "jupyter_book_build",
]

KERNEL = "python3"
START_TIMEOUT = 60.0
"""Seconds a kernel may take to start before the chapter fails."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ------------------------------------------------------------------------------------------
# one chapter
# ------------------------------------------------------------------------------------------


def execute(
    spec: chapters.ChapterSpec,
    params: Mapping,
    dest: Path,
    *,
    profile: str = "book",
    key: str | None = None,
    confirm_root: Path | None = None,
    option: str = "dest",
    derived: Mapping | None = None,
    at_once: int = 1,
) -> dict:
    """Execute a chapter with already-resolved ``params`` (see :func:`params.resolve`) and
    put ``<id>.ipynb``, ``metrics.json``, ``figures/`` and ``run.json`` into ``dest``.

    Returns the chapter's metrics record. ``dest`` must be absent, empty or a previous output
    of the same chapter (``ValueError`` otherwise, see :mod:`dropout_study.book.outputs`); it is
    locked for the whole run and replaced atomically on success. Raises
    :class:`ChapterFailed` (one line) and leaves ``dest`` untouched if the run fails in any
    way — an exception in a cell, a kernel that dies or does not start. A run with exactly
    the ``full`` profile's parameters is recorded as the chapter's fresh-seed confirmation
    (:func:`dropout_study.book.confirm.record`, under ``confirm_root``, default the project that
    holds the chapter's source). ``option``: how the user named ``dest`` (``--out``), for
    messages. ``derived``: the parameters that followed what the user set
    (:func:`dropout_study.book.params.derived`), recorded as such beside the parameters;
    ``at_once``: chapters executing side by side, noted with the time the run took
    (:func:`dropout_study.book.estimates.measure`, kept for later estimates).
    """
    dest = Path(dest).absolute()
    cells = estimates.cache_cells(spec)  # before the kernel: did the run compute its sweeps?
    with outputs.locked(dest, option=option):
        outputs.recover(dest)
        dest = outputs.check_destination(dest, spec.id, option="dest", owner="pipeline.execute")
        run_dir = outputs.make_run_dir(dest)
        try:
            record = _execute_in(run_dir, spec, params, profile, key, derived or {})
            took = estimates.measure(spec, params, profile, run_dir, cells, at_once)
            outputs.swap_in(run_dir, dest)
        except BaseException:
            kernel.end_kernels()
            raise
        finally:
            if run_dir.exists():
                shutil.rmtree(run_dir, ignore_errors=True)
    root = confirm_root or Path(spec.source).resolve().parents[2]  # book/chapters/x.md
    estimates.remember(took, root)
    if profile == "full" and dict(params) == resolve(spec, "full", check=False):
        confirm.record(record, params, root=root, code=chapter_science_hash(spec), timing=took)
    return record


def _execute_in(
    run_dir: Path, spec: chapters.ChapterSpec, params: Mapping, profile: str, key, derived: Mapping
) -> dict:
    import jupytext
    import papermill as pm

    out = run_dir / f"{spec.id}.ipynb"
    started = timestamp()
    clock = time.time()  # for timing.finish_run
    write_context(run_dir, spec, params, profile=profile, key=key, derived=derived)
    nb = jupytext.read(spec.source)
    try:
        # the kernel's one-line notes (e.g. a damaged sweep-cache entry recomputed) reach
        # this command's standard error, never the executed notebook
        with progress.relay_notes():
            pm.execute_notebook(
                nb,
                str(out),
                parameters=dict(params),
                kernel_name=KERNEL,
                language="python",
                cwd=str(run_dir),
                progress_bar=False,
                log_output=False,
                start_timeout=START_TIMEOUT,
                kernel_manager_class=kernel.manager_class(),
            )
    except pm.PapermillExecutionError as exc:
        evalue = _ANSI.sub("", str(exc.evalue)).strip().splitlines()
        first = evalue[0] if evalue else ""
        raise ChapterFailed(
            f"Chapter '{spec.id}' failed in cell {exc.exec_count}: {exc.ename}: {first}"
        ) from None
    except Exception as exc:  # the kernel died, did not start, or papermill failed
        raise ChapterFailed(f"Chapter '{spec.id}' failed: {_kernel_failure(exc)}") from None
    metrics_file = run_dir / "metrics.json"
    if not metrics_file.is_file():
        raise ChapterFailed(
            f"Chapter '{spec.id}' ran but wrote no metrics.json "
            "(does its last cell call report.finish?)."
        )
    first_cell = timing.first_cell_start(out)  # before _postprocess strips the cell metadata
    _postprocess(out, spec, params, profile, derived)
    record = json.loads(metrics_file.read_text(encoding="utf-8"))
    if record.get("verdict", {}).get("word") not in WORDS:
        raise ChapterFailed(f"Chapter '{spec.id}' wrote a metrics.json without a verdict.")
    timing.finish_run(run_dir, out, clock, first_cell)  # where the time went, into run.json
    finish_context(run_dir, started=started)
    return record


def _kernel_failure(exc: Exception) -> str:
    """One line saying how the kernel failed."""
    name = type(exc).__name__
    text = _ANSI.sub("", str(exc)).strip().splitlines()
    first = text[0] if text else ""
    if name == "DeadKernelError":
        return f"its kernel died ({first or 'killed'})."
    low = first.lower()
    if isinstance(exc, TimeoutError) or any(w in low for w in ("timeout", "timed out", "respond")):
        return f"its kernel did not start or answer in time ({name}: {first})."
    return f"{name}: {first}"


def write_context(
    run_dir: Path,
    spec: chapters.ChapterSpec,
    params: Mapping,
    *,
    profile: str,
    key: str | None,
    derived: Mapping | None = None,
) -> Path:
    """Write ``run.json`` into ``run_dir``: what :func:`report.start` reads in the kernel
    (chapter, claim, experiment module, profile, declared parameters, those of them derived
    from what the user set, the ``full`` profile's parameters) and the cache key."""
    context = {
        "chapter": spec.id,
        "claim": spec.claim,
        "experiment": spec.experiment,
        "profile": profile,
        "source": Path(spec.source).name,
        "params": [
            {"name": p.name, "type": p.type, "default": p.default, "help": p.help}
            for p in spec.params
        ],
        "parameters": dict(params),
        "derived": dict(derived or {}),  # {name: {"value", "follows"}}: not typed by the user
        "key": key,
        "code": chapter_science_hash(spec),  # the page compares it with the confirmation's
        # the parameters a confirmation record's hash must be (confirm.check)
        "full_parameters": resolve(spec, "full", check=False),
    }
    path = Path(run_dir) / RUN_FILE
    path.write_text(json.dumps(context, indent=2) + "\n", encoding="utf-8")
    return path


def finish_context(run_dir: Path, *, started: str) -> None:
    """Add the run's times, the code it ran and the SHA-256 of every output file to
    ``run.json`` (what :func:`cache.is_fresh` checks)."""
    path = Path(run_dir) / RUN_FILE
    context = json.loads(path.read_text(encoding="utf-8"))
    context["started_at"] = started
    context["finished_at"] = timestamp()
    context["provenance"] = provenance()
    context["files"] = file_hashes(run_dir)
    path.write_text(json.dumps(context, indent=2) + "\n", encoding="utf-8")


def _postprocess(path: Path, spec, params: Mapping, profile: str, derived: Mapping) -> None:
    """Hide the parameters cells and show the parameters used as a table after them."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    last = None
    for i, nb_cell in enumerate(nb.cells):
        tags = nb_cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            if "remove-cell" not in tags:
                nb_cell.metadata["tags"] = [*tags, "remove-cell"]
            last = i
    if last is not None:
        nb.cells.insert(
            last + 1,
            nbformat.v4.new_markdown_cell(executed.parameter_table(spec, params, profile, derived)),
        )
        nb.cells.insert(last + 2, provenance_cell(nbformat))
        executed.stable_ids(nb)
    bad = executed.glued_figures_not_images(nb)
    if bad:
        raise ChapterFailed(
            f"Chapter '{spec.id}' glued figures that are not images: {', '.join(bad)} "
            "(glue figures with report.figure)."
        )
    executed.clean(
        nb,
        parameters=params,
        input_path=f"chapters/{Path(spec.source).name}",
        output_path=path.name,
    )
    nbformat.write(nb, path)


# ------------------------------------------------------------------------------------------
# the book
# ------------------------------------------------------------------------------------------


def build(
    project: Project | None = None,
    *,
    profile: str = "book",
    force: bool = False,
    html: bool = True,
    log: Callable[[str], None] = print,
) -> list[RunResult]:
    """Execute the chapters in ``_toc.yml`` that changed, write the generated tables and
    (with ``html``) run jupyter-book. Returns one :class:`RunResult` per chapter.

    One build of a project runs at a time (:func:`build_lock`; a second one stops at once
    with :class:`BuildBusy`). When nothing changed since the last successful build (same
    inputs, outputs untouched; see :mod:`dropout_study.book.buildstamp`) and not ``force``,
    it returns that build's results at once, without reading a chapter spec or importing an
    experiment.

    Every chapter's parameters are validated before any is executed. A failing chapter does
    not stop the others from running, but the build then raises :class:`BuildFailed` with
    each failure's message and the HTML is not built.
    """
    project = project or Project()
    profile = check_profile(profile, "dropout-study build")
    with build_lock(project):
        return _build(project, profile=profile, force=force, html=html, log=log)


def _build(
    project: Project, *, profile: str, force: bool, html: bool, log: Callable[[str], None]
) -> list[RunResult]:
    # nothing changed since the last successful build: answer from its stamp (buildstamp)
    done, stamp = buildstamp.Stamp.begin(project, profile=profile, html=html, force=force, log=log)
    if done is not None:
        return done
    ids = toc_chapters(project)
    plan = []
    for cid in ids:
        spec = project.spec(cid)
        params = resolve(spec, profile)
        plan.append((spec, params, cache_key(spec, params, profile, project.package_dir)))
        found = confirm.read_for(spec, project.root)
        if found.problem:  # the page says so instead of quoting it
            log(f"warning: {rel(found.path, project.root)} is damaged ({found.problem})")
    results, failures = [], []
    width = max((len(c) for c in ids), default=0)
    at_once = sidebyside.default_workers()  # noted with each chapter's time
    ahead = sidebyside.start(
        plan,
        project,
        execute,
        force=force,
        profile=profile,
        confirm_root=project.root,
        at_once=at_once,
    )
    for i, (spec, _params, _key) in enumerate(plan, 1):
        dest = project.dest(spec.id)
        t0 = time.perf_counter()
        fresh = spec.id not in ahead  # decided once, before any chapter ran (is_fresh)
        try:
            if fresh:
                record = read_metrics(dest)  # is_fresh checked it; read the same bytes
                mark_reused(dest, spec.id)
            else:
                record = ahead.result(spec.id)  # execute(...), started side by side
        except ChapterFailed as exc:
            failures.append(str(exc))
            log(
                f"[{i}/{len(plan)}] {spec.id:<{width}}  FAILED    {time.perf_counter() - t0:6.1f} s"
            )
            continue
        dt = time.perf_counter() - t0
        if not fresh:  # chapters run side by side: report the chapter's own time, not the wait
            dt = (timing.read(dest) or {}).get("total", dt)
        state = "cached" if fresh else "executed"
        log(
            f"[{i}/{len(plan)}] {spec.id:<{width}}  {state:<8}  {dt:6.1f} s  "
            f"{label(record['verdict']['word'])}" + ("" if fresh else f"  ({timing.summary(dest)})")
        )
        results.append(RunResult(spec.id, dest, not fresh, dt, record))
    if failures:
        raise BuildFailed("\n".join(failures))
    prune_sweep_cache(project=project)  # every chapter ran with this code: other versions go
    write_generated(project, ids)
    if html:
        jupyter_book_build(project, log=log)
    stamp.finish(results)  # only now: a failed build leaves no stamp
    return results
