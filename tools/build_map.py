"""Build petition/statements/europe_map.json, the statement page's map of Europe, from Natural
Earth's public-domain shapes (npm package world-atlas). Run once when the map should change:

    npm install --no-save world-atlas@2.0.2 topojson-client@3.1.0 d3-geo@3.1.2
    python tools/build_map.py

The result is committed; the site never downloads anything to draw the map."""

from __future__ import annotations

import json
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


def main() -> int:
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
            countries[code] = shape["d"]
        else:
            background.append(shape["d"])  # e.g. Northern Cyprus: drawn, never coloured
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
