"""Run the demo OpenID Connect provider."""
from ants_identity_provider.app import main

if __name__ == "__main__":
    main()
