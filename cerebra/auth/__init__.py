"""Who is calling and what they may do: principals, roles and scopes, tenants, users,
passwords, API keys, JWTs, wallet sign-in, rate limits and budgets.

Nothing here is imported by `import cerebra`; the server and the CLI import what they use.
"""
