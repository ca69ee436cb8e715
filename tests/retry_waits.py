"""How much of each wait between attempts the tests sleep.

A module of its own, with a name no other file under tests/ has: the test folders have no
__init__.py, so ``from conftest import ...`` finds whichever conftest.py pytest loaded first
(tests/system/conftest.py when tests/system is collected before tests/reliability).
"""

from __future__ import annotations

#: Tests wait this share of every wait between attempts that the retry policy computes.
RETRY_WAIT_SCALE = 0.01
