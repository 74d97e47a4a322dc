"""Per-channel assistants: what an admin set for a channel with `/claude config` (persona, model, tools,
data sources, skills, budgets, mentions), and how it shapes that channel's next turns."""
