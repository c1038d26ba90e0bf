"""SPEC §2 and the package checks of §3.1: find submission packages under landing, read
their manifest and data files into raw tables, map headers, and parse cell values."""
