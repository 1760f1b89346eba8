import { api } from "./api.js";
import { langToggle, t, translatePage } from "./i18n.js";

translatePage();
langToggle(document.getElementById("lang"));

document.getElementById("login-form").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const form = new FormData(submitted.target);
  const error = document.getElementById("login-error");
  error.textContent = "";
  try {
    const session = await api("/api/v1/session", {
      method: "POST",
      body: { username: form.get("username"), password: form.get("password") },
      redirectOn401: false,
    });
    const next = new URLSearchParams(location.search).get("next");
    const home = session.user.role === "officer" ? "/mdt" : session.user.role === "cctv_operator" ? "/cctv" : "/board";
    location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : home);
  } catch (failure) {
    error.textContent = failure.status === 401
      ? t("아이디 또는 비밀번호가 틀렸습니다.", "Wrong user name or password.")
      : t("로그인할 수 없습니다: ", "Cannot log in: ") + failure.message;
  }
});
