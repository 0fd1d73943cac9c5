"""Who is asking and what they may do: principals, roles and permissions, API keys, OAuth
apps and tokens, browser sessions, CSRF, and the typed FastAPI dependencies.

Infrastructure below the domains: nothing here imports a domain. What auth needs to know
about a user (role, active flag, company, linked agent) comes from a `UserLoader` that
the app shell hands over at startup (`auth.deps.install`)."""
