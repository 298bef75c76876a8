"""Model families, one recipe each (see recipes/base.py), in one table (recipes/registry.py)."""
