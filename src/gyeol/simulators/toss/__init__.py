"""The Toss Payments v1 simulator (`simulator.py`) and its payment window (`window.py`)."""
