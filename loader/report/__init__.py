"""Findings people can look at: `loader report` (one self-contained HTML file) and the console of
`loader serve`. data.py reads (with the SQL files here), charts.py draws, page.py renders."""
