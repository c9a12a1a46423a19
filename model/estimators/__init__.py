"""The estimators: response, complete-response, cure, survival and toxicity models of
each strategy, their parameter draws, imputation of unknown inputs and pooling."""
