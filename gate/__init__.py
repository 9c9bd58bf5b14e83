"""Offline gate: render both stacks under Pulumi's mock runtime and report on them."""
