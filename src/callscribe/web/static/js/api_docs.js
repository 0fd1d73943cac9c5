/* Starts the vendored Swagger UI (/api/docs) or ReDoc (/api/redoc) on the page's
   OpenAPI document; a static file because the CSP allows no inline script. */
(function () {
  "use strict";
  var swagger = document.getElementById("swagger-ui");
  var redoc = document.getElementById("redoc");
  if (swagger && window.SwaggerUIBundle) {
    window.ui = window.SwaggerUIBundle({
      url: swagger.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
    });
  } else if (redoc && window.Redoc) {
    window.Redoc.init(redoc.getAttribute("data-openapi-url"), { nonce: redoc.getAttribute("data-style-nonce") || undefined }, redoc);
  }
})();
