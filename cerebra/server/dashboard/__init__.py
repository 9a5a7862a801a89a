"""The web dashboard's static files (HTML, CSS, ES modules): served by
cerebra.server.routes.dashboard at /dashboard, no build step and nothing from a CDN."""
