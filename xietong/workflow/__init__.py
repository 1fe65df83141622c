"""Workflow: the BPMN 2.0 / DMN engine (SpiffWorkflow) that drives approvals, and its task inbox."""
