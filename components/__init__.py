"""Reusable phasescale ComponentResources, one package per part, and the helpers they share.

Each package (``cluster``, ``service``, ``postgres``, ``redis``, ``milvus``, ``gpu``, ``monitoring``,
``cdn``) holds its ComponentResources beside pure planning modules (``plan.py`` and friends: plain
functions with no Pulumi calls). The modules at this level are shared by every part. Nothing here
imports ``infra``.
"""
