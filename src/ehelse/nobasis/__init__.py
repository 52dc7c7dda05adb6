"""Norway: identifiers and check digits (identifiers/, naming.py), the no-basis profiles,
Norwegian code systems (terminology/) and the synthetic population (seed/).

Kept light on purpose: import the submodule you need.
"""
