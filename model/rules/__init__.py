"""The clinical rules of the brief: three-valued logic, prognostic and histological
scores, IL-2 eligibility, the Manchester pathway and the clinic's work-list."""
