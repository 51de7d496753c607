"""CityOps benchmarks: `python -m bench` prints a table of figures."""
