// Starts Swagger UI on the document served by this binary.
// validatorUrl: null keeps the page from asking an outside validator for a
// badge; BaseLayout has no top bar, so the page cannot be pointed elsewhere.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
