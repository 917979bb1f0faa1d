"""The CERT domain: reviews of police theft declarations and what the agent knows of a dossier."""
