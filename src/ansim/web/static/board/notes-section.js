// Board section "notes": the dispatcher's notes to the units on the incident, and a form to add one
// (POST /api/v1/incidents/{id}/notes; the crews' terminals show them).
export const notesSection = {
  id: "notes",
  render(container, detail, ctx) {
    const { t } = ctx;
    const title = document.createElement("h3");
    title.id = `notes-title-${detail.incident.id}`;
    title.textContent = t("출동 부대에 메모", "Notes to the units");
    const list = document.createElement("ul");
    list.className = "notes";
    for (const entry of detail.timeline.filter((e) => e.kind === "note_added")) {
      const item = document.createElement("li");
      item.append(`${new Date(entry.at).toLocaleTimeString(ctx.lang)} `);
      const words = document.createElement("span");
      words.dataset.raw = "";  // the dispatcher's own words
      words.textContent = `${entry.data.text} — ${entry.actor}`;
      item.append(words);
      list.append(item);
    }
    const form = document.createElement("form");
    form.className = "note-form";
    const field = document.createElement("textarea");
    field.name = "text";
    field.maxLength = 500;
    field.rows = 2;
    field.required = true;
    field.setAttribute("aria-labelledby", title.id);
    const send = document.createElement("button");
    send.type = "submit";
    send.textContent = t("메모 보내기", "Send note");
    form.append(field, send);
    form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      try {
        await ctx.api(`/api/v1/incidents/${detail.incident.id}/notes`, { method: "POST", body: { text: field.value } });
        field.value = "";
        ctx.refresh();
      } catch (failure) {
        send.setCustomValidity?.("");
        field.setCustomValidity(failure.message);
        field.reportValidity();
        field.setCustomValidity("");
      }
    });
    container.replaceChildren(title, list, form);
  },
};
