"""Analytics: metrics (built-in and custom, in a small expression language), queries
over engagements grouped by attributes, visualizations, dashboards, saved views and
selections."""
