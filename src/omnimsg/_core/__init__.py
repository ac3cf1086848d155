"""The sans-I/O engine: operations are generators of effects; drivers perform them."""
