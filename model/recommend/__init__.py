"""From estimates to a recommendation: the policy, one batch's assessment, the answer a
tumour board reads (its shape defined once), the recommender and its MLflow pyfunc."""
