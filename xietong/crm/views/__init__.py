"""The CRM's screens, one module per part: `pipeline` (leads, opportunities, kanban, forecast),
`marketing` (segments, campaigns, e-mail campaigns) and `service` (tickets, knowledge base)."""
