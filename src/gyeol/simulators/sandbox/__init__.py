"""The sandbox PG: test cards, 3-D Secure, virtual accounts and fault switches, with books of its own."""
