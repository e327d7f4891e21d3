"""What the stack needs but must not manage: the CI roles and the secondary preview and deploy roles."""
