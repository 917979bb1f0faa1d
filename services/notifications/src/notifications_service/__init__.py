"""E-mails telling the citizen where their dossier stands."""
