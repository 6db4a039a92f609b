"""Build petition/statements/europe_map.json, the statement page's map of Europe, from Natural
Earth's public-domain shapes (npm package world-atlas). Run once when the map should change:

    npm install --no-save world-atlas@2.0.2 topojson-client@3.1.0 d3-geo@3.1.2
    python tools/build_map.py

(`python tools/build_map.py --compact` rewrites the committed file's paths in the compact form
alone, without node.)

The result is committed; the site never downloads anything to draw the map."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pycountry

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "petition" / "statements" / "europe_map.json"
#: Shapes Natural Earth names without an ISO numeric code.
BY_NAME = {"Kosovo": "XK"}


def alpha2(key: str) -> str | None:
    if key in BY_NAME:
        return BY_NAME[key]
    country = pycountry.countries.get(numeric=key) if key.isdigit() else None
    return country.alpha_2 if country else None


_POINT = re.compile(r"([MLZ])(?:(-?[\d.]+),(-?[\d.]+))?")


def compact_path(d: str) -> str:
    """d3's absolute "M479.3,547.3L479.6,551.9…Z" as relative steps ("M479.3 547.3l.3 4.6…z"):
    the same points to the tenth (the precision build_map.mjs asks d3 for), in about two thirds
    of the bytes. Each subpath starts with an absolute M; the numbers are counted in tenths, so
    the steps add up exactly."""
    out: list[str] = []
    x = y = 0
    drawing_lines = False  # after an "l", more steps need no letter of their own
    for command, ax, ay in _POINT.findall(d):
        if command == "Z":
            out.append("z")
            drawing_lines = False
            continue
        px, py = round(float(ax) * 10), round(float(ay) * 10)
        if command == "M":
            out.append(f"M{_tenths(px)}{_separated(_tenths(py))}")
            drawing_lines = False
        else:
            step = f"{_tenths(px - x)}{_separated(_tenths(py - y))}"
            out.append(_separated(step) if drawing_lines else f"l{step}")
            drawing_lines = True
        x, y = px, py
    return "".join(out)


def _tenths(n: int) -> str:
    """A count of tenths as the shortest decimal: 46 → "4.6", 3 → ".3", -5 → "-.5", 50 → "5"."""
    sign, n = ("-", -n) if n < 0 else ("", n)
    whole, tenth = divmod(n, 10)
    if not tenth:
        return f"{sign}{whole}"
    return f"{sign}{whole if whole else ''}.{tenth}"


def _separated(number: str) -> str:
    """A number after another: a minus sign separates them already, else a space."""
    return number if number.startswith("-") else " " + number


def compact_committed() -> int:
    """The committed map's paths in compact_path's form; the same points, fewer bytes."""
    drawing = json.loads(OUT.read_text())
    drawing["countries"] = {code: compact_path(d) for code, d in drawing["countries"].items()}
    drawing["background"] = [compact_path(d) for d in drawing["background"]]
    OUT.write_text(json.dumps(drawing, separators=(",", ":")) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size:,} bytes")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--compact"]:
        return compact_committed()
    raw = json.loads(
        subprocess.run(
            ["node", str(ROOT / "tools" / "build_map.mjs")],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    countries, background = {}, []
    for key, shape in raw["shapes"].items():
        code = alpha2(key)
        if code:
            countries[code] = compact_path(shape["d"])
        else:
            background.append(compact_path(shape["d"]))  # e.g. Northern Cyprus: never coloured
    markers = {alpha2(k): [m["x"], m["y"]] for k, m in raw["markers"].items() if alpha2(k)}
    OUT.write_text(
        json.dumps(
            {
                "source": "Natural Earth 1:110m (1:50m for microstates) via world-atlas 2.0.2, public domain",
                "width": raw["width"],
                "height": raw["height"],
                "countries": dict(sorted(countries.items())),
                "markers": dict(sorted(markers.items())),
                "background": background,
            },
            separators=(",", ":"),
        )
        + "\n"
    )
    print(
        f"{OUT.relative_to(ROOT)}: {len(countries)} countries, {len(markers)} points, {OUT.stat().st_size:,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
