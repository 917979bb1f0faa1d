"""A demo OpenID Connect provider."""
