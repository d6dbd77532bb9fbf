"""End-to-end tests: the real command line against the simulated cluster."""
