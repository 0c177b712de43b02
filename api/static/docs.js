// Swagger UI for /openapi.json, started from a file: the pages' policy allows no inline
// script (api/security_headers.py). Its assets come from the hub itself, never a CDN.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // The default would ask a public validator about the schema: a request to another site.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
