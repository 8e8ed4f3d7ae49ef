"""Data access the routes share: the queries behind more than one route, kept out of the
route modules (routes never import each other)."""
