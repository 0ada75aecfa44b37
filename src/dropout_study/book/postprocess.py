"""Post-processing of an executed chapter notebook: byte-stable, no private paths, real figures.

- :func:`clean` makes two executions with the same inputs byte-identical and keeps private
  paths out of the published notebook: cell ids become ``cell-000``, ``cell-001``, …;
  papermill's and nbclient's per-cell timing metadata (``papermill``, ``execution``) are
  removed; the notebook's ``papermill`` record keeps only the parameters and relative paths
  (papermill stores the absolute paths of the run directory and a full copy of the source
  notebook there).
- :func:`glued_figures_not_images` lists the glued figures (``fig-*`` keys and every
  ``{glue:figure}`` the text uses) whose glued output has no image: the pipeline fails such a
  chapter instead of publishing ``<Figure size ... with 2 Axes>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["clean", "stable_ids", "glued_outputs", "glued_figures_not_images"]

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
