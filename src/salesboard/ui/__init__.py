"""Streamlit pages. `app.py` is the entry script; views/ holds one module per page."""
