// Swagger UI from the bundled package; a separate file because the pages allow no inline script.
window.addEventListener("load", () => {
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, displayOperationId: true });
});
