// The 2-D map of one nation's picture: coastlines (Natural Earth via world-atlas), Japan's
// EEZ, sensor sites and coverage, tracks with history and 95 % covariance ellipses, the
// launch area and the impact ellipse. SVG, re-projected on every zoom (d3-zoom), so
// markers keep their size and ellipses stay true to scale.
import { geoArea, geoConicConformal, geoGraticule10, geoPath } from "d3-geo";
import { select } from "d3-selection";
import { zoom, zoomIdentity } from "d3-zoom";
import { feature, mesh } from "topojson-client";

export const NATION_COLOURS = { JPN: "#ff6b6b", KOR: "#4dabf7", USA: "#8ce99a" };
const EARTH_M = 6371008.8;
const REGION = {
  type: "MultiPoint",
  coordinates: [[117, 24], [163, 24], [117, 50], [163, 50], [140, 53], [140, 22]],
};
const STALE_S = 30;

export function colour(nation) {
  return NATION_COLOURS[nation] || "#ced4da";
}

export function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// Points of an ellipse (semi-axes in metres, major axis clockwise from north) as lon/lat.
export function ellipseRing(lat, lon, a, b, orientationDeg, n = 72) {
  const phi = (orientationDeg * Math.PI) / 180;
  const cosLat = Math.max(Math.cos((lat * Math.PI) / 180), 1e-6);
  const ring = [];
  for (let i = 0; i <= n; i++) {
    const t = (2 * Math.PI * i) / n;
    const u = a * Math.cos(t);
    const v = b * Math.sin(t);
    const east = u * Math.sin(phi) + v * Math.cos(phi);
    const north = u * Math.cos(phi) - v * Math.sin(phi);
    ring.push([
      lon + ((east / (EARTH_M * cosLat)) * 180) / Math.PI,
      lat + ((north / EARTH_M) * 180) / Math.PI,
    ]);
  }
  return ring;
}

// d3-geo takes a polygon's exterior ring clockwise and its holes anticlockwise (the
// reverse of RFC 7946): rewind GeoJSON from elsewhere so that no ring is taken as its
// complement (a ring enclosing more than a hemisphere is turned round).
function rewindRings(rings) {
  return rings.map((ring, i) => {
    const big = geoArea({ type: "Polygon", coordinates: [ring] }) > 2 * Math.PI;
    return big === (i === 0) ? ring.slice().reverse() : ring;
  });
}

export function rewind(geojson) {
  const geometry = (g) => {
    if (!g) return g;
    if (g.type === "Polygon") return { ...g, coordinates: rewindRings(g.coordinates) };
    if (g.type === "MultiPolygon") return { ...g, coordinates: g.coordinates.map(rewindRings) };
    return g;
  };
  if (geojson.type === "FeatureCollection") {
    return { ...geojson, features: geojson.features.map((f) => ({ ...f, geometry: geometry(f.geometry) })) };
  }
  return geometry(geojson);
}

export class MapView {
  constructor(svg) {
    this.svg = svg;
    this.layers = {};
    this.picture = null;
    this.showCoverage = true;
    this.showPartners = true;
    this.coverage = null;
    this.sensors = [];
    this.land = null;
    this.borders = null;
    this.eez = null;
    this.size();
    for (const name of ["base", "coverage", "sensors", "impact", "launch", "tracks"]) {
      const g = document.createElementNS("http://www.w3.org/2000/svg", "g");
      g.setAttribute("id", `layer-${name}`);
      svg.appendChild(g);
      this.layers[name] = g;
    }
    this.zoomer = zoom()
      .scaleExtent([0.5, 5000])
      .on("zoom", (event) => {
        this.transform = event.transform;
        this.project();
        this.schedule(true);
      });
    this.transform = zoomIdentity;
    select(svg).call(this.zoomer);
    new ResizeObserver(() => {
      this.size();
      this.project();
      this.schedule(true);
    }).observe(svg);
    this.pending = null;
  }

  size() {
    const box = this.svg.getBoundingClientRect();
    this.width = Math.max(box.width, 200);
    this.height = Math.max(box.height, 200);
    this.base = geoConicConformal()
      .parallels([30, 45])
      .rotate([-138, 0])
      .fitExtent([[10, 40], [this.width - 10, this.height - 30]], REGION);
    this.s0 = this.base.scale();
    this.t0 = this.base.translate();
  }

  project() {
    const t = this.transform || zoomIdentity;
    this.projection = geoConicConformal()
      .parallels([30, 45])
      .rotate([-138, 0])
      .scale(this.s0 * t.k)
      .translate([this.t0[0] * t.k + t.x, this.t0[1] * t.k + t.y])
      .clipExtent([[-20, -20], [this.width + 20, this.height + 20]]);
    this.path = geoPath(this.projection);
  }

  setBasemap(topology, eez) {
    this.land = feature(topology, topology.objects.land);
    this.borders = mesh(topology, topology.objects.countries, (a, b) => a !== b);
    this.eez = rewind(eez);
    this.project();
    this.schedule(true);
  }

  setSensors(network) {
    this.sensors = network.radars;
    this.schedule(true);
  }

  setCoverage(geojson) {
    this.coverage = rewind(geojson);
    this.schedule(true);
  }

  setPicture(picture) {
    this.picture = picture;
    this.schedule(false);
  }

  schedule(all) {
    this.dirtyBase = this.dirtyBase || all;
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      if (!this.projection) this.project();
      if (this.dirtyBase) {
        this.drawBase();
        this.drawCoverage();
        this.drawSensors();
        this.dirtyBase = false;
      }
      this.drawPicture();
    });
  }

  xy(lon, lat) {
    return this.projection([lon, lat]);
  }

  drawBase() {
    const parts = [`<rect class="sea" x="0" y="0" width="${this.width}" height="${this.height}"/>`];
    parts.push(`<path class="graticule" d="${this.path(geoGraticule10()) || ""}"/>`);
    if (this.land) parts.push(`<path class="land" d="${this.path(this.land) || ""}"/>`);
    if (this.borders) parts.push(`<path class="border" d="${this.path(this.borders) || ""}"/>`);
    if (this.eez) {
      for (const f of this.eez.features) {
        const own = f.properties && f.properties.Pol_type === "200NM";
        const cls = own ? "eez" : "eez-other";
        const name = esc((f.properties && f.properties.GeoName) || "EEZ");
        parts.push(`<path class="${cls}" d="${this.path(f) || ""}"><title>${name}</title></path>`);
      }
    }
    this.layers.base.innerHTML = parts.join("");
  }

  drawCoverage() {
    if (!this.showCoverage || !this.coverage) {
      this.layers.coverage.innerHTML = "";
      return;
    }
    this.layers.coverage.innerHTML = this.coverage.features
      .map((f) => {
        const c = colour(f.properties.nation);
        const title = `${f.properties.nation} radar coverage, target at ${f.properties.alt_km} km`;
        return `<path class="coverage" data-nation="${esc(f.properties.nation)}" fill="${c}" stroke="${c}" d="${this.path(f) || ""}"><title>${esc(title)}</title></path>`;
      })
      .join("");
  }

  drawSensors() {
    const out = [];
    for (const r of this.sensors) {
      const p = this.xy(r.lon_deg, r.lat_deg);
      if (!p) continue;
      const [x, y] = p;
      const c = colour(r.nation);
      const shape =
        r.platform === "ship"
          ? `<rect class="sensor" x="${x - 4}" y="${y - 4}" width="8" height="8" fill="${c}"/>`
          : `<path class="sensor" d="M${x},${y - 6}L${x + 5},${y + 4}L${x - 5},${y + 4}Z" fill="${c}"/>`;
      const note = r.notional ? " (notional)" : "";
      out.push(
        `<g data-sensor="${esc(r.id)}"><title>${esc(r.name + note)}</title>${shape}` +
          `<text class="sensor-label" x="${x + 7}" y="${y + 3}">${esc(r.id)}</text></g>`,
      );
    }
    this.layers.sensors.innerHTML = out.join("");
  }

  ellipsePath(lat, lon, e) {
    if (!e || lat == null || lon == null) return "";
    const ring = ellipseRing(lat, lon, e.semi_major_m, e.semi_minor_m, e.orientation_deg);
    return this.path({ type: "Polygon", coordinates: [ring] }) || "";
  }

  lineThrough(points) {
    const xy = points
      .filter((p) => p[0] != null && p[1] != null)
      .map((p) => this.xy(p[0], p[1]))
      .filter(Boolean);
    if (xy.length < 2) return "";
    return "M" + xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L");
  }

  drawPicture() {
    const pic = this.picture;
    if (!pic) {
      this.layers.impact.innerHTML = "";
      this.layers.launch.innerHTML = "";
      this.layers.tracks.innerHTML = "";
      return;
    }
    this.drawImpact(pic);
    this.drawLaunch(pic);
    this.drawTracks(pic);
  }

  drawImpact(pic) {
    const out = [];
    for (const imp of pic.received_impacts) {
      const d = this.ellipsePath(imp.lat_deg, imp.lon_deg, imp);
      out.push(
        `<path class="impact-ellipse partner" data-originator="${esc(imp.originator)}" stroke="${colour(imp.originator)}" d="${d}"/>`,
      );
    }
    if (pic.impact_history.length > 1) {
      out.push(`<path class="impact-history" d="${this.lineThrough(pic.impact_history)}"/>`);
    }
    const imp = pic.impact;
    if (imp && imp.lat_deg != null) {
      const d = this.ellipsePath(imp.lat_deg, imp.lon_deg, imp);
      out.push(
        `<path class="impact-ellipse own" data-originator="${esc(imp.originator)}" data-lat="${imp.lat_deg}" data-lon="${imp.lon_deg}" d="${d}"><title>predicted impact, 95 % ellipse</title></path>`,
      );
      const p = this.xy(imp.lon_deg, imp.lat_deg);
      if (p) {
        const [x, y] = p;
        const km = (imp.semi_major_m / 1000).toFixed(1);
        out.push(
          `<path class="impact-marker" d="M${x - 9},${y}L${x + 9},${y}M${x},${y - 9}L${x},${y + 9}"/>` +
            `<circle class="impact-marker" cx="${x}" cy="${y}" r="6"/>` +
            `<text class="impact-label" x="${x + 10}" y="${y - 8}">impact ±${km} km (EEZ ${esc(imp.eez_verdict)})</text>`,
        );
      }
    }
    this.layers.impact.innerHTML = out.join("");
  }

  drawLaunch(pic) {
    const l = pic.launch;
    if (!l || l.lat_deg == null) {
      this.layers.launch.innerHTML = "";
      return;
    }
    const r = l.radius_95_m || 0;
    const area = this.ellipsePath(l.lat_deg, l.lon_deg, {
      semi_major_m: r,
      semi_minor_m: r,
      orientation_deg: 0,
    });
    const p = this.xy(l.lon_deg, l.lat_deg);
    let mark = "";
    if (p) {
      const [x, y] = p;
      mark =
        `<path class="launch-marker" d="M${x},${y - 7}L${x + 7},${y}L${x},${y + 7}L${x - 7},${y}Z"/>` +
        `<text class="launch-label" x="${x + 9}" y="${y + 4}">launch (${esc(l.originator)} est.)</text>`;
    }
    this.layers.launch.innerHTML =
      `<g class="launch" data-originator="${esc(l.originator)}"><path class="launch-area" d="${area}"/>${mark}</g>`;
  }

  drawTracks(pic) {
    const out = [];
    const own = pic.nation;
    for (const st of pic.system_tracks) {
      out.push(`<path class="trail fused" d="${this.lineThrough(st.trail)}"/>`);
    }
    const shown = pic.tracks.filter((t) => this.showPartners || t.originator === own);
    for (const t of shown) {
      const stale = t.age_s != null && t.age_s > STALE_S ? " stale" : "";
      const c = colour(t.originator);
      out.push(`<path class="trail${stale}" stroke="${c}" d="${this.lineThrough(t.trail)}"/>`);
      if (!stale) {
        out.push(
          `<path class="track-ellipse" fill="${c}" stroke="${c}" d="${this.ellipsePath(t.lat_deg, t.lon_deg, t.ellipse)}"/>`,
        );
      }
    }
    for (const st of pic.system_tracks) {
      const p = st.lon_deg == null ? null : this.xy(st.lon_deg, st.lat_deg);
      if (!p) continue;
      out.push(
        `<rect class="fused-marker" data-system-id="${esc(st.track_id)}" x="${p[0] - 8}" y="${p[1] - 8}" width="16" height="16"><title>${esc(st.track_id)} (fused)</title></rect>`,
      );
    }
    for (const t of shown) {
      const p = t.lon_deg == null ? null : this.xy(t.lon_deg, t.lat_deg);
      if (!p) continue;
      const stale = t.age_s != null && t.age_s > STALE_S ? " stale" : "";
      const alt = t.alt_m == null ? "?" : (t.alt_m / 1000).toFixed(0);
      out.push(
        `<circle class="track${stale}" data-track-id="${esc(t.track_id)}" data-originator="${esc(t.originator)}" ` +
          `data-lat="${t.lat_deg}" data-lon="${t.lon_deg}" data-t-rel="${t.t_rel_s}" data-age="${t.age_s}" ` +
          `cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="5" fill="${colour(t.originator)}">` +
          `<title>${esc(t.track_id)} from ${esc(t.originator)}: ${alt} km, age ${Math.round(t.age_s)} s</title></circle>`,
      );
      if (!stale) {
        out.push(
          `<text class="track-label" x="${p[0] + 7}" y="${p[1] - 6}">${esc(t.track_id)} ${alt} km</text>`,
        );
      }
    }
    this.layers.tracks.innerHTML = out.join("");
  }

  zoomRegion() {
    select(this.svg).call(this.zoomer.transform, zoomIdentity);
  }

  // Zoom so that the impact ellipse (or the launch area) fills about a quarter of the map.
  zoomTo(lat, lon, radiusM) {
    const p = this.base([lon, lat]);
    if (!p) return;
    const q = this.base([lon + ((radiusM / (EARTH_M * Math.cos((lat * Math.PI) / 180))) * 180) / Math.PI, lat]);
    const px = Math.max(Math.abs(q[0] - p[0]), 1e-6);
    const k = Math.min(Math.max((Math.min(this.width, this.height) / 4 / px), 1), 5000);
    const t = zoomIdentity
      .translate(this.width / 2 - p[0] * k, this.height / 2 - p[1] * k)
      .scale(k);
    select(this.svg).call(this.zoomer.transform, t);
  }
}
