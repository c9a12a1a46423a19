// IL2Select tumour-board page: builds the patient form from the service's OpenAPI schema
// (one definition of the contract), calls POST /recommend and POST /survival, draws the answer.
"use strict";

const TOKEN_KEY = "il2select-token";
const $ = (id) => document.getElementById(id);
let schema = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, body) {
  const init = { headers: { Authorization: `Bearer ${token()}` } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token-status").textContent = "token refused";
    $("submit").disabled = true;
    throw new Error("unauthorized");
  }
  const data = await response.json();
  if (!response.ok) { const e = new Error(data.error || response.statusText); e.problem = data; throw e; }
  return data;
}

async function loadForm() {
  if (!token()) return;
  try {
    const spec = await api("/docs.json");
    schema = spec.paths["/recommend"].post.requestBody.content["application/json"].schema;
  } catch (e) { if (e.message !== "unauthorized") $("token-status").textContent = e.message; return; }
  $("token-status").textContent = "token accepted";
  buildFields(schema);
  $("submit").disabled = false;
}

function buildFields(s) {
  const box = $("fields");
  box.innerHTML = "";
  const required = new Set(s.required || []);
  for (const [name, p] of Object.entries(s.properties)) {
    const div = document.createElement("div");
    div.className = "field";
    div.dataset.field = name;
    const optional = !required.has(name);
    const unit = (p.description.match(/\(([^()]*)\)(;|$)/) || [])[1];
    const label = document.createElement("label");
    label.htmlFor = `f-${name}`;
    label.innerHTML = `${name.replaceAll("_", " ")}` + (unit ? ` <span class="unit">(${unit})</span>` : "")
      + (optional && name !== "patient_id" ? ' <span class="unknown-ok">may be unknown</span>' : "");
    label.title = p.description;
    let input;
    if (p.type === "boolean" || p.enum) {
      input = document.createElement("select");
      const options = p.enum ? p.enum : ["true", "false"];
      const blank = optional ? [["", "unknown"]] : [["", "— choose —"]];
      for (const [v, t] of [...blank, ...options.map((o) => [String(o), p.type === "boolean" ? (o === "true" ? "yes" : "no") : o])]) {
        const opt = document.createElement("option"); opt.value = v; opt.textContent = t; input.append(opt);
      }
    } else {
      input = document.createElement("input");
      input.type = p.type === "string" ? "text" : "number";
      if (p.minimum !== undefined) input.min = p.minimum;
      if (p.maximum !== undefined) input.max = p.maximum;
      input.step = p.multipleOf || (p.type === "integer" ? 1 : "any");
      input.placeholder = optional ? "unknown" : "";
    }
    input.id = `f-${name}`; input.name = name; input.dataset.kind = p.type;
    const err = document.createElement("div"); err.className = "err";
    div.append(label, input, err);
    box.append(div);
  }
}

function fillExample() {
  if (!schema) return;
  for (const [name, p] of Object.entries(schema.properties)) {
    const input = $(`f-${name}`);
    const ex = (p.examples || [])[0];
    input.value = ex === undefined || ex === null ? (p.type === "boolean" && (schema.required || []).includes(name) ? "false" : "") : String(ex);
  }
}

function readPatient() {
  const patient = {};
  for (const [name, p] of Object.entries(schema.properties)) {
    const raw = $(`f-${name}`).value.trim();
    if (raw === "") { patient[name] = null; continue; }
    if (p.type === "boolean") patient[name] = raw === "true";
    else if (p.type === "integer" || p.type === "number") patient[name] = Number(raw);
    else patient[name] = raw;
  }
  return patient;
}

function showErrors(problem) {
  $("form-errors").textContent = problem ? problem.error || "" : "";
  for (const div of document.querySelectorAll(".field")) { div.classList.remove("invalid"); div.querySelector(".err").textContent = ""; }
  for (const d of (problem && problem.detail) || []) {
    const div = document.querySelector(`.field[data-field="${d.field}"]`);
    if (div) { div.classList.add("invalid"); div.querySelector(".err").textContent = `${JSON.stringify(d.value)}: ${d.rule}`; }
  }
}

const pct = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)} %`);
const est = (e) => (!e ? "—" : e.lo === null || e.hi === null ? pct(e.value)
  : `${pct(e.value)} <span class="small">(${pct(e.lo)}–${pct(e.hi)})</span>`);
const med = (m) => (!m ? "—" : m.reached ? `${m.value.toFixed(1)} mo` + (m.lo !== null ? ` <span class="small">(${m.lo.toFixed(1)}–${m.hi.toFixed(1)})</span>` : "") : "not reached");
const tags = (names, cls) => names.map((n) => `<span class="tag ${cls}">${n.replaceAll("_", " ")}</span>`).join(" ");

function render(answer, curves) {
  $("result").hidden = false;
  document.body.classList.add("answered");
  $("result-patient").textContent = answer.patient_id ? `— ${answer.patient_id}` : "";
  const rec = $("recommendation");
  rec.className = `recommendation ${answer.recommendation}`;
  rec.textContent = {
    il2_first: "HD IL-2 first",
    tki_first: "A TKI first",
    temsirolimus_or_trial: "Temsirolimus, a clinical trial, or symptomatic care",
    il2_after_wait: "HD IL-2 first, once the temporary contraindications have passed (no TKI meanwhile)",
    complete_workup_first: "Complete the work-up first (no treatment decided yet)",
  }[answer.recommendation];
  $("reasons").innerHTML = answer.reasons.map((r) => `<li>${r}</li>`).join("");
  $("standing").innerHTML = (answer.provisional
    ? `<p class="tag unknown" data-flag="provisional">provisional: settle ${answer.workup.join("; ")} first</p>` : "")
    + (answer.deviates_from_pathway
      ? `<p class="tag caution" data-flag="deviates">departs from the Manchester pathway: ${answer.deviation_reason}</p>` : "");
  const rows = [["P(objective response)", "p_response", est], ["P(complete response)", "p_complete_response", est],
    ["P(cure)", "p_cure", est], ["P(severe cardiac toxicity)", "p_severe_cardiac_toxicity", est],
    ...["12", "24", "36", "60"].map((m) => [`OS at ${m} months`, (o) => o.os_at_months[m], est]),
    ...["12", "24", "36", "60"].map((m) => [`PFS at ${m} months`, (o) => o.pfs_at_months[m], est]),
    ["median OS", "median_os_months", med], ["median PFS", "median_pfs_months", med]];
  const pick = (o, k) => (typeof k === "function" ? k(o) : o[k]);
  $("probabilities").tBodies[0].innerHTML = rows.map(([label, k, f]) =>
    `<tr><th>${label}</th><td class="num">${f(pick(answer.il2, k))}</td><td class="num">${f(pick(answer.tki, k))}</td></tr>`).join("");
  $("differences").tBodies[0].innerHTML = Object.entries(answer.difference_il2_minus_tki).map(([k, e]) =>
    `<tr><th>${k.replaceAll("_", " ")}</th><td class="num">${est(e)}</td></tr>`).join("");
  const el = answer.eligibility;
  $("eligibility").innerHTML =
    `<p>${el.il2_eligible === null ? '<span class="tag unknown">eligibility unknown</span>' : el.il2_eligible ? '<span class="tag ok">eligible</span>' : '<span class="tag contra">not eligible</span>'}</p>`
    + `<p>Contraindications: ${tags(el.contraindications, "contra") || "none"}</p>`
    + (el.contraindications_unknown.length ? `<p>Not yet known: ${tags(el.contraindications_unknown, "unknown")}</p>` : "")
    + `<p>Cautions: ${tags(el.cautions, "caution") || "none"}</p>`
    + (answer.warnings.length ? `<p>Warnings: ${answer.warnings.join("; ")}</p>` : "");
  const pw = answer.pathway, dv = answer.derived;
  const risk = (group, factors) => `${group || "unknown"} (${factors === null ? "factors not all known" : `${factors} factor${factors === 1 ? "" : "s"}`})`;
  $("pathway").innerHTML = [["MSKCC risk", risk(dv.mskcc_risk, dv.mskcc_risk_factors)], ["IMDC risk", risk(dv.imdc_risk, dv.imdc_risk_factors)],
    ["branch", pw.branch || "unknown"], ["first line", pw.first_line], ["second line", pw.second_line], ["third line", pw.third_line]]
    .filter(([, v]) => v).map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")
    + (answer.needed_inputs.length ? `<dt>needed inputs</dt><dd>${answer.needed_inputs.join(", ")}</dd>` : "");
  $("changes").innerHTML = answer.what_would_change.length
    ? `<table><tr><th>input</th><th>low</th><th>high</th></tr>${answer.what_would_change.map((c) =>
      `<tr><td>${c.input}</td><td>${c.low_value} → ${c.low_recommendation}</td><td>${c.high_value} → ${c.high_recommendation}</td></tr>`).join("")}</table>`
    : "<p>Every input is known.</p>";
  const p = answer.provenance || {};
  const th = p.policy || {};
  $("provenance").textContent = `model ${p.model_name} version ${p.model_version} (@${p.model_alias}), run ${p.run_id}, training data ${p.training_data_hash}, rules ${p.rules_version}; policy thresholds of this version: minimum gain in P(durable CR) ${th.min_durable_gain}, maximum P(severe cardiac toxicity) ${th.max_p_toxicity}`;
  $("answer-scope").textContent = answer.scope;
  drawCurves(curves);
}

function drawCurves(c) {
  const svg = $("survival-chart");
  const W = 520, H = 300, L = 44, R = 12, T = 12, B = 34;
  const maxM = c.months[c.months.length - 1];
  const x = (m) => L + (m / maxM) * (W - L - R), y = (s) => T + (1 - s) * (H - T - B);
  let out = "";
  for (let s = 0; s <= 1.0001; s += 0.25) out += `<line class="grid" x1="${L}" x2="${W - R}" y1="${y(s)}" y2="${y(s)}"/><text x="${L - 6}" y="${y(s) + 4}" text-anchor="end">${Math.round(s * 100)}%</text>`;
  for (let m = 0; m <= maxM; m += 12) out += `<text x="${x(m)}" y="${H - B + 16}" text-anchor="middle">${m}</text>`;
  out += `<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/><line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>`;
  out += `<text x="${(W + L) / 2}" y="${H - 4}" text-anchor="middle">months</text>`;
  const series = [["il2_os", "HD IL-2: overall survival", "var(--il2)", ""], ["il2_pfs", "HD IL-2: progression-free", "var(--il2)", "6 4"],
    ["tki_os", "TKI: overall survival", "var(--tki)", ""], ["tki_pfs", "TKI: progression-free", "var(--tki)", "6 4"]];
  for (const [key, , color] of series) {  // the 95 % bands first, under the curves
    const upper = c.months.map((m, i) => `${i ? "L" : "M"}${x(m).toFixed(1)},${y(c[`${key}_hi`][i]).toFixed(1)}`).join("");
    const lower = c.months.map((m, i) => `L${x(m).toFixed(1)},${y(c[`${key}_lo`][i]).toFixed(1)}`).reverse().join("");
    out += `<path class="band" data-series="${key}" d="${upper}${lower}Z" fill="${color}" fill-opacity="0.12" stroke="none"/>`;
  }
  for (const [key, , color, dash] of series) {
    const d = c.months.map((m, i) => `${i ? "L" : "M"}${x(m).toFixed(1)},${y(c[key][i]).toFixed(1)}`).join("");
    out += `<path class="curve" data-series="${key}" d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/>`;
  }
  svg.innerHTML = out;
  $("legend").innerHTML = series.map(([, label, color, dash]) =>
    `<span><svg width="28" height="8" style="border:0;width:28px"><line x1="0" x2="28" y1="4" y2="4" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/></svg> ${label}</span>`).join("")
    + `<span class="small">shaded: 95 % bands (model outputs on synthetic data)</span>`;
}

async function submitPatient(event) {
  event.preventDefault();
  showErrors(null);
  const patient = readPatient();
  $("submit").disabled = true;
  try {
    const [answer, curves] = await Promise.all([api("/recommend", patient), api("/survival", patient)]);
    render(answer, curves);
    $("result").scrollIntoView({ behavior: "smooth" });
  } catch (e) {
    if (e.problem) showErrors(e.problem); else $("form-errors").textContent = e.message;
  } finally { $("submit").disabled = !token(); }
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  loadForm();
});
$("token-forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); $("token-status").textContent = "token forgotten"; $("submit").disabled = true; });
$("example").addEventListener("click", fillExample);
$("patient-form").addEventListener("submit", submitPatient);
loadForm();
