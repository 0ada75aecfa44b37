"""Screenshot rendered book pages with headless Chromium (Debian's ``chromium`` package).

    .venv/bin/python tools/screenshot.py _build/html/book/intro.html --out shots/ [--width 1280]

Writes one PNG per page into ``--out`` (named after the page). Used to look at the book as a
reader would; nothing in the build depends on it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from dropout_study.book.browser import ARGS, find_chromium

FLAGS = ["--headless", *ARGS, "--hide-scrollbars"]


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 1600) -> Path:
    exe = find_chromium()
    if exe is None:
        sys.exit("chromium not found: apt-get install -y --no-install-recommends chromium")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                exe,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("shots"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1600)
    args = ap.parse_args()
    for page in args.pages:
        name = page.with_suffix("").as_posix().replace("/", "_").strip("_.") + ".png"
        print(screenshot(page, args.out / name, args.width, args.height))


if __name__ == "__main__":
    main()
