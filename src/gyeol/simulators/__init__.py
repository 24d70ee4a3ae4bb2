"""PGs that run inside Gyeol for tests and demos: applications that play a PG, not connectors to one. Gyeol reaches
each through its connector, as it reaches a real PG. A simulator imports no face; the page parts its windows share
with Gyeol's checkout are in `gyeol.web`."""
