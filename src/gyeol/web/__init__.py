"""Page parts shared by Gyeol's hosted checkout and the simulators' payment windows: the look, the texts, the card
form, CSRF and the page headers, the static files. Pure rendering: nothing here reads a database or imports a face,
a connector or the core's services, so a window can be drawn by anything that imports it."""
