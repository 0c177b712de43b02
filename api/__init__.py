"""HTTP API: thin routes that validate, call a hub service and shape the answer."""
