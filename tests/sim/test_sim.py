#!/usr/bin/env python3
"""test_sim.py - self-check of the simulated Vinted (vinted_sim.py): runs test_sim_*.py.

Starts the simulator as real processes on free ports and asserts what the
pipeline relies on: session cookies and 401s, both API generations' item
shapes and URL forms, the 96/960 caps, bumps, determinism, every fault
kind, bad items; for the tracking flow the item life cycle (evolve) as seen
by search, seller lists, profiles, item pages and the truth, and the user
rate limit; for the images flow the CDN bytes against the truth, signatures
and every CDN fault. Run: python3 tests/sim/test_sim.py  (stdlib only, < 30 s)
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_sim_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
