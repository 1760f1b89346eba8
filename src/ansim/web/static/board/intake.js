// Board detail section of the intake: the exchange documents (PIDF-LO location, NENA EIDO case).
export const intakeSection = {
  id: "intake",
  render(container, detail, ctx) {
    const incident = detail.incident;
    const links = document.createElement("p");
    for (const [label, path] of [["PIDF-LO", "pidf-lo"], ["EIDO", "eido"]]) {
      if (path === "pidf-lo" && !incident.location) continue;
      const link = document.createElement("a");
      link.href = `/api/v1/incidents/${encodeURIComponent(incident.id)}/${path}`;
      link.textContent = `${ctx.t("내보내기", "Export")} ${label}`;
      link.target = "_blank";
      link.rel = "noopener";
      links.append(link, " ");
    }
    container.replaceChildren(links);
  },
};
