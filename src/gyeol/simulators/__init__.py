"""PGs that run inside Gyeol for tests and demos: applications that play a PG, not connectors. Gyeol reaches each
through its connector, as it reaches a real PG."""
