"""Workflow control-flow node types: start, end, answer, if-else, template-transform, variable-aggregator, assigner, list-operator, iteration, loop."""
