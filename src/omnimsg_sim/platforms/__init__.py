"""One module per platform: routes -> world -> native responses."""
