"""A stand-in for django-sshkey (not packaged in Debian): its UserKey model,
table and columns as that app defines them, for the tests of
`django-authctl authorized-keys`. Only the model: no views, no key parsing
(the tests store what a careless or hostile site might)."""
