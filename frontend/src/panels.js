// The side panels: alerts in J-Alert stages, agreements and links (suspend / resume for
// the nation's operator), tracks held, the MoD-style announcement; and the timeline.
import { esc } from "./map.js";

export const STAGES = [
  ["launch", "launch"],
  ["evacuate", "take shelter"],
  ["update", "update"],
  ["passed_over", "passed over"],
  ["fell_in_eez", "fell in EEZ"],
  ["fell_outside_eez", "fell outside EEZ"],
  ["fell_on_land", "fell on land"],
  ["all_clear", "all clear"],
  ["correction", "correction"],
  ["cancel", "cancel"],
];
const STAGE_LABEL = Object.fromEntries(STAGES);

export function tplus(s) {
  if (s == null) return "T+ —";
  const sign = s < 0 ? "−" : "+";
  const a = Math.abs(Math.round(s));
  const m = Math.floor(a / 60);
  const sec = String(a % 60).padStart(2, "0");
  return `T${sign}${m}:${sec}`;
}

function alertItem(a) {
  const where = a.prefectures.length ? `: ${a.prefectures.join(", ")}` : "";
  const fix = a.correction_of ? ` (revises ${a.correction_of})` : "";
  return (
    `<li class="alert stage-${esc(a.stage)}" data-stage="${esc(a.stage)}" data-alert-id="${esc(a.alert_id)}" data-originator="${esc(a.originator)}">` +
    `<div class="head">${tplus(a.t_rel_s)} · <span class="fg-${esc(a.originator)}">${esc(a.originator)}</span> · ${esc(STAGE_LABEL[a.stage] || a.stage)}${esc(where)}${esc(fix)}</div>` +
    `<div class="text">${esc(a.text)}</div></li>`
  );
}

export function renderAlerts(pic) {
  const reached = new Set(pic.alerts.map((a) => a.stage));
  document.getElementById("stages").innerHTML = STAGES.slice(0, 8)
    .map(
      ([key, label]) =>
        `<li class="stage-${key}${reached.has(key) ? " reached" : ""}" data-stage="${key}">${esc(label)}</li>`,
    )
    .join("");
  const own = pic.alerts.slice().reverse();
  document.getElementById("alerts").innerHTML = own.length
    ? own.map(alertItem).join("")
    : `<li class="empty">no alert issued by ${esc(pic.nation)}</li>`;
  const received = pic.received_alerts.slice().reverse();
  document.getElementById("received-alerts").innerHTML = received.length
    ? received.map(alertItem).join("")
    : `<li class="empty">none received</li>`;
}

export class LinksPanel {
  constructor(api, onError) {
    this.api = api;
    this.onError = onError;
    this.pending = new Map(); // agreement id -> the state asked for
    this.rows = [];
    document.querySelector("#links tbody").addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-action]");
      if (button) this.change(button.dataset.agreement, button.dataset.action, button);
    });
  }

  async change(id, action, button) {
    button.disabled = true;
    try {
      const res = await this.api(`/api/agreements/${encodeURIComponent(id)}/${action}`, {
        method: "POST",
      });
      this.pending.set(id, res.state);
      document.getElementById("link-note").textContent =
        `${id} ${res.state} (v${res.version}): ${res.note}`;
    } catch (err) {
      this.onError(err.message);
    } finally {
      button.disabled = false;
      this.render(this.rows);
    }
  }

  render(rows) {
    this.rows = rows;
    const body = document.querySelector("#links tbody");
    body.innerHTML = rows
      .map((r) => {
        const want = this.pending.get(r.agreement_id);
        if (want === r.state) this.pending.delete(r.agreement_id);
        const pending = this.pending.has(r.agreement_id)
          ? ` <span class="pending">→ ${esc(this.pending.get(r.agreement_id))}…</span>`
          : "";
        const last = r.last_kind ? `${esc(r.last_kind)} ${tplus(r.last_valid_rel_s)}` : "—";
        const lag = r.lag_s == null ? "—" : `${r.lag_s.toFixed(0)} s`;
        const quiet = r.quiet_s == null ? "" : ` <small title="since the last message">(${r.quiet_s.toFixed(0)} s ago)</small>`;
        let action = "";
        if (r.may_change) {
          const next = r.state === "active" ? "suspend" : "resume";
          action = `<button type="button" data-action="${next}" data-agreement="${esc(r.agreement_id)}">${next}</button>`;
        } else {
          action = `<small title="only ${esc(r.originator)}'s operator may change it">${esc(r.originator)}'s</small>`;
        }
        return (
          `<tr data-agreement="${esc(r.agreement_id)}" data-state="${esc(r.state)}" data-direction="${esc(r.direction)}">` +
          `<td title="${esc(r.kinds.join(", "))}">${esc(r.originator)}→${esc(r.recipient)}</td>` +
          `<td><span class="state state-${esc(r.state)}">${esc(r.state)}</span>${pending}</td>` +
          `<td>${last}${quiet}</td><td>${lag}</td>` +
          `<td><small>${esc(r.path.join("→"))}</small></td><td>${action}</td></tr>`
        );
      })
      .join("");
  }
}

export function renderNode(pic) {
  const n = pic.node;
  document.getElementById("node-stats").textContent =
    `${pic.nation} node: released ${n.released}, received ${n.received}, held ${n.held}, ` +
    `rejected ${n.rejected}, receipts ${n.receipts}. A nation's operator may suspend or ` +
    `resume only agreements from its own nation.`;
}

export function renderTracks(pic) {
  const rows = pic.tracks
    .slice()
    .sort((a, b) => (a.age_s ?? 1e9) - (b.age_s ?? 1e9) || a.track_id.localeCompare(b.track_id));
  document.querySelector("#tracks tbody").innerHTML = rows.length
    ? rows
        .map((t) => {
          const stale = t.age_s != null && t.age_s > 30 ? "stale" : "";
          return (
            `<tr class="${stale}" data-track-id="${esc(t.track_id)}" data-originator="${esc(t.originator)}">` +
            `<td class="fg-${esc(t.originator)}">${esc(t.track_id)}</td><td>${esc(t.originator)}</td>` +
            `<td>${t.alt_m == null ? "—" : (t.alt_m / 1000).toFixed(0)}</td>` +
            `<td>${t.speed_m_s == null ? "—" : (t.speed_m_s / 1000).toFixed(2)}</td>` +
            `<td>${t.age_s == null ? "—" : t.age_s.toFixed(0)}</td></tr>`
          );
        })
        .join("")
    : `<tr><td colspan="5" class="note">no track held yet</td></tr>`;
}

export function renderSummary(pic) {
  const s = pic.summary;
  const el = document.getElementById("summary");
  if (!s) {
    el.innerHTML = `<dt>—</dt><dd>nothing to announce yet</dd>`;
    return;
  }
  const rows = [
    ["launch (UTC)", s.launch_time_utc.replace("T", " ")],
    ["site", s.launch_site],
    ["apogee", `${Math.round(s.apogee_km).toLocaleString("en")} km`],
    ["range", `${Math.round(s.range_km).toLocaleString("en")} km`],
    ["flight time", `${(s.flight_time_s / 60).toFixed(1)} min`],
    ["impact", `${s.impact_lat.toFixed(2)}N ${s.impact_lon.toFixed(2)}E`],
    ["Japan's EEZ", s.impact_in_japan_eez ? "inside" : "outside"],
    ["overflight", s.overflight_japan ? `yes: ${s.overflight_regions.join(", ")}` : "no"],
  ];
  el.innerHTML = rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
}

export function renderTimeline(pic, replay) {
  const total = (pic && pic.flight_time_s) || (replay && replay.flight_time_s) || 1;
  const now = (pic && pic.t_rel_s) || 0;
  const span = total + 330; // the run goes on for the verdict and the all-clear
  document.getElementById("progress-bar").style.width = `${Math.min(100, (100 * now) / span)}%`;
  const holder = document.getElementById("progress-marks");
  holder.replaceChildren(
    ...(pic ? pic.alerts : []).map((a) => {
      const mark = document.createElement("span"); // styled through the CSSOM: no inline CSS
      mark.className = `stage-${a.stage}`;
      mark.style.left = `${Math.min(100, (100 * a.t_rel_s) / span)}%`;
      mark.title = `${tplus(a.t_rel_s)} ${a.stage}`;
      return mark;
    }),
  );
}
