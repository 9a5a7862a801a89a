"""Judging: judges and competitions (base, checker, model and panel judges, compete), and the
Bradley–Terry ratings and their storage (ratings, store) that judged results feed."""
