"""Packaged tier schemes (TOML). Load one with :func:`clv.tiers.load_scheme`."""
