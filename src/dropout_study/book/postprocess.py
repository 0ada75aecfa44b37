"""Post-processing of an executed chapter notebook: byte-stable, no private paths, real figures.

- :func:`clean` makes two executions with the same inputs byte-identical and keeps private
  paths out of the published notebook: cell ids become ``cell-000``, ``cell-001``, …;
  papermill's and nbclient's per-cell timing metadata (``papermill``, ``execution``) are
  removed; the notebook's ``papermill`` record keeps only the parameters and relative paths
  (papermill stores the absolute paths of the run directory and a full copy of the source
  notebook there).
- :func:`parameter_table` is the table of the parameters used (those set for the run and
  those derived from them marked) with the command that runs it again, shown in place of the
  removed parameters cells;
- :func:`glued_figures_not_images` lists the glued figures (``fig-*`` keys and every
  ``{glue:figure}`` the text uses) whose glued output has no image: the pipeline fails such a
  chapter instead of publishing ``<Figure size ... with 2 Axes>``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping

from dropout_study.book.generated_pages import cell as table_cell
from dropout_study.book.generated_pages import fmt_value
from dropout_study.book.params import resolve

__all__ = ["clean", "stable_ids", "glued_outputs", "glued_figures_not_images", "parameter_table"]

_GLUE_FIGURE = re.compile(
    r"(?:```+\{glue:figure\}|:::+\{glue:figure\}|\{glue:figure\}`)\s*([^\s`]+)"
)


def clean(nb, *, parameters: Mapping, input_path: str, output_path: str) -> None:
    """Strip timing, absolute paths and the source copy from ``nb`` (an ``nbformat`` node,
    changed in place) and give its cells stable ids."""
    stable_ids(nb)
    for cell in nb.cells:
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
    nb.metadata["papermill"] = {
        "parameters": dict(parameters),
        "input_path": input_path,
        "output_path": output_path,
    }


def stable_ids(nb) -> None:
    """Number the cells of ``nb`` ``cell-000``, ``cell-001``, … in place: nbformat gives every
    new cell a random id, which would make two identical runs' notebooks differ. Call it after
    adding cells to any notebook that is written out."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"


def glued_outputs(nb) -> dict[str, set[str]]:
    """``{glue key: mime types}`` of the notebook's myst-nb glue outputs."""
    out: dict[str, set[str]] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            prefix = meta.get("mime_prefix", "")
            out[meta["name"]] = {k[len(prefix) :] for k in output.get("data", {})}
    return out


def glued_figures_not_images(nb) -> list[str]:
    """Names of glued figures whose output carries no ``image/*`` type (or is missing)."""
    glued = glued_outputs(nb)
    wanted = {k for k in glued if k.startswith("fig-")}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            wanted.update(_GLUE_FIGURE.findall(cell.source))
    return sorted(
        name for name in wanted if not any(m.startswith("image/") for m in glued.get(name, ()))
    )


def parameter_table(spec, params: Mapping, profile: str, derived: Mapping | None = None) -> str:
    """The markdown shown after the (removed) parameters cells of an executed chapter: every
    parameter with its value (those set for this run, i.e. not the profile's, marked; those
    ``derived`` from them marked as such) and the command that reproduces the run (the
    derived ones follow again without being typed)."""
    try:
        base = resolve(spec, profile, check=False)
    except (ValueError, TypeError):
        base = {}
    derived = derived or {}
    changed = [p.name for p in spec.params if p.name in base and base[p.name] != params[p.name]]
    marks = {n: " (set for this run)" for n in changed if n not in derived}
    marks |= {n: f" (derived from {', '.join(d['follows'])})" for n, d in derived.items()}
    rows = "\n".join(
        f"| `{p.name}` | {fmt_value(params[p.name])}{marks.get(p.name, '')} "
        f"| {table_cell(p.help)} |"
        for p in spec.params
    )
    command = f"dropout-study run {spec.id} --profile {profile}" + "".join(
        f" -p {shlex.quote(f'{n}={json.dumps(params[n])}')}" for n in changed if n not in derived
    )
    # a colon fence: a backtick fence's info string may not contain backticks
    return (
        f":::{{admonition}} Parameters of this run (profile `{profile}`)\n"
        ":class: dropdown\n\n"
        "| Parameter | Value | Meaning |\n|---|---|---|\n"
        f"{rows}\n\n"
        f"This run again: `{command}`; other values: `-p NAME=VALUE`.\n"
        ":::\n"
    )
