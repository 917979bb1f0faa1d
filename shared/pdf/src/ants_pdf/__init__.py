"""Official PDF layout shared by the services that print documents."""
