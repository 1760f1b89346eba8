// Staff administration page: every button is one admin API call; the server audits each change.
import { api } from "/static/common/api.js";
import { langToggle, t, translatePage } from "/static/common/i18n.js";
import { label } from "/static/common/labels.js";
import { applyTheme } from "/static/common/ui.js";

applyTheme();
const base = "/api/v1/admin/staff";
let people = [];

function show(text, ok = true) {
  const result = document.getElementById("result");
  result.textContent = text;
  result.className = ok ? "" : "error";
}

const districtList = (text) => text.split(/[,，]/).map((d) => d.trim()).filter(Boolean);

function button(text, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", async () => {
    try { show(await action()); await load(); } catch (error) { show(error.message, false); }
  });
  return b;
}

async function load() {
  people = await api(base);
  render();
}

function render() {
  const rows = people.map((s) => {
    const row = document.createElement("tr");
    row.dataset.username = s.username;
    const state = s.disabled ? t("사용 중지", "disabled") : s.totp_enrolled ? "TOTP" : t("TOTP 미등록", "no TOTP yet");
    for (const value of [s.username, label("Role", s.role), s.districts.join(", "), state]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    // A user name is typed data, not a word of the page (it may be "admin").
    row.firstChild.dataset.raw = "";
    const actions = document.createElement("td");
    actions.append(
      button(t("관할 변경", "Districts"), async () => {
        const typed = prompt(t("관할 구 (쉼표로 구분)", "Districts (comma separated)"), s.districts.join(", "));
        if (typed === null) return "";
        await api(`${base}/${encodeURIComponent(s.username)}`, { method: "PATCH", body: { districts: districtList(typed) } });
        return t("관할을 바꿨습니다", "districts changed");
      }),
      button(s.disabled ? t("사용", "Enable") : t("사용 중지", "Disable"), async () => {
        await api(`${base}/${encodeURIComponent(s.username)}/disabled`, { method: "PUT", body: { disabled: !s.disabled } });
        return s.disabled ? t("다시 사용합니다", "enabled") : t("사용을 중지했습니다", "disabled");
      }),
      button(t("OTP 초기화", "Reset TOTP"), async () => {
        await api(`${base}/${encodeURIComponent(s.username)}/totp-reset`, { method: "POST" });
        return t("다음 로그인 때 OTP를 다시 등록합니다", "TOTP reset: enrolled again at the next login");
      }),
      // Shown once, handed over in person: the code lets them enrol an authenticator (no trust on first use).
      button(t("등록 코드 발급", "Issue enrolment code"), async () => {
        const issued = await api(`${base}/${encodeURIComponent(s.username)}/totp-enrolment-code`, { method: "POST" });
        const hours = Math.round(issued.valid_for_s / 3600);
        return t(
          `${issued.username}의 일회용 등록 코드: ${issued.enrolment_code} (${hours}시간 유효, 직접 전달하세요)`,
          `one-time enrolment code for ${issued.username}: ${issued.enrolment_code} (valid ${hours} h; hand it over in person)`,
        );
      }),
      button(t("세션 종료", "Revoke sessions"), async () => {
        const r = await api(`${base}/${encodeURIComponent(s.username)}/sessions/revoke`, { method: "POST" });
        return t(`세션 ${r.sessions_revoked}개 종료`, `${r.sessions_revoked} session(s) revoked`);
      }),
    );
    row.append(actions);
    return row;
  });
  document.getElementById("staff").replaceChildren(...rows);
}

translatePage();
langToggle(document.getElementById("lang"), render);

document.getElementById("add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const added = await api(base, {
      method: "POST",
      body: {
        username: form.get("username"),
        display_name: form.get("display_name"),
        role: form.get("role"),
        districts: districtList(form.get("districts") || ""),
        password: form.get("password"),
      },
    });
    event.target.reset();
    show(t(`${added.username} 계정을 추가했습니다`, `added ${added.username}`));
    await load();
  } catch (error) {
    show(error.message, false);
  }
});

document.getElementById("fleet").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const file = form.get("file");
  const csrf = (document.cookie.match(/(?:^|; )ansim_csrf=([^;]+)/) || [])[1] || "";
  try {
    const answer = await fetch(`/api/v1/admin/fleet/${form.get("kind")}/import`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/csv", "X-CSRF-Token": decodeURIComponent(csrf), "X-File-Name": encodeURIComponent(file.name) },
      body: await file.arrayBuffer(),
    });
    const report = await answer.json();
    if (!answer.ok) throw new Error(typeof report.detail === "string" ? report.detail : answer.statusText);
    show(t(
      `${report.read}행: 추가 ${report.added}, 변경 ${report.updated}, 그대로 ${report.unchanged}, 거부 ${report.rejected.length}`,
      `${report.read} rows: ${report.added} added, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected.length} rejected`,
    ));
    const items = report.rejected.map((r) => {
      const item = document.createElement("li");
      item.textContent = `${t("줄", "line")} ${r.line}: ${r.reason}`;
      return item;
    });
    document.getElementById("rejected").replaceChildren(...items);
  } catch (error) {
    show(error.message, false);
  }
});

load().catch((error) => show(error.message, false));
