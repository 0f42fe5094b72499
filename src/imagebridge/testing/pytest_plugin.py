"""pytest plugin of the conformance kit (registered through ``pytest11``; inert unless asked)."""
