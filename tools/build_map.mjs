// Projects Natural Earth's country shapes (npm package world-atlas, public domain) for the
// statement page's map of Europe; prints SVG paths keyed by ISO 3166-1 numeric code (or the name,
// where a country has none), and a point for each microstate too small for the 1:110m shapes.
// Run by tools/build_map.py, which writes petition/statements/europe_map.json.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { feature } from "topojson-client";
import { geoAzimuthalEqualArea, geoPath } from "d3-geo";

const require = createRequire(import.meta.url);
const load = (name) => {
  const topology = JSON.parse(readFileSync(require.resolve(`world-atlas/${name}`), "utf8"));
  return feature(topology, topology.objects.countries).features;
};

const WIDTH = 800;
const HEIGHT = 680;
// Lambert azimuthal equal-area centred on Europe, as the EU's own maps (EPSG:3035).
const projection = geoAzimuthalEqualArea()
  .rotate([-12, -52])
  .scale(1000)
  .translate([WIDTH / 2 - 40, HEIGHT / 2 + 20])
  .clipExtent([[0, 0], [WIDTH, HEIGHT]]);
const path = geoPath(projection).digits(1);

const shapes = {};
for (const country of load("countries-110m.json")) {
  const d = path(country);
  if (d) shapes[country.id ?? country.properties.name] = { name: country.properties.name, d };
}
// Malta, Liechtenstein, Andorra, San Marino, Monaco, Vatican: a point each, from the 1:50m shapes.
const MICROSTATES = new Set(["470", "438", "020", "674", "492", "336"]);
const markers = {};
for (const country of load("countries-50m.json")) {
  if (!MICROSTATES.has(country.id)) continue;
  const [x, y] = path.centroid(country);
  if (Number.isFinite(x)) markers[country.id] = { name: country.properties.name, x: Math.round(x), y: Math.round(y) };
}
process.stdout.write(JSON.stringify({ width: WIDTH, height: HEIGHT, shapes, markers }));
