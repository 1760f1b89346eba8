// Demo phone: polls the codes sent to the number typed in (demo mode only).
import { langToggle, t, translatePage } from "/static/common/i18n.js";
import { applyTheme } from "/static/common/ui.js";

applyTheme();
let timer = null;

async function show(number) {
  const answer = await fetch(`/api/v1/demo/phone/messages?number=${encodeURIComponent(number)}`);
  const body = await answer.json();
  const result = document.getElementById("result");
  if (!answer.ok) {
    result.textContent = typeof body.detail === "string" ? body.detail : answer.statusText;
    result.className = "error";
    return;
  }
  result.className = "";
  result.textContent = t(`${body.number}: 문자 ${body.messages.length}개`, `${body.number}: ${body.messages.length} message(s)`);
  const items = body.messages.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  });
  document.getElementById("messages").replaceChildren(...items);
}

document.getElementById("phone").addEventListener("submit", (event) => {
  event.preventDefault();
  const number = new FormData(event.target).get("number");
  clearInterval(timer);
  show(number);
  timer = setInterval(() => show(number), 2000);
});

translatePage();
langToggle(document.getElementById("lang"));
