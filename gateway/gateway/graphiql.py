"""The GraphiQL page served at GET /graphql to browsers in development (GATEWAY_GRAPHIQL).

The page is static: it loads GraphiQL in the developer's browser and talks back to this
same endpoint, sending the preflight-forcing header the CSRF check asks for.
"""

from __future__ import annotations

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>RealtyForYou GraphQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
  <style>body { margin: 0; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
  <script>
    const endpoint = new URL(window.location.pathname, window.location.href).href;
    const fetcher = GraphiQL.createFetcher({
      url: endpoint,
      subscriptionUrl: endpoint.replace(/^http/, "ws"),
      headers: { "apollo-require-preflight": "true" },
    });
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, { fetcher, shouldPersistHeaders: true }),
    );
  </script>
</body>
</html>
"""


def graphiql_page() -> bytes:
    return _PAGE.encode()
