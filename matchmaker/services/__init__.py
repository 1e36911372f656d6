"""Plain typed service functions: session first, own their commit, never read `request`."""
