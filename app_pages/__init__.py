"""The app's pages, one thin file per lab plus Home and Runs: widgets in, figures out, in the same rhythm on every
lab page. app.py's st.navigation runs them by path (each lab's from the lab registry).

A page may import ui/ and, for a name, a type or a parser, engine.* (the lab registry, `Run`, a lab's config or
torch-free modules); the engine work (store reads, sweeps, figures) is asked of ui/. Nothing imports a page.
"""
