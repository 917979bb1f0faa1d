"""Local launcher of the whole system (make run, end-to-end tests, benchmark)."""
