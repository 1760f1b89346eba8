// Board detail section: what the CCTV control center reported (sightings, clip requests, aimed cameras).
const KINDS = {
  person_seen: ["CCTV 대상자 발견", "seen on CCTV"],
  clip_requested: ["영상 보존 요청", "clip requested"],
  camera_aimed: ["카메라 방향 전환", "camera aimed"],
};

export const cctvSection = {
  id: "cctv",
  render(container, detail, ctx) {
    const entries = detail.timeline.filter((entry) => entry.kind in KINDS);
    const title = document.createElement("h3");
    title.textContent = ctx.t("CCTV 관제", "CCTV control center");
    const list = document.createElement("ul");
    for (const entry of entries.slice().reverse()) {
      const item = document.createElement("li");
      item.className = `cctv-${entry.kind}`;
      const failed = entry.kind === "camera_aimed" && entry.data.status === "unreachable";
      const word = failed ? ctx.t("카메라 응답 없음", "camera unreachable") : ctx.t(...KINDS[entry.kind]);
      const note = entry.data.note ? ` — ${entry.data.note}` : "";
      item.textContent = `${new Date(entry.at).toLocaleTimeString(ctx.lang)} ${word}: ${entry.data.camera_label || ""}${note} (${entry.actor})`;
      list.append(item);
    }
    if (!entries.length) {
      const none = document.createElement("p");
      none.className = "muted";
      none.textContent = ctx.t("아직 CCTV 보고가 없습니다", "no CCTV report yet");
      container.replaceChildren(title, none);
      return;
    }
    container.replaceChildren(title, list);
  },
};
