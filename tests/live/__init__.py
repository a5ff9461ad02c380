"""Live tests: root, real kernel, each test alone in its own network and mount namespace."""
