"""Reusable phasescale ComponentResources and their pure planning helpers.

Modules named ``*_plan.py`` (and ``problems.py``) hold pure functions with no Pulumi calls;
the other modules hold the ComponentResources that turn those plans into resources.
"""
