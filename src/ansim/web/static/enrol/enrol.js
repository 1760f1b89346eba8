// Enrolment admin page: plain ES module; uses the staff session cookie and its CSRF token.
import { langToggle, t, translatePage } from "/static/common/i18n.js";
import { applyTheme } from "/static/common/ui.js";

// The theme this browser chose, else the system's (common/ui.js).
applyTheme();

function csrf() {
  const match = document.cookie.match(/(?:^|; )ansim_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, options = {}) {
  const headers = { "x-csrf-token": csrf(), ...(options.headers || {}) };
  const answer = await fetch(path, { credentials: "same-origin", ...options, headers });
  if (answer.status === 401) { location.href = "/login?next=/admin/enrol"; return null; }
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.detail || answer.statusText);
  return body;
}

function show(text, ok = true) {
  const result = document.getElementById("result");
  result.textContent = text;
  result.className = ok ? "" : "error";
}

async function loadPeople() {
  const people = await api("/api/v1/admin/people");
  if (!people) return;
  const rows = people.map((p) => {
    const row = document.createElement("tr");
    for (const value of [p.name, p.school, (p.consent_at || "").slice(0, 10), p.id]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    return row;
  });
  document.getElementById("people").replaceChildren(...rows);
}

translatePage();
langToggle(document.getElementById("lang"));

document.getElementById("person").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {
    name: form.get("name"),
    birth_year: Number(form.get("birth_year")),
    school: form.get("school"),
    consent_at: `${form.get("consent")}T00:00:00+09:00`,
    guardians: form.get("guardian_name")
      ? [{
        name: form.get("guardian_name"),
        phone: form.get("guardian_phone"),
        relation: form.get("guardian_relation") || "guardian",
        language: form.get("guardian_language") || null,
      }]
      : [],
    one_touch_numbers: form.get("number") ? [form.get("number")] : [],
  };
  try {
    const made = await api("/api/v1/admin/people", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    show(t(`등록했습니다: ${made.person.id}`, `Enrolled: ${made.person.id}`));
    event.target.reset();
    loadPeople();
  } catch (error) { show(error.message, false); }
});

document.getElementById("import").addEventListener("click", async () => {
  const file = document.getElementById("csv").files[0];
  if (!file) return;
  try {
    const done = await api("/api/v1/admin/people/import", { method: "POST", headers: { "content-type": "text/csv" }, body: await file.text() });
    show(t(`${done.enrolled}명 등록`, `${done.enrolled} enrolled`));
    loadPeople();
  } catch (error) { show(error.message, false); }
});

document.getElementById("terminal").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const made = await api("/api/v1/admin/terminals", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ terminal_id: form.get("terminal_id"), subscriber_id: form.get("subscriber_id"), reporting_interval_s: Number(form.get("interval")) }),
    });
    show(t(`단말기 비밀키 (한 번만 표시): ${made.secret}`, `Terminal secret (shown once): ${made.secret}`));
  } catch (error) { show(error.message, false); }
});

loadPeople();
