"""The Pulumi program: everything is decided in infra/; this only runs it."""

from infra.plan import pulumi_program

pulumi_program()
