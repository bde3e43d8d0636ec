"""Admin tools: validate the policy config, provision users, install the rules."""
