// trilink picture — SIMULATION. Boot: authenticate as one nation (its token from the
// address `trilink serve` printed, #token=...), draw the map, follow the nation's picture
// over the WebSocket (/ws, token as the `bearer.<token>` subprotocol).
import { MapView, esc } from "./map.js";
import {
  LinksPanel,
  renderAlerts,
  renderNode,
  renderSummary,
  renderTimeline,
  renderTracks,
  tplus,
} from "./panels.js";

const state = { token: null, nation: null, picture: null, replay: null, frames: 0 };

function readToken() {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = hash.get("token");
  if (token) {
    sessionStorage.setItem("trilink-token", token);
    history.replaceState(null, "", location.pathname + location.search);
    return token;
  }
  return sessionStorage.getItem("trilink-token");
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: {
      Authorization: `Bearer ${state.token}`,
      ...(options.body ? { "Content-Type": "application/json" } : {}),
    },
  });
  const body = await res.json();
  if (!res.ok || body.ok === false) {
    const err = new Error(body.error || `${res.status}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

function showError(message) {
  document.getElementById("link-note").innerHTML = `<span class="error">${esc(message)}</span>`;
}

function askToken(message) {
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("login-form").onsubmit = (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("trilink-token", document.getElementById("login-token").value.trim());
    location.reload();
  };
}

function setConnected(up) {
  const el = document.getElementById("conn");
  el.textContent = up ? "live" : "reconnecting…";
  el.className = `conn ${up ? "conn-up" : "conn-down"}`;
  document.body.dataset.connected = up ? "1" : "0";
}

function renderReplay(replay) {
  state.replay = replay;
  const title = replay.event_id
    ? `${replay.event_id}: ${replay.missile} from ${replay.site} (${replay.date}) · ${replay.speed}× · ${replay.state}`
    : "no replay";
  document.getElementById("event-title").textContent = title;
  document.getElementById("replay-state").textContent = replay.error
    ? `failed: ${replay.error}`
    : `replay ${replay.run}: ${replay.state}`;
  document.body.dataset.replayState = replay.state;
  document.body.dataset.run = String(replay.run);
  if (replay.event_id) {
    const select = document.getElementById("event-select");
    if (!select.dataset.touched) select.value = replay.event_id;
    const speed = document.getElementById("speed-input");
    if (!speed.dataset.touched) speed.value = String(replay.speed);
  }
}

function renderPicture(map, links, pic) {
  state.picture = pic;
  state.frames += 1;
  document.body.dataset.tRel = String(pic.t_rel_s ?? "");
  document.body.dataset.frames = String(state.frames);
  document.getElementById("clock").textContent = tplus(pic.t_rel_s);
  map.setPicture(pic);
  renderAlerts(pic);
  links.render(pic.links);
  renderNode(pic);
  renderTracks(pic);
  renderSummary(pic);
  renderTimeline(pic, state.replay);
}

function connect(map, links) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`, ["trilink.v1", `bearer.${state.token}`]);
  ws.onopen = () => setConnected(true);
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "hello" || msg.type === "status") renderReplay(msg.replay);
    if (msg.type === "status" && msg.replay.state === "starting") map.setPicture(null);
    if (msg.type === "picture") renderPicture(map, links, msg);
  };
  ws.onclose = () => {
    setConnected(false);
    setTimeout(() => connect(map, links), 1000);
  };
}

function legend(nation) {
  const items = ["JPN", "KOR", "USA"]
    .map((n) => `<div><span class="sw bg-${n}"></span>${n} tracks${n === nation ? " (own)" : ""}</div>`)
    .join("");
  document.getElementById("legend").innerHTML =
    items +
    `<div>□ fused track · ◇ launch area · ⊕ impact, 95 % ellipse</div>` +
    `<div>▲ radar site · ■ ship · dashed blue: Japan's EEZ</div>`;
}

async function loadCoverage(map) {
  const show = document.getElementById("show-coverage").checked;
  map.showCoverage = show;
  if (show) {
    const alt = document.getElementById("coverage-alt").value;
    map.setCoverage(await api(`/api/geo/coverage?alt_km=${alt}`));
  } else {
    map.schedule(true);
  }
}

async function main() {
  state.token = readToken();
  if (!state.token) return askToken();
  let session;
  try {
    session = await api("/api/session");
  } catch (err) {
    sessionStorage.removeItem("trilink-token");
    return askToken(err.message);
  }
  state.nation = session.nation;
  document.getElementById("nation").textContent = session.nation;
  document.title = `trilink ${session.nation} view — SIMULATION`;
  document.body.dataset.nation = session.nation;
  legend(session.nation);

  const map = new MapView(document.getElementById("map"));
  const links = new LinksPanel(api, showError);
  const [topology, eez, network, agreements, events] = await Promise.all([
    fetch("/static/countries-50m.json").then((r) => r.json()),
    api("/api/geo/eez"),
    api("/api/network"),
    api("/api/agreements"),
    api("/api/events"),
  ]);
  map.setBasemap(topology, eez);
  map.setSensors(network);
  links.render(agreements.agreements);
  await loadCoverage(map);

  const select = document.getElementById("event-select");
  select.innerHTML = events.events
    .map((e) => `<option value="${esc(e.id)}">${esc(e.id)} — ${esc(e.missile_name)}, ${esc(e.site_name)}</option>`)
    .join("");
  select.addEventListener("change", () => (select.dataset.touched = "1"));
  const speedInput = document.getElementById("speed-input");
  speedInput.addEventListener("input", () => (speedInput.dataset.touched = "1"));
  if (state.replay) renderReplay(state.replay);
  document.getElementById("replay-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const speed = Number(document.getElementById("speed-input").value);
    try {
      const replay = await api("/api/replay", {
        method: "POST",
        body: JSON.stringify({ event_id: select.value, speed }),
      });
      renderReplay(replay);
    } catch (err) {
      document.getElementById("replay-state").textContent = err.message;
    }
  });
  document.getElementById("zoom-region").onclick = () => map.zoomRegion();
  document.getElementById("zoom-impact").onclick = () => {
    const pic = state.picture;
    const imp = pic && pic.impact;
    if (imp) map.zoomTo(imp.lat_deg, imp.lon_deg, Math.max(imp.semi_major_m, 1000));
    else if (pic && pic.launch) map.zoomTo(pic.launch.lat_deg, pic.launch.lon_deg, 50000);
  };
  document.getElementById("show-coverage").onchange = () => loadCoverage(map);
  document.getElementById("coverage-alt").onchange = () => loadCoverage(map);
  document.getElementById("show-partners").onchange = (ev) => {
    map.showPartners = ev.target.checked;
    map.schedule(false);
  };
  connect(map, links);
  document.body.dataset.ready = "1";
}

main();
